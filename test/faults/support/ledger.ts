// Known inputs and the count that proves what happened to each: every input carries an id; at the
// end the output and dead-letter topics are read back (read_committed) and each id is counted
// there. missing = in neither, duplicates = more than once over both, in both = an event and a
// dead letter. Counts live in typed arrays indexed by the id's number, so a 1,000,000-message
// scenario costs a few MB here, not a Map of a million strings.
import type { IHeaders, Kafka, Message } from 'kafkajs';
import { endOffsets, readToEnd } from '../../support/end-offsets.js';
import { createProducer } from '../../support/kafka.js';

/** One input: its value, key and headers exactly as sent, and what should become of it. */
export interface Input {
  key?: Buffer | string | null;
  value: Buffer | string | null;
  headers?: IHeaders;
  /** Poison scenarios: the dead-letter code this input must get; undefined means it must be scored. */
  expectCode?: string;
  /** An explicit partition (else the key's). */
  partition?: number;
  /** An explicit CreateTime, ms since the epoch as a decimal string (else now). */
  timestamp?: string;
}

export class Ledger {
  readonly out: Uint16Array;
  readonly dlq: Uint16Array;
  /** Dead-letter code seen per id (first sighting). */
  readonly codes = new Map<number, string>();
  /** Records on the output or DLQ topics whose id is not one of ours (must stay 0). */
  foreign = 0;
  private seen = 0;
  /** Input partition and offset of each id's first output (-1: none yet), and where its copies came from. */
  private readonly firstFrom: Float64Array;
  /** Where each id's first output landed (packed like firstFrom), -1 when not known. */
  private readonly firstOut: Float64Array;
  private readonly copies = new Map<number, string[]>();

  constructor(
    readonly prefix: string,
    readonly size: number,
  ) {
    this.out = new Uint16Array(size);
    this.dlq = new Uint16Array(size);
    this.firstFrom = new Float64Array(size).fill(-1);
    this.firstOut = new Float64Array(size).fill(-1);
  }

  id(i: number): string {
    return `${this.prefix}-${i}`;
  }

  index(id: string | undefined): number | undefined {
    if (id === undefined || !id.startsWith(`${this.prefix}-`)) return undefined;
    const n = Number(id.slice(this.prefix.length + 1));
    return Number.isInteger(n) && n >= 0 && n < this.size ? n : undefined;
  }

  /**
   * `from`: the input partition and offset the output names (its ce_id), to tell a record scored
   * twice from an input written twice; `at`: where the output itself is, to tell a record scored
   * twice (copies far apart) from a produce request the client wrote twice (copies side by side).
   */
  countOut(id: string | undefined, from?: { partition: number; offset: number }, at?: { partition: number; offset: number }): void {
    const i = this.index(id);
    if (i === undefined) return void this.foreign++;
    if (this.out[i] === 0 && this.dlq[i] === 0) this.seen++;
    this.out[i]! += 1;
    if (!from) return;
    // One number per id (partition * 2^40 + offset) keeps the 1,000,000-id ledgers small.
    const pack = (p: { partition: number; offset: number }) => p.partition * 2 ** 40 + p.offset;
    const name = (x: number) => `${Math.floor(x / 2 ** 40)}:${x % 2 ** 40}`;
    const copy = (f: number, o: number) => (o === -1 ? name(f) : `${name(f)} -> out ${name(o)}`);
    const out = at ? pack(at) : -1;
    if (this.firstFrom[i] === -1) {
      this.firstFrom[i] = pack(from);
      this.firstOut[i] = out;
    } else if (this.copies.size < 10 || this.copies.has(i)) {
      this.copies.set(i, [...(this.copies.get(i) ?? [copy(this.firstFrom[i]!, this.firstOut[i]!)]), copy(pack(from), out)]);
    }
  }

  countDlq(id: string | undefined, code: string | undefined): void {
    const i = this.index(id);
    if (i === undefined) return void this.foreign++;
    if (this.out[i] === 0 && this.dlq[i] === 0) this.seen++;
    this.dlq[i]! += 1;
    if (!this.codes.has(i) && code !== undefined) this.codes.set(i, code);
  }

  get complete(): boolean {
    return this.seen === this.size;
  }

  /** The scenario's verdict; `missingIds` and `duplicateIds` list a few for failure messages. */
  summary() {
    let missing = 0;
    let duplicates = 0;
    let inBoth = 0;
    let dlq = 0;
    let extraCopies = 0;
    const missingIds: string[] = [];
    const duplicateIds: string[] = [];
    for (let i = 0; i < this.size; i++) {
      const o = this.out[i]!;
      const d = this.dlq[i]!;
      if (o + d === 0) {
        missing++;
        if (missingIds.length < 10) missingIds.push(this.id(i));
      }
      if (o + d > 1) {
        duplicates++;
        extraCopies += o + d - 1;
        if (duplicateIds.length < 10) duplicateIds.push(this.copies.has(i) ? `${this.id(i)} (from input ${this.copies.get(i)!.join(', ')})` : this.id(i));
      }
      if (o > 0 && d > 0) inBoth++;
      if (d > 0) dlq++;
    }
    return { messages: this.size, missing, duplicates, extraCopies, inBoth, dlq, foreign: this.foreign, missingIds, duplicateIds };
  }
}

export const TEST_ID_HEADER = 'x-test-id';

/**
 * Sends `count` inputs made by `make(i)` with an idempotent producer (so the input itself has no
 * duplicates), `chunk` at a time. Each input's id is `ledger.id(i)`; it is also in the
 * x-test-id header, which dead letters keep, so inputs whose JSON cannot carry an id are counted too.
 */
export async function produceInputs(
  kafka: Kafka,
  topic: string,
  ledger: Ledger,
  make: (i: number, id: string) => Input,
  opts: { chunk?: number; idHeader?: boolean } = {},
): Promise<void> {
  const chunk = opts.chunk ?? 5_000;
  const producer = createProducer(kafka, { idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    for (let start = 0; start < ledger.size; start += chunk) {
      const messages: Message[] = [];
      for (let i = start; i < Math.min(start + chunk, ledger.size); i++) {
        const id = ledger.id(i);
        const input = make(i, id);
        const headers = opts.idHeader === false ? input.headers : { ...input.headers, [TEST_ID_HEADER]: id };
        messages.push({
          key: input.key ?? null,
          value: input.value,
          ...(headers ? { headers } : {}),
          ...(input.partition !== undefined ? { partition: input.partition } : {}),
          ...(input.timestamp !== undefined ? { timestamp: input.timestamp } : {}),
        });
      }
      await producer.send({ topic, messages, acks: -1 });
    }
  } finally {
    await producer.disconnect();
  }
  // Exactly what was sent, or a duplicate found later would be blamed on the scorer.
  const held = await recordsIn(kafka, topic);
  if (held !== ledger.size) throw new Error(`produceInputs: ${topic} holds ${held} records after ${ledger.size} were sent`);
}

/** Records in a topic no transactional producer writes to (high watermark minus log start, summed). */
async function recordsIn(kafka: Kafka, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const brokers = (await admin.describeCluster()).brokers.map((b) => `${b.host}:${b.port}`);
    const ends = await endOffsets(brokers, [topic], 'read_uncommitted');
    return Number(ends.reduce((n, e) => n + (e.end - e.start), 0n));
  } finally {
    await admin.disconnect();
  }
}

/** `{"id":"<id>","text":"..."}`: the shape every scenario but the poison one sends. */
export function textInput(i: number, id: string, keys = 200): Input {
  return { key: `k-${i % keys}`, value: `{"id":"${id}","text":"${TEXTS[i % TEXTS.length]} ${i}"}` };
}

/** Short texts (the 1,000,000-message backlog is about memory and the pipeline, not long texts). */
export const TEXTS = ['great film', 'awful plot', 'slow but fine', 'loved it 😍', 'never again', 'meh', 'a delight', 'boring'];

/** Input high watermarks minus the group's committed offsets, over all partitions (undefined if Kafka does not answer). */
export async function groupLag(kafka: Kafka, groupId: string, topic: string): Promise<number | undefined> {
  const parts = await lagByPartition(kafka, groupId, topic);
  return parts && [...parts.values()].reduce((a, b) => a + b, 0);
}

/** The group's lag on each partition of `topic` (high watermark less committed offset), or undefined when Kafka does not answer. */
async function lagByPartition(kafka: Kafka, groupId: string, topic: string): Promise<Map<number, number> | undefined> {
  const admin = kafka.admin({ retry: { retries: 0 } });
  try {
    await admin.connect();
    const [high, [committed]] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId, topics: [topic] })]);
    const done = new Map((committed?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
    const lag = new Map<number, number>();
    for (const p of high) {
      const c = done.get(p.partition) ?? -1n;
      lag.set(p.partition, Number(BigInt(p.high) - (c < 0n ? 0n : c)));
    }
    return lag;
  } catch {
    return undefined;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/**
 * Resolves once the group has committed every input (its outputs are on the broker: at-least-once
 * commits after the send is acknowledged, exactly-once commits with the transaction).
 */
export async function waitCaughtUp(kafka: Kafka, groupId: string, topic: string, timeoutMs: number, alive: () => void = () => undefined): Promise<number> {
  const began = Date.now();
  let last: Map<number, number> | undefined;
  while (Date.now() - began < timeoutMs) {
    alive();
    last = await lagByPartition(kafka, groupId, topic);
    if (last && [...last.values()].every((l) => l === 0)) return Date.now() - began;
    await sleep(500);
  }
  // Which partitions lag says whether one stream stood still or the whole group did.
  const where = last ? [...last].filter(([, l]) => l > 0).map(([p, l]) => `${p}:${l}`).join(' ') : '(unknown)';
  throw new Error(`group ${groupId} still has lag on ${topic} after ${timeoutMs} ms (partition:lag ${where})`);
}

/** Sum of the high watermarks of `topics` (records written, plus transaction markers), or undefined when Kafka does not answer. */
export async function written(kafka: Kafka, topics: string[]): Promise<number | undefined> {
  const admin = kafka.admin({ retry: { retries: 0 } });
  try {
    await admin.connect();
    let sum = 0;
    for (const t of topics) for (const p of await admin.fetchTopicOffsets(t)) sum += Number(p.high);
    return sum;
  } catch {
    return undefined;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** Polls `written(topics)` until it exceeds `above`; resolves with the ms waited. */
export async function waitWritten(kafka: Kafka, topics: string[], above: number, timeoutMs: number, alive: () => void = () => undefined): Promise<number> {
  const began = Date.now();
  while (Date.now() - began < timeoutMs) {
    alive();
    const n = await written(kafka, topics);
    if (n !== undefined && n > above) return Date.now() - began;
    await sleep(100);
  }
  throw new Error(`${topics.join(', ')}: never more than ${above} records within ${timeoutMs} ms`);
}

/**
 * Reads the output and dead-letter topics (read_committed: aborted transactions are skipped) and
 * counts every id into the ledger. It reads each partition to its end offset, not until the topics
 * go quiet: it first waits until no transaction is open (the last stable offset equals the high
 * watermark, so a transaction a killed scorer left open is decided), then reads every partition up to
 * that end (test/support/end-offsets.ts). Rejects, naming the partitions, if that is not done within
 * `timeoutMs`. Call it once every writer has stopped.
 */
export async function readBack(kafka: Kafka, t: { output: string; dlq: string }, ledger: Ledger, opts: { timeoutMs?: number } = {}): Promise<void> {
  // The scorer compresses what it writes (PRODUCER_COMPRESSION): support/kafka.ts gave this process's kafkajs the decoders.
  await readToEnd(
    kafka,
    [t.output, t.dlq],
    (topic, partition, m) => {
      if (topic === t.output) ledger.countOut(eventId(m.value), sourceOf(m.headers), { partition, offset: Number(m.offset) });
      else ledger.countDlq(deadLetterId(m.headers, m.value), header(m.headers, 'x-error-code'));
    },
    { isolation: 'read_committed', waitForStable: true, timeoutMs: opts.timeoutMs ?? 180_000 },
  );
}

/** The input partition and offset an event came from: its CloudEvents id is `<topic>-<partition>-<offset>`. */
function sourceOf(headers: IHeaders | undefined): { partition: number; offset: number } | undefined {
  const m = /-(\d+)-(\d+)$/.exec(header(headers, 'ce_id') ?? '');
  return m ? { partition: Number(m[1]), offset: Number(m[2]) } : undefined;
}

function header(headers: IHeaders | undefined, name: string): string | undefined {
  const v = headers?.[name];
  return v === undefined ? undefined : (Array.isArray(v) ? v[0] : v)?.toString();
}

function eventId(value: Buffer | null): string | undefined {
  try {
    return (JSON.parse(value?.toString() ?? 'null') as { id?: string } | null)?.id;
  } catch {
    return undefined;
  }
}

/** Our header if the input had it, else the id in the original JSON value. */
function deadLetterId(headers: IHeaders | undefined, value: Buffer | null): string | undefined {
  return header(headers, TEST_ID_HEADER) ?? eventId(value);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
