// vitest globalSetup of the `integration` project: find a real Kafka broker and hand its address to
// the tests (`inject('kafkaBrokers')`, see test/support/kafka.ts).
//   1. KAFKA_BROKERS set (deploy/kafka/with-broker.sh, `make kafka-up`, CI): use it.
//   2. Otherwise, a Docker-compatible container runtime: start Kafka with testcontainers
//      (KAFKA_TEST_IMAGE, default below; Confluent's image, which @testcontainers/kafka drives).
//   3. Neither: fail with one line that says what to do.
import { Kafka, logLevel } from 'kafkajs';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** host:port of the broker(s) the integration suite runs against. */
    kafkaBrokers: string[];
  }
}

/** Confluent Platform 8.1 ships Apache Kafka 4.1, the line deploy/kafka runs by default. */
const DEFAULT_TEST_IMAGE = 'confluentinc/cp-kafka:8.1.0';

const NO_BROKER =
  'No Kafka broker for the integration tests: set KAFKA_BROKERS=host:port, or run `make kafka-up` ' +
  '(then KAFKA_BROKERS=127.0.0.1:9092), or use `bash deploy/kafka/with-broker.sh npx vitest run --project integration`, or start Docker.';

/** An error that vitest prints as its message alone (no stack): one clear line. */
function oneLine(message: string): Error {
  const err = new Error(message);
  err.stack = message;
  return err;
}

function describeError(err: unknown): string {
  return err instanceof Error ? err.message.split('\n')[0] ?? err.name : String(err);
}

/** A real metadata round trip, so a wrong KAFKA_BROKERS fails here and not in every test. */
async function describeBroker(brokers: string[]): Promise<string> {
  const admin = new Kafka({
    clientId: 'integration-setup',
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3000,
    retry: { retries: 5, initialRetryTime: 300 },
  }).admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return `cluster ${cluster.clusterId}, ${cluster.brokers.length} broker(s)`;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

async function startContainer(): Promise<{ brokers: string[]; source: string; stop: () => Promise<void> }> {
  const { getContainerRuntimeClient } = await import('testcontainers');
  try {
    await getContainerRuntimeClient();
  } catch {
    throw oneLine(NO_BROKER);
  }
  const { KafkaContainer } = await import('@testcontainers/kafka');
  const image = process.env.KAFKA_TEST_IMAGE ?? DEFAULT_TEST_IMAGE;
  console.log(`[integration] KAFKA_BROKERS is not set; starting ${image} with testcontainers...`);
  const container = await new KafkaContainer(image)
    .withEnvironment({
      // The module sets the offsets topic and transaction ISR for one node, not this one.
      KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
      KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'true',
    })
    .start();
  // 9093 is the module's PLAINTEXT listener for clients on the host.
  const brokers = [`${container.getHost()}:${container.getMappedPort(9093)}`];
  return {
    brokers,
    source: `${image} via testcontainers`,
    stop: async () => {
      await container.stop();
    },
  };
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const fromEnv = (process.env.KAFKA_BROKERS ?? '')
    .split(',')
    .map((b) => b.trim())
    .filter((b) => b.length > 0);

  let brokers: string[];
  let source: string;
  let stop: () => Promise<void> = async () => undefined;
  if (fromEnv.length > 0) {
    brokers = fromEnv;
    source = process.env.KAFKA_BROKER_SOURCE ?? 'KAFKA_BROKERS';
  } else {
    ({ brokers, source, stop } = await startContainer());
  }

  let cluster: string;
  try {
    cluster = await describeBroker(brokers);
  } catch (err) {
    await stop().catch(() => undefined);
    throw oneLine(`Kafka at ${brokers.join(',')} (${source}) does not answer a metadata request: ${describeError(err)}`);
  }
  console.log(`[integration] Kafka broker(s) ${brokers.join(',')}: ${source}; ${cluster}`);

  project.provide('kafkaBrokers', brokers);
  return stop;
}
