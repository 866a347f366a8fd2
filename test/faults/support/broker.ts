// Stops and starts the suite's broker for the broker-outage scenario. It must be a broker that
// deploy/kafka started on KAFKA_PORT (make test-faults: with-broker.sh does): the scenario stops it
// with `KAFKA_KEEP_DATA=1 kafka-down.sh` and starts it again on the same data with kafka-up.sh, so
// topics, committed offsets and transaction state survive, as they do when a real broker restarts.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { attachCluster } from '../../support/cluster.js';
import { kafkaBrokers } from '../../support/kafka.js';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../../..', import.meta.url));
const SCRIPTS = join(REPO, 'deploy/kafka');

/** The port of the suite's broker: KAFKA_PORT, else the port of the first KAFKA_BROKERS entry. */
export function brokerPort(): string {
  return process.env.KAFKA_PORT ?? kafkaBrokers()[0]!.split(':').pop()!;
}

function stateFile(): string {
  const cache = process.env.KAFKA_CACHE ?? join(REPO, '.cache/kafka');
  return join(cache, 'run', brokerPort(), 'broker.env');
}

function brokerState(): Record<string, string> {
  const file = stateFile();
  if (!existsSync(file)) {
    throw new Error(
      `the broker-outage scenario stops and restarts the broker, so it needs one that deploy/kafka started on port ${brokerPort()} ` +
        `(no ${file}); run the suite with \`make test-faults\` or \`KAFKA_PORT=${brokerPort()} bash deploy/kafka/with-broker.sh npx vitest run --config test/faults/vitest.config.ts\``,
    );
  }
  return Object.fromEntries(
    readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

/** Throws (with what to do) unless the suite's broker is one that deploy/kafka runs. */
export function assertManagedBroker(): void {
  brokerState();
}

function scriptEnv(state: Record<string, string>): NodeJS.ProcessEnv {
  return { ...process.env, KAFKA_PORT: brokerPort(), KAFKA_VERSION: state.BROKER_VERSION ?? '', SECURE: state.BROKER_SECURE ?? '0' };
}

/** Stops the broker and keeps its data; resolves once the JVM has exited. */
export async function stopBroker(): Promise<string> {
  const state = brokerState();
  const { stdout } = await run('bash', [join(SCRIPTS, 'kafka-down.sh')], { env: { ...scriptEnv(state), KAFKA_KEEP_DATA: '1' } });
  return stdout.trim();
}

/** Starts the broker again on its kept data; resolves once it answers a metadata request. */
export async function startBroker(): Promise<string> {
  const state = brokerState();
  const { stdout } = await run('bash', [join(SCRIPTS, 'kafka-up.sh')], { env: scriptEnv(state), timeout: 180_000 });
  return stdout.trim();
}

// --- a 3-node KRaft cluster (deploy/kafka/cluster.sh); the helpers live in test/support/cluster.ts -----
export { attachCluster, startCluster, stopCluster, KafkaCluster, type ClusterOptions } from '../../support/cluster.js';

/** SIGKILL (default) or SIGTERM node `id` of the suite's cluster (KAFKA_CLUSTER_PORT), keeping its data. */
export async function killNode(id: number, signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): Promise<string> {
  return attachCluster().killNode(id, signal);
}

/** Starts node `id` of the suite's cluster again and waits until it is back in every ISR; resolves with the ms it took. */
export async function restartNode(id: number, opts: { waitForIsr?: boolean; timeoutMs?: number } = {}): Promise<number> {
  return attachCluster().restartNode(id, opts);
}

/** The node id leading `topic`/`partition` in the suite's cluster now. */
export async function leaderOf(topic: string, partition: number): Promise<number> {
  return attachCluster().leaderOf(topic, partition);
}
