// Where a broker that deploy/kafka runs on this machine keeps its log dir, for tests that look at or
// change the partition files themselves (DumpLogSegments, corruptBatchOnDisk). A single broker
// (kafka-up.sh: .cache/kafka/run/<port>/broker.env) and each node of a cluster (cluster.sh:
// .cache/kafka/run/cluster-<port>/cluster.env) are found by their client port. When the suite's
// broker is not one of those (testcontainers, a remote KAFKA_BROKERS), startLocalBroker starts one.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort } from './net.js';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../..', import.meta.url));

function runDir(): string {
  return join(process.env.KAFKA_CACHE ?? join(REPO, '.cache/kafka'), 'run');
}

function readEnv(file: string): Record<string, string> {
  return Object.fromEntries(
    readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1).replace(/^'|'$/g, '')]),
  );
}

/** The log dir of the deploy/kafka broker (or cluster node) listening on `broker` (host:port), or undefined when it is not one. */
export function localLogDir(broker: string): string | undefined {
  const host = broker.slice(0, broker.lastIndexOf(':'));
  const port = Number(broker.slice(broker.lastIndexOf(':') + 1));
  if (!['127.0.0.1', 'localhost'].includes(host) || !Number.isInteger(port)) return undefined;
  const single = join(runDir(), String(port), 'broker.env');
  if (existsSync(single)) {
    const dir = readEnv(single).BROKER_DATA_DIR;
    if (dir && existsSync(dir)) return dir;
  }
  if (!existsSync(runDir())) return undefined;
  for (const entry of readdirSync(runDir())) {
    const m = /^cluster-(\d+)$/.exec(entry);
    const file = join(runDir(), entry, 'cluster.env');
    if (!m || !existsSync(file)) continue;
    const base = Number(m[1]);
    const state = readEnv(file);
    const nodes = Number(state.CLUSTER_NODES);
    if (port >= base && port < base + nodes && state.CLUSTER_DATA_DIR) return join(state.CLUSTER_DATA_DIR, `node-${port - base + 1}`);
  }
  return undefined;
}

export interface LocalBroker {
  brokers: string[];
  /** The log dir of the broker at host:port (a single broker: its only one). */
  logDir(broker: string): string;
  stop(): Promise<void>;
}

/**
 * The suite's brokers when deploy/kafka runs them here (stop() leaves them running); otherwise a
 * single broker started with kafka-up.sh on `port` (default KAFKA_INTEROP_PORT, else a free port)
 * and stopped by stop().
 */
export async function localBroker(suiteBrokers: string[], port = process.env.KAFKA_INTEROP_PORT ? Number(process.env.KAFKA_INTEROP_PORT) : undefined): Promise<LocalBroker> {
  const need = (b: string) => {
    const dir = localLogDir(b);
    if (!dir) throw new Error(`${b} is not a broker deploy/kafka runs on this machine: its log dir is unknown`);
    return dir;
  };
  if (suiteBrokers.every((b) => localLogDir(b) !== undefined)) return { brokers: suiteBrokers, logDir: need, stop: async () => undefined };
  const p = port ?? (await freePort());
  const env = { ...process.env, KAFKA_PORT: String(p), KAFKA_NODES: '1', SECURE: '0' };
  const { stdout } = await run('bash', [join(REPO, 'deploy/kafka/kafka-up.sh')], { env, timeout: 240_000 });
  console.log(`[local-broker] ${stdout.trim().split('\n').pop()}`);
  const startedHere = !stdout.includes('already running');
  return {
    brokers: [`127.0.0.1:${p}`],
    logDir: need,
    stop: async () => {
      if (startedHere) await run('bash', [join(REPO, 'deploy/kafka/kafka-down.sh')], { env, timeout: 120_000 });
    },
  };
}
