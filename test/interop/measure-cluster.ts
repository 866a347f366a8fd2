// Measures the 3-node KRaft cluster of deploy/kafka/cluster.sh and prints the figures (the source of
// the numbers in deploy/kafka/README.md):
//   - cluster start time (cluster.sh up: format + 3 JVMs + every node registered);
//   - RSS of the 3 JVMs idle and after 30,000 acks=all records into a 6-partition topic;
//   - leader failover as a kafkajs producer sees it: an idempotent producer sends one record at a
//     time to a 1-partition topic (replication 3, min ISR 2); the leader is SIGKILLed (then, in a
//     second round, SIGTERMed); "gap" = time from the kill to the next acknowledged send; "errors" =
//     sends that rejected to the application despite kafkajs's own retries;
//   - node restart: cluster.sh start-node until the node is back in every ISR.
// Run: KAFKA_PORT=28092 node --import tsx test/interop/measure-cluster.ts   (uses ports 28092-28097)
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import { startCluster, stopCluster, type KafkaCluster } from '../support/cluster.js';

const port = Number(process.env.KAFKA_PORT ?? 28092);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const mib = (kib: number | undefined) => (kib === undefined ? '-' : `${(kib / 1024).toFixed(0)} MiB`);

function rssLine(cluster: KafkaCluster): string {
  return cluster
    .nodeIds()
    .map((id) => `node ${id} ${mib(cluster.rssKiB(id))}`)
    .join(', ');
}

async function failover(cluster: KafkaCluster, kafka: Kafka, topic: string, signal: 'SIGKILL' | 'SIGTERM') {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  let stop = false;
  let lastAck = 0;
  const acks: number[] = [];
  let errors = 0;
  const loop = (async () => {
    let i = 0;
    while (!stop) {
      try {
        await producer.send({ topic, acks: -1, messages: [{ key: 'k', value: `m-${i++}` }] });
        lastAck = Date.now();
        acks.push(lastAck);
      } catch {
        errors++;
      }
      await sleep(20);
    }
  })();
  await sleep(2_000);
  const leader = await cluster.leaderOf(topic, 0);
  const killStarted = Date.now();
  await cluster.killNode(leader, signal);
  // cluster.sh returns once the JVM has exited: from here on the old leader answers nothing.
  const killedAt = Date.now();
  const newLeader = await cluster.waitForLeader(topic, 0, { not: leader, timeoutMs: 60_000 });
  const electedMs = Date.now() - killStarted;
  while (!acks.some((t) => t > killedAt)) await sleep(100);
  await sleep(2_000);
  stop = true;
  await loop;
  await producer.disconnect();
  const firstAfter = acks.find((t) => t > killedAt)!;
  // The longest stretch without an ack around the kill: what the application saw as the outage.
  let gap = 0;
  for (let k = 1; k < acks.length; k++) if (acks[k]! > killStarted - 1_000) gap = Math.max(gap, acks[k]! - acks[k - 1]!);
  console.log(
    `failover ${signal}: leader ${leader} -> ${newLeader}; stop-node took ${killedAt - killStarted} ms; metadata shows the new leader ${electedMs} ms after the signal; ` +
      `first ack ${firstAfter - killedAt} ms after the JVM exited; longest gap between acks ${gap} ms; ${errors} send(s) rejected to the app; ${acks.length} acks`,
  );
  const back = await cluster.restartNode(leader);
  console.log(`restart node ${leader}: back in every ISR after ${back} ms; RSS ${rssLine(cluster)}`);
}

const began = Date.now();
const cluster = await startCluster({ port });
console.log(`cluster up in ${Date.now() - began} ms (cluster.sh up on a fresh data dir); brokers ${cluster.brokers.join(',')}`);
try {
  await sleep(3_000);
  console.log(`RSS idle: ${rssLine(cluster)}`);
  const kafka = new Kafka({ clientId: 'measure-cluster', brokers: cluster.brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [
      { topic: 'measure.load', numPartitions: 6, replicationFactor: 3 },
      { topic: 'measure.failover', numPartitions: 1, replicationFactor: 3 },
    ],
    waitForLeaders: true,
  });
  await admin.disconnect();
  const producer = kafka.producer({ idempotent: true, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const t0 = Date.now();
  for (let b = 0; b < 30; b++) {
    await producer.send({ topic: 'measure.load', acks: -1, messages: Array.from({ length: 1_000 }, (_, i) => ({ key: `k${i}`, value: `{"id":"m-${b}-${i}","text":"some text to score ${i}"}` })) });
  }
  await producer.disconnect();
  console.log(`30,000 acks=all records in ${Date.now() - t0} ms; RSS after load: ${rssLine(cluster)}`);
  await failover(cluster, kafka, 'measure.failover', 'SIGKILL');
  await failover(cluster, kafka, 'measure.failover', 'SIGTERM');
} finally {
  const t = Date.now();
  await stopCluster(cluster);
  console.log(`cluster down in ${Date.now() - t} ms`);
}
