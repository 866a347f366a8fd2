// Readiness probe for deploy/kafka/kafka-up.sh: retries a real metadata request (kafkajs admin
// describeCluster + fetchTopicMetadata) until the broker answers or the timeout passes.
//   node deploy/kafka/probe.mjs --brokers 127.0.0.1:9092 [--timeout 90] [--pid 1234[,1235...]]
//        [--expect-brokers N] [--expect-node ID]
//        [--ssl-ca ca.pem --sasl-mechanism scram-sha-512 --sasl-username U --sasl-password-file F]
// The SASL password is read from a file so that it never appears on a command line (ps).
// Exit 0 and one line on stdout when ready; exit 1 (timeout or error) or 3 (--pid died) with one
// line on stderr. --expect-brokers N: ready only once the metadata lists N brokers (a cluster with
// every node registered); --expect-node ID: once it lists node ID (a restarted node unfenced again).
// kafkajs comes from the repository's node_modules (npm ci).
import { readFileSync } from 'node:fs';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    brokers: { type: 'string', default: '127.0.0.1:9092' },
    timeout: { type: 'string', default: '90' },
    pid: { type: 'string' },
    'expect-brokers': { type: 'string', default: '1' },
    'expect-node': { type: 'string' },
    'ssl-ca': { type: 'string' },
    'sasl-mechanism': { type: 'string' },
    'sasl-username': { type: 'string' },
    'sasl-password-file': { type: 'string' },
  },
});

function fail(code, message) {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

let kafkajs;
try {
  kafkajs = await import('kafkajs');
} catch {
  fail(1, "cannot load 'kafkajs' for the readiness probe; run 'npm ci' in the repository root first");
}
const { Kafka, logLevel } = kafkajs.default ?? kafkajs;

const brokers = values.brokers.split(',').map((b) => b.trim()).filter(Boolean);
const deadline = Date.now() + Number(values.timeout) * 1000;
const pids = (values.pid ?? '').split(',').filter(Boolean).map(Number);
const expectBrokers = Number(values['expect-brokers']);
const expectNode = values['expect-node'] === undefined ? undefined : Number(values['expect-node']);

function alive(p) {
  try {
    process.kill(p, 0);
    return true;
  } catch {
    return false;
  }
}

// SECURE=1: TLS against the broker's own CA, then SASL as the client user.
const secure = {};
if (values['ssl-ca']) secure.ssl = { ca: [readFileSync(values['ssl-ca'], 'utf8')] };
if (values['sasl-mechanism']) {
  secure.sasl = {
    mechanism: values['sasl-mechanism'],
    username: values['sasl-username'] ?? '',
    password: readFileSync(values['sasl-password-file'] ?? '/dev/null', 'utf8').trim(),
  };
}

const client = (seeds) =>
  new Kafka({
    clientId: 'kafka-up-probe',
    brokers: seeds,
    ...secure,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1000,
    requestTimeout: 3000,
    retry: { retries: 0 },
  });
const kafka = client(brokers);

/**
 * Undefined once every listed broker answers on its own address, else which one does not. A node is
 * in the metadata once it registers with the controllers, which is before its own listener accepts:
 * with 2 cores under load, node 2 of a fresh cluster was listed (unfenced) 6 s before it bound its port
 * (14:44:19.9 -> 25.8 in its log), and a test that created its topics then failed with ECONNREFUSED.
 */
async function silentNode(listed) {
  for (const b of listed) {
    const admin = client([`${b.host}:${b.port}`]).admin({ retry: { retries: 0 } });
    try {
      await admin.connect();
      await admin.describeCluster();
    } catch (err) {
      return `broker ${b.nodeId} at ${b.host}:${b.port} is listed but does not answer (${err instanceof Error ? err.message : err})`;
    } finally {
      await admin.disconnect().catch(() => {});
    }
  }
  return undefined;
}

let lastError = 'no answer';
while (Date.now() < deadline) {
  for (const pid of pids) if (!alive(pid)) fail(3, `broker process ${pid} exited`);
  const admin = kafka.admin({ retry: { retries: 0 } });
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    const metadata = await admin.fetchTopicMetadata();
    const listed = cluster.brokers.map((b) => b.nodeId);
    const complete = listed.length >= expectBrokers && (expectNode === undefined || listed.includes(expectNode));
    const silent = complete ? await silentNode(cluster.brokers) : undefined;
    if (complete && silent === undefined) {
      await admin.disconnect();
      process.stdout.write(
        `cluster ${cluster.clusterId}, ${cluster.brokers.length} broker(s), ${metadata.topics.length} topic(s)\n`,
      );
      process.exit(0);
    }
    lastError = silent ?? `metadata lists broker(s) [${listed.join(',')}]`;
  } catch (err) {
    lastError = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  }
  await admin.disconnect().catch(() => {});
  await sleep(250);
}
fail(1, `no metadata answer within ${values.timeout}s (last error: ${lastError})`);
