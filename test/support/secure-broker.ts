// A SASL_SSL broker for test/integration/secure.test.ts: deploy/kafka's own SECURE=1 mode (a CA and
// broker certificate made on the fly, SCRAM-SHA-512 and PLAIN users made at format time), on its
// own port so the plaintext broker the rest of the suite uses is untouched.
//   KAFKA_SECURE_PORT set and a SECURE=1 broker from `make kafka-up SECURE=1 KAFKA_PORT=...` runs
//   there: use it and leave it running. Otherwise start one on a free port and stop it afterwards.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Kafka, logLevel, type KafkaConfig } from 'kafkajs';
import { freePort } from './scorer.js';

const run = promisify(execFile);
const SCRIPTS = fileURLToPath(new URL('../../deploy/kafka/', import.meta.url));

export interface SecureBroker {
  port: number;
  /** What with-broker.sh would export for this broker (kafka_client_env): the scorer's variables. */
  env: Record<string, string>;
  /** The client user's password, read from its file: for the tests' own clients and for grepping logs. */
  password: string;
  caPem: string;
  /** A kafkajs client authenticated as the client user (SCRAM-SHA-512 over TLS). */
  kafka(clientId: string, overrides?: Partial<KafkaConfig>): Kafka;
  stop(): Promise<void>;
}

async function clientEnv(port: number): Promise<Record<string, string>> {
  // The scripts' own answer, so the test proves what with-broker.sh hands to clients works.
  const { stdout } = await run('bash', ['-c', `. "${SCRIPTS}lib.sh" && kafka_read_state && kafka_client_env`], { env: { ...process.env, KAFKA_PORT: String(port) } });
  return Object.fromEntries(
    stdout
      .trim()
      .split('\n')
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

export async function startSecureBroker(): Promise<SecureBroker> {
  const fixed = process.env.KAFKA_SECURE_PORT;
  const port = fixed ? Number(fixed) : await freePort();
  const scriptEnv = { ...process.env, KAFKA_PORT: String(port), SECURE: '1' };
  // kafka-up is idempotent: with a SECURE=1 broker already on a fixed port it says so and returns.
  const { stdout } = await run('bash', [`${SCRIPTS}kafka-up.sh`], { env: scriptEnv, timeout: 240_000 });
  const startedHere = !stdout.includes('already running');
  console.log(`[secure] ${stdout.trim()}`);
  const env = await clientEnv(port);
  if (env.KAFKA_SSL !== 'true' || !env.KAFKA_SASL_PASSWORD_FILE) {
    throw new Error(`the broker on port ${port} is not a SECURE=1 broker (client env: ${Object.keys(env).join(', ')})`);
  }
  const password = readFileSync(env.KAFKA_SASL_PASSWORD_FILE, 'utf8').trim();
  const caPem = readFileSync(env.KAFKA_SSL_CA_FILE!, 'utf8');
  return {
    port,
    env,
    password,
    caPem,
    kafka: (clientId, overrides = {}) =>
      new Kafka({
        clientId,
        brokers: [env.KAFKA_BROKERS!],
        ssl: { ca: [caPem] },
        sasl: { mechanism: 'scram-sha-512', username: env.KAFKA_SASL_USERNAME!, password },
        logLevel: logLevel.NOTHING,
        connectionTimeout: 5_000,
        ...overrides,
      }),
    async stop() {
      if (startedHere) await run('bash', [`${SCRIPTS}kafka-down.sh`], { env: scriptEnv, timeout: 120_000 });
    },
  };
}
