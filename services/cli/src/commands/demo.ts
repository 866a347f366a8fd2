import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { registerKafkajsCodecs } from '@sentiment-stream/kafka';
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import type { Command } from '../command.js';
import type { Io } from '../io.js';

const TOPICS = { input: 'demo-texts', output: 'sentiment-events', dlq: 'sentiment-dlq' };
const GROUP = 'demo-scorer';
const STATUS_PORT = '9465';
const METRICS_PORT = '9464';

/** A mixed stream: praise, complaints, plain statements, raw tweet style, and a few broken records. */
const SAMPLES: (string | { bad: string | null; why: string })[] = [
  'I absolutely loved this movie, the cast was brilliant.',
  "The battery doesn't last a day. Really disappointed.",
  'The package arrived on Tuesday.',
  'Best pizza in town, friendly staff too! 🍕😍',
  "It's not bad, but it isn't good either.",
  'Terrible customer service, I waited an hour and nobody helped.',
  '@user just landed in Chicago, heading to the hotel',
  'What a waste of money. Never again.',
  'The sequel is even better than the original!',
  'The meeting has been moved to 3pm.',
  { bad: '{"text": "unterminated', why: 'invalid JSON' },
  'Surprisingly moving, with a sharp and funny script.',
  'My order came broken and the refund took weeks 😡',
  { bad: '{"id": "no-text-here"}', why: 'no text field' },
  'Not my favourite, but the soundtrack is great.',
  { bad: null, why: 'a tombstone (null value)' },
];

/**
 * `sentiment-stream demo`: the whole service on the broker in KAFKA_BROKERS. Creates the topics,
 * starts the scorer, sends the samples at a steady pace and prints each scored event and dead
 * letter as it arrives, with the metrics sidecar beside the scorer as in a pod. Ctrl-C (or
 * DEMO_SECONDS) stops everything it started.
 */
export const command: Command = {
  run: async (args, io) => {
    if (args.includes('--help')) {
      io.stdout.write('usage: sentiment-stream demo\nNeeds KAFKA_BROKERS (make demo starts a local broker). DEMO_SECONDS stops it after that long.\n');
      return 0;
    }
    const brokers = (io.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
    // The scorer writes lz4 (PRODUCER_COMPRESSION); the demo's own kafkajs reader needs the decoder.
    registerKafkajsCodecs();
    const kafka = new Kafka({ clientId: 'sentiment-demo', brokers, logLevel: logLevel.NOTHING });
    await createTopics(kafka);
    const say = (line: string) => io.stdout.write(`${line}\n`);
    say(`demo: topics ${TOPICS.input} -> ${TOPICS.output} (dead letters: ${TOPICS.dlq}) on ${brokers.join(',')}`);

    const scorer = startScorerProcess(io);
    const sidecar = startSidecarProcess(io);
    const stop = stopSignal(io);
    try {
      await waitReady(scorer, stop.promise);
      say(`demo: scorer ready; Prometheus metrics (with consumer lag) at http://127.0.0.1:${METRICS_PORT}/metrics`);
      say('demo: sending texts (Ctrl-C to stop)\n');
      const sent = new Map<string, string>();
      const printer = await printOutputs(kafka, sent, say);
      const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
      await producer.connect();
      for (let i = 0; !stop.stopped; i++) {
        const sample = SAMPLES[i % SAMPLES.length]!;
        const id = `demo-${i}`;
        if (typeof sample === 'string') {
          sent.set(id, sample);
          await producer.send({ topic: TOPICS.input, messages: [{ key: `user-${i % 7}`, value: JSON.stringify({ id, text: sample }) }] });
        } else {
          await producer.send({ topic: TOPICS.input, messages: [{ key: `user-${i % 7}`, value: sample.bad }] });
        }
        await Promise.race([stop.promise, new Promise((r) => setTimeout(r, 700))]);
      }
      await producer.disconnect();
      await new Promise((r) => setTimeout(r, 1_000)); // let the last outputs arrive
      await printer.disconnect();
    } finally {
      say('\ndemo: stopping the scorer and the sidecar');
      await Promise.all([scorer, sidecar].map((child) => stopChild(child)));
    }
    return 0;
  },
};

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

async function createTopics(kafka: Kafka) {
  const admin = kafka.admin();
  await admin.connect();
  const existing = new Set(await admin.listTopics());
  const wanted = [
    { topic: TOPICS.input, numPartitions: 6 },
    { topic: TOPICS.output, numPartitions: 6 },
    { topic: TOPICS.dlq, numPartitions: 1 },
  ].filter((t) => !existing.has(t.topic));
  if (wanted.length > 0) await admin.createTopics({ topics: wanted, waitForLeaders: true });
  await admin.disconnect();
}

/** Runs a CLI role (`scorer`, `sidecar`) as a child, its log lines prefixed with the role. */
function startRole(role: 'scorer' | 'sidecar', io: Io, env: Record<string, string>): ChildProcess {
  const cli = fileURLToPath(new URL('../main.js', import.meta.url));
  const child = spawn(process.execPath, [cli, role], {
    env: { ...io.env, GROUP_ID: GROUP, INPUT_TOPICS: TOPICS.input, LOG_LEVEL: io.env.LOG_LEVEL ?? 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const relay = (d: Buffer) => io.stderr.write(d.toString().replace(/^(?=.)/gm, `[${role}] `));
  child.stdout!.on('data', relay);
  child.stderr!.on('data', relay);
  return child;
}

function startScorerProcess(io: Io): ChildProcess {
  return startRole('scorer', io, {
    OUTPUT_TOPIC: TOPICS.output,
    DLQ_TOPIC: TOPICS.dlq,
    STATUS_PORT,
    // The three-class model shows neutral statements as neutral; MODEL overrides it.
    MODEL: io.env.MODEL ?? 'tweeteval-bilstm',
  });
}

function startSidecarProcess(io: Io): ChildProcess {
  return startRole('sidecar', io, {
    METRICS_HOST: '127.0.0.1',
    METRICS_PORT,
    SCORER_STATUS_URL: `http://127.0.0.1:${STATUS_PORT}`,
    LAG_INTERVAL_MS: '5000',
  });
}

async function waitReady(scorer: ChildProcess, stopped: Promise<void>) {
  let exited = false;
  scorer.once('exit', () => (exited = true));
  for (;;) {
    if (exited) throw new Error('the scorer exited before it was ready (see its log above)');
    try {
      const res = await fetch(`http://127.0.0.1:${STATUS_PORT}/status`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    const stop = await Promise.race([stopped.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 300))]);
    if (stop) throw new Error('stopped before the scorer was ready');
  }
}

async function printOutputs(kafka: Kafka, sent: Map<string, string>, say: (line: string) => void) {
  const consumer = kafka.consumer({ groupId: `demo-printer-${process.pid}`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topics: [TOPICS.output, TOPICS.dlq], fromBeginning: false });
  await consumer.run({
    eachMessage: async ({ topic, message }) => {
      if (topic === TOPICS.dlq) {
        const code = message.headers?.['x-error-code']?.toString();
        const why = message.headers?.['x-error-message']?.toString();
        say(`  DEAD LETTER  ${code}: ${why}`);
        return;
      }
      const event = JSON.parse(message.value!.toString()) as { id: string; label: string; score: number; latencyMs: number };
      const mark = { positive: '+', negative: '-', neutral: '~' }[event.label] ?? '?';
      const text = sent.get(event.id) ?? event.id;
      say(`  ${mark} ${event.label.padEnd(8)} ${event.score.toFixed(2)}  ${String(event.latencyMs).padStart(4)} ms  ${text}`);
    },
  });
  return consumer;
}

function stopSignal(io: Io) {
  const state = { stopped: false, promise: undefined as unknown as Promise<void> };
  state.promise = new Promise<void>((resolve) => {
    const stop = () => {
      state.stopped = true;
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    const seconds = Number(io.env.DEMO_SECONDS ?? 0);
    if (seconds > 0) setTimeout(stop, seconds * 1_000).unref();
  });
  return state;
}
