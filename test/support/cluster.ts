// A real multi-node KRaft cluster (deploy/kafka/cluster.sh) for scenarios that kill and restart one
// node: start or attach to it, stop one node by id (SIGKILL or SIGTERM) keeping its data, start it
// again and wait until it is back in the ISR of every partition, and find the leader of a partition.
// No vitest import: the cluster benchmark (test/interop/measure-cluster.ts) uses it too.
//
//   const cluster = await startCluster({ port: 28092 });           // 3 nodes on 28092-28094
//   const leader = await cluster.leaderOf(topic, 0);
//   await cluster.killNode(leader);                                  // SIGKILL, data kept
//   await cluster.waitForLeader(topic, 0, { not: leader });         // ~9 s: broker.session.timeout.ms
//   await cluster.restartNode(leader);                               // back, and in every ISR again
//   await stopCluster(cluster);
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Kafka, logLevel, type PartitionMetadata } from 'kafkajs';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const CLUSTER_SH = join(REPO, 'deploy/kafka/cluster.sh');

export interface ClusterOptions {
  /** Client port of node 1; node N listens on port+N-1, its controller on port+nodes+N-1. Default KAFKA_CLUSTER_PORT or KAFKA_PORT. */
  port?: number;
  /** Number of combined broker+controller nodes (default 3). */
  nodes?: number;
  /** Apache Kafka release (default: deploy/kafka's). */
  version?: string;
  /** JVM heap flags per node (default cluster.sh's -Xms64m -Xmx384m). */
  heapOpts?: string;
}

export interface NodeStatus {
  id: number;
  broker: string;
  pid: number | undefined;
  dataDir: string;
}

function defaultPort(): number {
  const raw = process.env.KAFKA_CLUSTER_PORT ?? process.env.KAFKA_PORT;
  if (raw === undefined || !/^\d+$/.test(raw)) throw new Error('no cluster port: pass { port } or set KAFKA_CLUSTER_PORT (with-broker.sh with KAFKA_NODES=3 does)');
  return Number(raw);
}

function cacheDir(): string {
  return process.env.KAFKA_CACHE ?? join(REPO, '.cache/kafka');
}

async function clusterSh(port: number, args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  try {
    const { stdout } = await run('bash', [CLUSTER_SH, ...args], {
      env: { ...process.env, ...env, KAFKA_PORT: String(port) },
      timeout: 240_000,
    });
    return stdout.trim();
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`cluster.sh ${args.join(' ')} (port ${port}) failed: ${(e.stderr ?? '').trim() || e.message}`);
  }
}

export class KafkaCluster {
  readonly brokers: string[];
  private readonly runDir: string;

  constructor(
    /** Client port of node 1. */
    readonly port: number,
    readonly nodes: number,
    /** The folder holding node-<id>/ log dirs. */
    readonly dataDir: string,
  ) {
    this.brokers = this.nodeIds().map((id) => this.brokerOf(id));
    this.runDir = join(cacheDir(), 'run', `cluster-${port}`);
  }

  nodeIds(): number[] {
    return Array.from({ length: this.nodes }, (_, i) => i + 1);
  }

  /** host:port of node `id`. */
  brokerOf(id: number): string {
    this.checkId(id);
    return `127.0.0.1:${this.port + id - 1}`;
  }

  /** The log dir of node `id` (topic-partition folders live here). */
  logDir(id: number): string {
    this.checkId(id);
    return join(this.dataDir, `node-${id}`);
  }

  /** The server.log of node `id`. */
  serverLog(id: number): string {
    return join(this.runDir, `node-${id}`, 'server.log');
  }

  /** The JVM pid of node `id`, or undefined when it is stopped. */
  pid(id: number): number | undefined {
    this.checkId(id);
    const file = join(this.runDir, `node-${id}`, 'kafka.pid');
    if (!existsSync(file)) return undefined;
    const pid = Number(readFileSync(file, 'utf8').trim());
    try {
      process.kill(pid, 0);
      return pid;
    } catch {
      return undefined;
    }
  }

  /** Resident memory of node `id`'s JVM in KiB (VmRSS), or undefined when it is stopped. */
  rssKiB(id: number): number | undefined {
    const pid = this.pid(id);
    if (pid === undefined) return undefined;
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  }

  async status(): Promise<NodeStatus[]> {
    return this.nodeIds().map((id) => ({ id, broker: this.brokerOf(id), pid: this.pid(id), dataDir: this.logDir(id) }));
  }

  /**
   * Stops node `id` and keeps its data: SIGKILL (default; a crash: its partitions get new leaders once
   * the controller fences it, after broker.session.timeout.ms = 9 s) or SIGTERM (a controlled
   * shutdown: leadership moves before it exits). Resolves once the JVM has exited.
   */
  async killNode(id: number, signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): Promise<string> {
    this.checkId(id);
    return clusterSh(this.port, signal === 'SIGKILL' ? ['stop-node', String(id), '--kill'] : ['stop-node', String(id)]);
  }

  /**
   * Starts node `id` again on its kept data. Resolves once it is registered with the controller and,
   * unless `waitForIsr: false`, back in the ISR of every partition it replicates (every topic,
   * __consumer_offsets and __transaction_state included). Returns the ms it took.
   */
  async restartNode(id: number, opts: { waitForIsr?: boolean; timeoutMs?: number } = {}): Promise<number> {
    this.checkId(id);
    const began = Date.now();
    await clusterSh(this.port, ['start-node', String(id)]);
    if (opts.waitForIsr !== false) await this.waitForIsr(id, { timeoutMs: opts.timeoutMs });
    return Date.now() - began;
  }

  /** Partition metadata (leader, replicas, isr) of every topic, internal ones included, as a live node sees it now. */
  async partitions(topics?: string[]): Promise<Array<{ topic: string } & PartitionMetadata>> {
    const admin = this.kafka().admin({ retry: { retries: 2 } });
    await admin.connect();
    try {
      const { topics: found } = await admin.fetchTopicMetadata(topics ? { topics } : undefined);
      return found.flatMap((t) => t.partitions.map((p) => ({ topic: t.name, ...p })));
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  /** The node id leading `topic`/`partition` now (as the metadata of a live node says; -1 when it has none). */
  async leaderOf(topic: string, partition: number): Promise<number> {
    const p = (await this.partitions([topic])).find((x) => x.partitionId === partition);
    if (!p) throw new Error(`${topic} has no partition ${partition}`);
    return p.leader;
  }

  /**
   * Polls until `topic`/`partition` has a leader that is not `not` (and, if given, is `is`);
   * resolves with that leader. After a SIGKILL this takes about broker.session.timeout.ms.
   */
  async waitForLeader(topic: string, partition: number, opts: { not?: number; is?: number; timeoutMs?: number } = {}): Promise<number> {
    const { timeoutMs = 60_000 } = opts;
    const began = Date.now();
    let last = -1;
    while (Date.now() - began < timeoutMs) {
      try {
        last = await this.leaderOf(topic, partition);
        if (last >= 0 && last !== opts.not && (opts.is === undefined || last === opts.is)) return last;
      } catch {
        // a node that just died may still be asked; the next round asks another
      }
      await sleep(200);
    }
    throw new Error(`${topic}-${partition}: leader still ${last} after ${timeoutMs} ms (wanted ${opts.is ?? `any but ${opts.not}`})`);
  }

  /**
   * Resolves once node `id` is in the ISR of every partition it is a replica of (of `topics`, default
   * all topics); returns the ms waited. A restarted node has to catch up first, so this is what makes
   * "the cluster is whole again" true, not the node answering requests.
   */
  async waitForIsr(id: number, opts: { topics?: string[]; timeoutMs?: number } = {}): Promise<number> {
    const { timeoutMs = 120_000 } = opts;
    const began = Date.now();
    let behind: string[] = [];
    while (Date.now() - began < timeoutMs) {
      try {
        const parts = await this.partitions(opts.topics);
        behind = parts.filter((p) => p.replicas.includes(id) && !p.isr.includes(id)).map((p) => `${p.topic}-${p.partitionId}`);
        if (behind.length === 0) return Date.now() - began;
      } catch {
        behind = ['(metadata not answered)'];
      }
      await sleep(250);
    }
    throw new Error(`node ${id} not back in the ISR of ${behind.length} partition(s) after ${timeoutMs} ms: ${behind.slice(0, 5).join(', ')}`);
  }

  private kafka(): Kafka {
    return new Kafka({ clientId: 'cluster-helper', brokers: this.brokers, logLevel: logLevel.NOTHING, connectionTimeout: 1000, requestTimeout: 5000, retry: { retries: 2, initialRetryTime: 100 } });
  }

  private checkId(id: number): void {
    if (!Number.isInteger(id) || id < 1 || id > this.nodes) throw new Error(`node id must be 1..${this.nodes}, got ${id}`);
  }
}

function readState(port: number): Record<string, string> | undefined {
  const file = join(cacheDir(), 'run', `cluster-${port}`, 'cluster.env');
  if (!existsSync(file)) return undefined;
  return Object.fromEntries(
    readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1).replace(/^'|'$/g, '')]),
  );
}

/** The cluster cluster.sh runs on `port` (default KAFKA_CLUSTER_PORT, which with-broker.sh exports with KAFKA_NODES=3). */
export function attachCluster(port = defaultPort()): KafkaCluster {
  const state = readState(port);
  if (!state) {
    throw new Error(
      `no cluster started by deploy/kafka/cluster.sh on port ${port}; start one with startCluster(), or run the suite with \`KAFKA_NODES=3 KAFKA_PORT=${port} bash deploy/kafka/with-broker.sh ...\``,
    );
  }
  return new KafkaCluster(port, Number(state.CLUSTER_NODES), state.CLUSTER_DATA_DIR ?? '');
}

/** Starts a cluster (cluster.sh up; a no-op when it already runs) and resolves once every node is registered. */
export async function startCluster(opts: ClusterOptions = {}): Promise<KafkaCluster> {
  const port = opts.port ?? defaultPort();
  const env: NodeJS.ProcessEnv = { KAFKA_NODES: String(opts.nodes ?? 3) };
  if (opts.version) env.KAFKA_VERSION = opts.version;
  if (opts.heapOpts) env.KAFKA_HEAP_OPTS = opts.heapOpts;
  await clusterSh(port, ['up'], env);
  return attachCluster(port);
}

/** Stops every node (SIGKILL) and deletes the cluster's data; a no-op when none runs. */
export async function stopCluster(cluster: KafkaCluster | number): Promise<void> {
  await clusterSh(typeof cluster === 'number' ? cluster : cluster.port, ['down']);
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
