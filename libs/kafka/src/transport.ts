import { fitMessage, messageBytes, skippedRecordsMessage, type OutboundMessage, type SourceRecord } from '@sentiment-stream/events';
import { backoffDelay, retry, sleep } from '@sentiment-stream/runtime';
import type { Logger } from './client.js';
import { tpKey, type Assignment, type Driver, type PartitionOffset, type PlacedMessage, type TopicInfo, type TopicPartition } from './driver.js';
import { classifyKafkaError, type KafkaErrorInfo } from './errors.js';
import { partitionFor } from './partitioner.js';
import type { UndecodableRange } from './undecodable.js';

export type Delivery = 'at-least-once' | 'exactly-once';

/**
 * Records handed to the service, with their acknowledgement. The service answers every record with
 * exactly one output, in order, through `ack`; the transport publishes them, marks the records done
 * and commits. An acknowledgement travels with its records: nothing is looked up again.
 */
export interface InputBatch {
  readonly records: readonly SourceRecord[];
  /**
   * `outputs[i]` answers `records[i]` (an event or a dead letter). Resolves once they are on the
   * broker and committed, or once the records were dropped to be delivered again (their partition
   * moved, or a refused output holds it back). Never rejects: failures are the transport's.
   */
  ack(outputs: readonly OutboundMessage[]): Promise<void>;
  /**
   * The service cannot answer these records (it is failing): nothing of them is published or
   * committed, and their partitions stop here, to be read again after a restart or rebalance.
   */
  release(reason: Error): void;
}

/** Everything that happens to the group, the partitions and the transport, as one stream. */
export type TransportEvent =
  | { type: 'assigned'; assignment: Assignment[] }
  /** Records dropped without output: their partition moved, or the transport started reading again. */
  | { type: 'dropped'; records: number; why: string }
  /** A partition is held at `offset`: the broker refuses that record's output. */
  | { type: 'partition-held'; topic: string; partition: number; offset: string; code: string; reason: string }
  | { type: 'partition-released'; topic: string; partition: number; offset: string }
  /** Records no client can decode were skipped; one dead letter (CORRUPT_BATCH) names them. */
  | { type: 'records-skipped'; topic: string; partition: number; from: string; to: string; reason: string }
  /** Trouble being ridden out (a broker away, a rebalance); worth a log line, not an alarm. */
  | { type: 'warning'; message: string; err?: string }
  /** The transport cannot go on; the service must stop and exit non-zero. */
  | { type: 'fatal'; error: Error };

/** Counters for the service's metrics; every member optional. */
export interface TransportObserver {
  received?(topic: string, records: number): void;
  /** Outputs the broker acknowledged (and, exactly-once, committed), with the records they answer. */
  published?(outputs: readonly OutboundMessage[], records: readonly SourceRecord[]): void;
  committed?(result: 'ok' | 'error'): void;
  inFlight?(records: number): void;
  refused?(topic: string, code: string): void;
  /** Records skipped because their batch cannot be decoded. */
  skipped?(topic: string, records: number): void;
}

export interface TransportOptions {
  delivery: Delivery;
  inputTopics: string[];
  outputTopic: string;
  dlqTopic: string;
  /** Fetching pauses at this many records in flight and resumes below half. */
  maxInFlight: number;
  /** Longest wait between retries of a refused output. */
  outputRetryMaxMs: number;
  /** How long a rejoin or a rewind waits for in-flight records before dropping them (they are read again). */
  drainTimeoutMs: number;
  /** Bytes of the original value a shrunk dead letter keeps. */
  dlqValuePrefixBytes: number;
  /** Finds the batches that cannot be decoded at these positions (undecodable.ts; a fake in unit tests). */
  findUndecodable: (positions: (TopicPartition & { offset: bigint })[]) => Promise<UndecodableRange[]>;
  logger: Logger;
  observer?: TransportObserver;
}

export interface Handlers {
  batch(batch: InputBatch): void;
  event(event: TransportEvent): void;
}

export interface Transport {
  readonly client: Driver['name'];
  /**
   * Connects (retrying with backoff until the cluster answers or stop() is called), checks the
   * output and dead-letter topics, joins the group and starts handing out batches. Rejects with a
   * one-line error when a topic is missing.
   */
  start(handlers: Handlers): Promise<void>;
  readonly assignment: Assignment[];
  readonly inFlight: number;
  /** Held partitions, with the offset each is held at. */
  readonly held: { topic: string; partition: number; offset: string; code: string }[];
  /** Stops fetching, publishes and commits what is in flight (waiting up to `timeoutMs`), leaves the group, closes. */
  stop(timeoutMs: number): Promise<void>;
}

interface Entry {
  records: SourceRecord[];
  /** Next fetch offset per partition once these records are done (past markers). */
  positions: ReadonlyMap<string, bigint>;
  context: unknown;
  epoch: number;
  outputs?: readonly OutboundMessage[];
  released?: Error;
  resolve: (done: ReadonlyMap<string, bigint>) => void;
  promise: Promise<ReadonlyMap<string, bigint>>;
}

interface Item {
  record: SourceRecord;
  message: PlacedMessage;
  entry: Entry;
}

interface Hold {
  topic: string;
  partition: number;
  offset: bigint;
  code: string;
  reason: string;
  /** The refused output, retried alone; absent when the service released the records. */
  item?: Item;
  timer?: NodeJS.Timeout;
  attempt: number;
}

/** A flush carries at most this many bytes of outputs, so every per-partition batch stays under the broker's default 1 MB. */
const FLUSH_MAX_BYTES = 900_000;
/** Batch overhead allowance when fitting one message into max.message.bytes. */
const BATCH_OVERHEAD_BYTES = 512;
/** Fencings within FENCING_WINDOW_MS that mean another live producer shares the transactional id. */
const MAX_FENCINGS = 4;
const FENCING_WINDOW_MS = 60_000;
/** Transient publish failures are retried with this backoff, for as long as they last. */
const PUBLISH_BACKOFF = { initialMs: 200, maxMs: 10_000 };
/**
 * A transaction that has not settled by then is given up as an unknown outcome: the producer is
 * renewed (the coordinator aborts or finishes the old one first) and the committed offsets tell
 * what happened. In the 3-node fault scenario a @platformatic/kafka 2.12.1 producer, after its
 * transaction coordinator's node was killed and restarted, looked the coordinator up every 10 s and
 * never sent the transaction's next request (its connections to the restarted nodes opened and
 * stayed silent): the scorer stood still, 4,075 records in flight, for the rest of the run. A
 * healthy transaction takes well under a second, and one that rides out a failover about 10-30 s.
 */
const TRANSACTION_STALL_MS = 60_000;
/**
 * The same for an at-least-once send: given up, the producer renewed, and sent again (a duplicate
 * at worst). In a 3-node loop run a @platformatic/kafka 2.12.1 producer resent one request to the
 * killed output leader's node every ~10 s for 4 min: the broker answered NOT_LEADER_OR_FOLLOWER
 * for one partition, naming its new leader, and the client never moved; 2,725 records sat scored
 * and unpublished, with no error to retry on.
 */
const SEND_STALL_MS = 60_000;

/**
 * The Kafka edge of the service, over one client library (a Driver): consume -> hand out ->
 * acknowledge -> publish -> commit. Written once for both clients:
 *
 * - **Order and the watermark.** Batches are queued in the order they were handed out; outputs are
 *   published from the head of that queue only, so a partition's outputs leave in input order and a
 *   committed offset never passes a record whose output is not on the broker.
 * - **Coalescing.** Every acknowledged batch at the head goes out in one produce request, or (exactly-
 *   once) one transaction with the offsets of every partition it covers.
 * - **Refused outputs are isolated.** A record whose output the broker refuses for good holds its own
 *   partition at that offset (retried with backoff until accepted); other partitions flow, and
 *   nothing accepted is published again because of it. docs/reliability.md states the rule.
 * - **Epochs.** A rejoin or a rewind starts a new epoch: what was handed out before and is not yet
 *   published is dropped, because the client reads it again from the committed offset.
 */
export function createTransport(driver: Driver, o: TransportOptions): Transport {
  const log = o.logger;
  const exactlyOnce = o.delivery === 'exactly-once';
  const queue: Entry[] = [];
  const holds = new Map<string, Hold>();
  let handlers: Handlers | undefined;
  let topics = new Map<string, TopicInfo>();
  let assignment: Assignment[] = [];
  let epoch = 0;
  let inFlight = 0;
  /** Entries handed out and not settled (the queue, plus those a flush has taken). */
  let outstanding = 0;
  /** The producer runs one flush or one retry of a held output at a time. */
  let producerTurn: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = producerTurn.then(fn, fn);
    producerTurn = run.catch(() => undefined);
    return run;
  };
  let fenced = false;
  let stopping = false;
  let paused = false;
  let flushing: Promise<void> | undefined;
  let drainWaiters: (() => void)[] = [];
  const stopSignal = new AbortController();
  const committed = new Map<string, bigint>();
  /** Per partition, the last offset handed out and in which epoch; forgotten when the partition is held or read again, or has nothing in flight. */
  const handedOut = new Map<string, { epoch: number; offset: bigint }>();
  /** Per partition, records handed out and not yet settled: what a second delivery is checked against. */
  const unsettled = new Map<string, number>();
  /** Every rewind of the driver goes through here: what is read again after it is not a second delivery. */
  const readAgain = (tp: TopicPartition, offset: bigint) => {
    handedOut.clear();
    return driver.rewind(tp, offset);
  };

  const emit = (e: TransportEvent) => handlers?.event(e);
  const setInFlight = (delta: number) => {
    inFlight += delta;
    o.observer?.inFlight?.(inFlight);
    if (!paused && inFlight >= o.maxInFlight) {
      paused = true;
      driver.pauseFetching();
    } else if (paused && !stopping && !fenced && inFlight <= o.maxInFlight / 2) {
      paused = false;
      driver.resumeFetching();
    }
    if (outstanding === 0) for (const w of drainWaiters.splice(0)) w();
  };

  const settle = (entry: Entry, done: ReadonlyMap<string, bigint>) => {
    const i = queue.indexOf(entry);
    if (i >= 0) queue.splice(i, 1);
    outstanding--;
    setInFlight(-entry.records.length);
    for (const [k, n] of countByPartition(entry.records)) {
      const left = (unsettled.get(k) ?? 0) - n;
      if (left > 0) {
        unsettled.set(k, left);
      } else {
        // Nothing of the partition in flight: a client that delivers these offsets again now
        // (kafkajs refetches what a batch did not resolve, as after a refused commit) is reading
        // them again, not handing over a second copy, and they are scored.
        unsettled.delete(k);
        handedOut.delete(k);
      }
    }
    entry.resolve(done);
  };

  const intake = (records: SourceRecord[], positions: ReadonlyMap<string, bigint>, context: unknown): Promise<ReadonlyMap<string, bigint>> => {
    if (fenced || stopping) {
      if (records.length > 0) emit({ type: 'dropped', records: records.length, why: stopping ? 'stopping' : 'rejoining the group' });
      return Promise.resolve(new Map());
    }
    // One pass, each record's partition key and offset computed once:
    // - Below an offset this process has committed: done, its outputs are on the broker. A client
    //   reads them again when it fetched the group's offsets before the last commit settled (a
    //   transaction's offsets count only once its markers are written, which a failover delays);
    //   scoring them again would publish their events twice, past exactly-once. Dropped, and
    //   reported done.
    // - At or below the last offset handed out in this epoch while the partition has records in
    //   flight: within an epoch a partition's offsets only grow. Both clients can deliver records a
    //   second time while the first copies are still in flight (fetches to the old and the new
    //   leader across a failover: 725 records of one partition in one 3-node run, 1,450 from
    //   kafkajs in another). Dropped: the first copies are being scored and report for them. Their
    //   partitions' positions go too: only the first copies, once published, may move a commit past
    //   them. Once the first copies settle, the partition is forgotten (settle): dropping what is
    //   read again then, unresolved, made kafkajs fetch the same 1,700 records for ever (~250 times
    //   a second) after a refused commit, and the group sat at lag for the 5 min of the case.
    // - A held partition takes nothing at or past its held offset until it is read again.
    const again = new Map<string, bigint>();
    const twice = new Set<string>();
    let below = 0;
    let dropped = 0;
    const kept: SourceRecord[] = [];
    for (const r of records) {
      const k = tpKey(r.topic, r.partition);
      const offset = BigInt(r.offset);
      if (offset < (committed.get(k) ?? -1n)) {
        again.set(k, offset);
        below++;
        continue;
      }
      const last = handedOut.get(k);
      if (last !== undefined && last.epoch === epoch && offset <= last.offset && unsettled.has(k)) {
        twice.add(k);
        dropped++;
        continue;
      }
      if (holds.size > 0 && heldAt(r.topic, r.partition, offset)) continue;
      kept.push(r);
      handedOut.set(k, { epoch, offset });
      // Counted here, not at hand-out: a fetch can hold the same offsets twice (two responses, the
      // old and the new leader's), and the second copy must find the first one in flight. Counted
      // at hand-out, that let 1,600 records of one partition be scored twice, silently.
      unsettled.set(k, (unsettled.get(k) ?? 0) + 1);
    }
    if (below > 0) {
      const where = [...again].map(([k, last]) => `${k} up to ${last}`).join(', ');
      emit({ type: 'warning', message: `${below} records below this scorer's committed offsets were read again (${where}); they are done, and dropped` });
    }
    if (dropped > 0) {
      emit({ type: 'warning', message: `${dropped} records the client delivered a second time while the first copies were in flight were dropped` });
      positions = new Map([...positions].filter(([k]) => !twice.has(k)));
    }
    const keptPositions = holds.size === 0 ? positions : new Map([...positions].filter(([k]) => !holds.has(k)));
    if (kept.length === 0 && keptPositions.size === 0) return Promise.resolve(again);
    const done = handOut(kept, keptPositions, context);
    return again.size === 0 ? done : done.then((d) => new Map([...again, ...d]));
  };

  /** Queues records and hands them to the service; the promise settles when they are done. */
  const handOut = (kept: SourceRecord[], keptPositions: ReadonlyMap<string, bigint>, context: unknown): Promise<ReadonlyMap<string, bigint>> => {
    let resolve!: Entry['resolve'];
    const promise = new Promise<ReadonlyMap<string, bigint>>((r) => (resolve = r));
    const entry: Entry = { records: kept, positions: keptPositions, context, epoch, resolve, promise };
    queue.push(entry);
    outstanding++;
    setInFlight(kept.length);
    if (kept.length === 0) {
      entry.outputs = [];
      scheduleFlush();
      return promise;
    }
    const byTopic = new Map<string, number>();
    for (const r of kept) byTopic.set(r.topic, (byTopic.get(r.topic) ?? 0) + 1);
    for (const [topic, n] of byTopic) o.observer?.received?.(topic, n);
    handlers!.batch({
      records: kept,
      ack: (outputs) => {
        const settled = promise.then(() => undefined);
        if (entry.outputs !== undefined || entry.released) return settled;
        if (outputs.length !== kept.length) {
          fail(new Error(`a batch of ${kept.length} records was acknowledged with ${outputs.length} outputs`));
          return settled;
        }
        entry.outputs = outputs;
        scheduleFlush();
        return settled;
      },
      release: (reason) => {
        if (entry.outputs !== undefined || entry.released) return;
        entry.released = reason;
        scheduleFlush();
      },
    });
    return promise;
  };

  const heldAt = (topic: string, partition: number, offset: bigint) => {
    const h = holds.get(tpKey(topic, partition));
    return h !== undefined && offset >= h.offset;
  };
  /** Whether `r`'s partition is held at or below it; without a key or a BigInt per record when nothing is held (the usual case, checked up to 4 times per output). */
  const isHeld = (r: SourceRecord) => holds.size > 0 && heldAt(r.topic, r.partition, BigInt(r.offset));

  const fail = (error: Error) => {
    if (stopping) return;
    log.error({ err: error.message }, 'Kafka transport failed');
    emit({ type: 'fatal', error });
  };

  // ---- publishing ---------------------------------------------------------------------------

  const scheduleFlush = () => {
    if (flushing) return;
    // Started on a later microtask, so `flushing` is set before the loop runs and cleared after it.
    flushing = Promise.resolve()
      .then(async () => {
        for (let taken = take(); taken.length > 0; taken = take()) await exclusive(() => flush(taken));
      })
      .catch((err: unknown) => {
        if (!(err instanceof Stopped)) fail(err instanceof Error ? err : new Error(String(err)));
      })
      .finally(() => {
        flushing = undefined;
        // Acknowledgements that came in while the last flush ran.
        const head = queue[0];
        if (head && (head.outputs !== undefined || head.released || head.epoch !== epoch)) scheduleFlush();
      });
  };

  /** Resolves once no flush is running. */
  const flushed = async () => {
    while (flushing) await flushing;
  };

  /** The acknowledged prefix of the queue, up to FLUSH_MAX_BYTES of outputs; stale and released entries are settled on the way. */
  const take = (): Entry[] => {
    const out: Entry[] = [];
    let bytes = 0;
    while (queue.length > 0) {
      const head = queue[0]!;
      if (head.epoch !== epoch) {
        if (head.records.length > 0) emit({ type: 'dropped', records: head.records.length, why: 'read again after a rejoin or rewind' });
        settle(head, new Map());
        continue;
      }
      if (head.released) {
        for (const r of head.records) hold(r.topic, r.partition, BigInt(r.offset), 'NOT_SCORED', head.released.message);
        settle(head, new Map());
        continue;
      }
      if (head.outputs === undefined) break;
      const size = head.outputs.reduce((n, m) => n + messageBytes(m), 0);
      if (out.length > 0 && bytes + size > FLUSH_MAX_BYTES) break;
      bytes += size;
      out.push(queue.shift()!);
    }
    // Taken entries leave the queue now; settle() below finds them gone and only counts them out.
    return out;
  };

  const place = (message: OutboundMessage, record: SourceRecord): PlacedMessage => {
    const info = topics.get(message.topic);
    const max = (info?.maxMessageBytes ?? 1_048_588) - BATCH_OVERHEAD_BYTES;
    const fitted = fitMessage(message, record, { maxBytes: Math.min(max, FLUSH_MAX_BYTES), dlqTopic: o.dlqTopic, prefixBytes: o.dlqValuePrefixBytes });
    const n = topics.get(fitted.topic)?.partitions ?? 1;
    // Events by key (the Java client's murmur2, so per-key order holds downstream); dead letters, and
    // events without a key, by input partition: one input partition's dead letters share one DLQ
    // partition, so they go out as one atomic batch.
    const partition = fitted.kind === 'event' && fitted.key !== null ? partitionFor(fitted.key, n) : record.partition % n;
    return { ...fitted, partition };
  };

  const flush = async (entries: Entry[]) => {
    const items: Item[] = [];
    for (const entry of entries) {
      entry.records.forEach((record, i) => {
        if (isHeld(record)) return;
        items.push({ record, message: place(entry.outputs![i]!, record), entry });
      });
    }
    const sent = exactlyOnce ? await publishTransactional(items, entries) : await publishAtLeastOnce(items);
    if (sent === 'stale') {
      for (const e of entries) settle(e, new Map());
      return;
    }
    const done = items.filter((it) => !isHeld(it.record));
    if (done.length > 0) o.observer?.published?.(done.map((it) => it.message), done.map((it) => it.record));
    if (!exactlyOnce) await commit(commitTargets(entries, done), entries[0]!.context);
    const published = new Set(done.map((it) => it.record));
    for (const e of entries) {
      // Per entry, the last of its own records that went out: kafkajs resolves its batch up to there.
      const mine = new Map<string, bigint>();
      for (const r of e.records) if (published.has(r)) mine.set(tpKey(r.topic, r.partition), BigInt(r.offset));
      settle(e, mine);
    }
  };

  /**
   * The offset to commit per partition after these entries: past the last record published, or past
   * trailing markers when nothing of the partition is left in the queue and it is not held.
   */
  const commitTargets = (entries: Entry[], done: Item[]): PartitionOffset[] => {
    const targets = new Map<string, PartitionOffset>();
    const raise = (topic: string, partition: number, offset: bigint) => {
      const k = tpKey(topic, partition);
      const t = targets.get(k);
      if (!t || offset > t.offset) targets.set(k, { topic, partition, offset });
    };
    for (const it of done) raise(it.record.topic, it.record.partition, BigInt(it.record.offset) + 1n);
    const pending = new Set(queue.flatMap((e) => e.records.map((r) => tpKey(r.topic, r.partition))));
    for (const e of entries) {
      for (const [k, position] of e.positions) {
        if (pending.has(k) || holds.has(k)) continue;
        const i = k.lastIndexOf(':');
        raise(k.slice(0, i), Number(k.slice(i + 1)), position);
      }
    }
    return [...targets.values()].filter((t) => (committed.get(tpKey(t.topic, t.partition)) ?? -1n) < t.offset);
  };

  const commit = async (offsets: PartitionOffset[], context: unknown) => {
    if (offsets.length === 0) return;
    try {
      await retry(() => driver.commit(offsets, context), {
        ...PUBLISH_BACKOFF,
        maxAttempts: 5,
        retriable: (err) => classifyKafkaError(err).kind === 'retriable',
        signal: stopSignal.signal,
      });
      for (const t of offsets) committed.set(tpKey(t.topic, t.partition), t.offset);
      o.observer?.committed?.('ok');
    } catch (err) {
      // A commit lost to a rebalance means these records are delivered again: duplicates, never loss.
      o.observer?.committed?.('error');
      emit({ type: 'warning', message: 'offset commit failed; the records will be delivered again', err: classifyKafkaError(err).message });
    }
  };

  /** Retries `send` while the failure is transient; returns the first failure of another kind. */
  const untilNotTransient = async (what: string, send: () => Promise<void>): Promise<KafkaErrorInfo | undefined> => {
    for (let attempt = 1; ; attempt++) {
      try {
        await settledWithin(send(), SEND_STALL_MS, 'the send');
        return undefined;
      } catch (err) {
        const info = classifyKafkaError(err);
        if (stopSignal.signal.aborted) throw new Stopped();
        if (info.kind !== 'retriable' && info.kind !== 'fenced') return info;
        if (info.code === 'STALLED') await driver.renewProducer();
        const delay = backoffDelay(attempt, PUBLISH_BACKOFF);
        if (attempt === 1 || attempt % 10 === 0) emit({ type: 'warning', message: `${what} failed; retrying in ${delay} ms`, err: `${info.code}: ${info.message}` });
        await sleep(delay, stopSignal.signal);
      }
    }
  };

  /**
   * At-least-once. Dead letters first, one input partition at a time: they land in one DLQ partition,
   * so each send is one atomic batch, and a refused one is split until the record the broker refuses
   * is found, with nothing sent twice. Then every event in one request. A refused event request is
   * resent one input partition at a time; only then can events of another partition that the broker
   * had already taken in the refused request be written twice (docs/reliability.md).
   */
  const publishAtLeastOnce = async (items: Item[]): Promise<'ok' | 'stale'> => {
    const deadLetters = groupByInput(items.filter((it) => it.message.kind === 'dead-letter'));
    for (const group of deadLetters.values()) await sendIsolating(group);
    const events = items.filter((it) => it.message.kind === 'event');
    for (const chunk of bySize(events, chunkBytes())) {
      const open = chunk.filter((it) => !isHeld(it.record));
      if (open.length === 0) continue;
      const failure = await untilNotTransient('publishing events', () => driver.send(open.map((it) => it.message)));
      if (failure === undefined) continue;
      if (failure.kind === 'fatal') throw new Error(`publishing events failed: ${failure.code}: ${failure.message}`);
      for (const group of groupByInput(open).values()) await sendIsolating(group);
    }
    return 'ok';
  };

  /**
   * Bytes of outputs one produce request carries: each partition's batch in it stays under the
   * smallest max.message.bytes of the output and DLQ topics (a flush of one fetch of small records
   * is ~10 MB of events, which as one request broke the 1 MB default: MESSAGE_TOO_LARGE).
   */
  const chunkBytes = () => Math.min(FLUSH_MAX_BYTES, ...[...topics.values()].map((t) => t.maxMessageBytes - BATCH_OVERHEAD_BYTES));

  /** Sends one input partition's outputs in shrinking chunks; the first record refused alone holds the partition. */
  const sendIsolating = async (group: Item[]) => {
    let rest = group.filter((it) => !isHeld(it.record));
    let size = bySize(rest, chunkBytes())[0]?.length ?? 0;
    while (rest.length > 0) {
      const chunk = rest.slice(0, size);
      const failure = await untilNotTransient(`publishing to ${chunk[0]!.message.topic}`, () => driver.send(chunk.map((it) => it.message)));
      if (failure === undefined) {
        rest = rest.slice(chunk.length);
        size = bySize(rest, chunkBytes())[0]?.length ?? 0;
        continue;
      }
      if (failure.kind === 'fatal') throw new Error(`publishing failed: ${failure.code}: ${failure.message}`);
      if (chunk.length > 1) {
        size = Math.ceil(chunk.length / 2);
        continue;
      }
      holdRefused(chunk[0]!, failure);
      return;
    }
  };

  /**
   * Exactly-once: one transaction with every output and the offsets of every partition covered. A
   * failed commit whose outcome is unknown is settled by a new producer under the same transactional
   * id, then read back from the group's committed offsets. A refused one is aborted and redone one
   * input partition at a time, each split until the refused record is found; the others commit.
   */
  const publishTransactional = async (items: Item[], entries: Entry[]): Promise<'ok' | 'stale'> => {
    const context = entries[0]!.context;
    const targets = commitTargets(entries, items);
    const outcome = await transactUntilSettled(items, targets, context);
    if (outcome === 'committed') {
      for (const t of targets) committed.set(tpKey(t.topic, t.partition), t.offset);
      o.observer?.committed?.('ok');
      return 'ok';
    }
    if (outcome === 'stale') return 'stale';
    // Refused: isolate per input partition.
    for (const group of groupByInput(items).values()) {
      let rest = group;
      let size = rest.length;
      while (rest.length > 0) {
        const chunk = rest.slice(0, size);
        const last = chunk.at(-1)!.record;
        const offsets = [{ topic: last.topic, partition: last.partition, offset: BigInt(last.offset) + 1n }];
        const r = await transactUntilSettled(chunk, offsets, context);
        if (r === 'stale') return 'stale';
        if (r === 'committed') {
          committed.set(tpKey(last.topic, last.partition), offsets[0]!.offset);
          rest = rest.slice(chunk.length);
          size = rest.length;
          continue;
        }
        if (chunk.length > 1) {
          size = Math.ceil(chunk.length / 2);
          continue;
        }
        holdRefused(chunk[0]!, r);
        break;
      }
    }
    return 'ok';
  };

  /** When this producer was last fenced; a few fencings in a row mean another live replica shares the transactional id. */
  const fencings: number[] = [];
  const noteFencing = (info: KafkaErrorInfo) => {
    const now = Date.now();
    fencings.push(now);
    while (fencings.length > 0 && now - fencings[0]! > FENCING_WINDOW_MS) fencings.shift();
    if (fencings.length >= MAX_FENCINGS) {
      throw new Error(`the producer was fenced ${fencings.length} times in ${FENCING_WINDOW_MS / 1000} s (${info.code}): another replica uses the same transactional id; give each replica its own (GROUP_INSTANCE_ID or TRANSACTIONAL_ID)`);
    }
  };

  const transactUntilSettled = async (items: Item[], offsets: PartitionOffset[], context: unknown): Promise<'committed' | 'stale' | KafkaErrorInfo> => {
    for (let attempt = 1; ; attempt++) {
      try {
        await settledWithin(driver.transaction(bySize(items, chunkBytes()).map((chunk) => chunk.map((it) => it.message)), offsets, context), TRANSACTION_STALL_MS, 'the transaction');
        return 'committed';
      } catch (err) {
        const info = classifyKafkaError(err);
        if (info.kind === 'fatal') throw new Error(`the transaction failed: ${info.code}: ${info.message}`);
        if (info.kind === 'fenced') noteFencing(info);
        if (stopSignal.signal.aborted) throw new Stopped();
        // Whatever failed, the next transaction gets a fresh producer: after an abort both clients
        // can keep sequence numbers the broker no longer expects (OUT_OF_ORDER_SEQUENCE_NUMBER on
        // every later transaction: the refused-dead-letter scenario held every partition so).
        if (info.kind === 'stale') {
          await driver.renewProducer();
          emit({ type: 'warning', message: 'transaction aborted: the group moved on (rebalance); its records are read again by their owner', err: info.code });
          return 'stale';
        }
        if (info.kind === 'refused') {
          await driver.renewProducer();
          return info;
        }
        emit({ type: 'warning', message: `transaction failed; settling it and retrying`, err: `${info.code}: ${info.message}` });
        await driver.renewProducer();
        // The old transaction is settled now: if it committed, its offsets are the group's.
        if (offsets.length > 0) {
          const now = await retry(() => driver.committed(offsets), { ...PUBLISH_BACKOFF, signal: stopSignal.signal });
          if (offsets.every((t) => (now.get(tpKey(t.topic, t.partition)) ?? -1n) >= t.offset)) return 'committed';
        }
        await sleep(backoffDelay(attempt, PUBLISH_BACKOFF), stopSignal.signal);
      }
    }
  };

  // ---- held partitions ----------------------------------------------------------------------

  const holdRefused = (item: Item, failure: KafkaErrorInfo) => {
    o.observer?.refused?.(item.message.topic, failure.code);
    hold(item.record.topic, item.record.partition, BigInt(item.record.offset), failure.code, failure.message, item);
  };

  const hold = (topic: string, partition: number, offset: bigint, code: string, reason: string, item?: Item) => {
    const k = tpKey(topic, partition);
    handedOut.delete(k);
    const existing = holds.get(k);
    if (existing && existing.offset <= offset) return;
    if (existing?.timer) clearTimeout(existing.timer);
    const h: Hold = { topic, partition, offset, code, reason, attempt: 0, ...(item ? { item } : {}) };
    holds.set(k, h);
    driver.holdPartition({ topic, partition });
    log.error({ topic, partition, offset: String(offset), code, reason, outputTopic: item?.message.topic }, item ? 'the broker refuses this record\'s output; its partition is held at this offset and the output retried' : 'records not scored; their partition is held until it is read again');
    emit({ type: 'partition-held', topic, partition, offset: String(offset), code, reason });
    if (item) scheduleRetry(h);
  };

  const scheduleRetry = (h: Hold) => {
    h.attempt++;
    const delay = backoffDelay(h.attempt, { initialMs: 1_000, maxMs: o.outputRetryMaxMs });
    h.timer = setTimeout(() => void retryHeld(h), delay);
    h.timer.unref();
  };

  const retryHeld = async (h: Hold) => {
    const k = tpKey(h.topic, h.partition);
    if (holds.get(k) !== h || stopping || !h.item) return;
    const item = h.item;
    const next = h.offset + 1n;
    let result: 'ok' | 'stale' | KafkaErrorInfo;
    try {
      // One at a time with the flushes: the held output must not interleave with a transaction.
      result = await exclusive(async () => {
        if (exactlyOnce) {
          const r = await transactUntilSettled([item], [{ topic: h.topic, partition: h.partition, offset: next }], item.entry.context);
          return r === 'committed' ? 'ok' : r;
        }
        const failure = await untilNotTransient(`publishing the held output of ${k}`, () => driver.send([item.message]));
        if (failure === undefined) await commit([{ topic: h.topic, partition: h.partition, offset: next }], item.entry.context);
        return failure ?? 'ok';
      });
    } catch (err) {
      if (!(err instanceof Stopped)) fail(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    if (holds.get(k) !== h) return;
    if (result === 'stale') {
      holds.delete(k);
      return;
    }
    if (result !== 'ok') {
      log.warn({ topic: h.topic, partition: h.partition, offset: String(h.offset), code: result.code }, 'the held output is still refused');
      scheduleRetry(h);
      return;
    }
    committed.set(k, next);
    o.observer?.published?.([item.message], [item.record]);
    holds.delete(k);
    log.info({ topic: h.topic, partition: h.partition, offset: String(h.offset) }, 'the held output was accepted; reading the partition again');
    emit({ type: 'partition-released', topic: h.topic, partition: h.partition, offset: String(h.offset) });
    await rewind({ topic: h.topic, partition: h.partition }, next);
  };

  const rewind = async (tp: TopicPartition, offset: bigint) => {
    if (driver.needsDrainToRewind) await fence('rewind');
    try {
      await readAgain(tp, offset);
    } finally {
      if (driver.needsDrainToRewind) unfence();
    }
  };

  // ---- undecodable batches ------------------------------------------------------------------

  let quarantine: Promise<void> | undefined;

  /**
   * A fetch keeps failing to decode: no client can read those bytes (the Java consumer stops there
   * too), and without this the whole fetch (every partition on that broker) would stall for ever.
   * Drain, find each partition's undecodable batch from its committed offset, write one dead letter
   * (CORRUPT_BATCH) naming the skipped offsets and commit past them (in one transaction,
   * exactly-once), then read again from the committed offsets.
   */
  const undecodable = (err: unknown) => {
    if (quarantine || stopping) return;
    quarantine = (async () => {
      emit({ type: 'warning', message: 'a fetch cannot be decoded; finding the batch', err: classifyKafkaError(err).message });
      await fence('an undecodable batch');
      try {
        const tps = assignment.flatMap((a) => a.partitions.map((partition) => ({ topic: a.topic, partition })));
        const now = await retry(() => driver.committed(tps), { ...PUBLISH_BACKOFF, maxAttempts: 20, signal: stopSignal.signal });
        const ranges = await retry(() => o.findUndecodable(tps.map((tp) => ({ ...tp, offset: now.get(tpKey(tp.topic, tp.partition)) ?? -1n }))), {
          ...PUBLISH_BACKOFF,
          maxAttempts: 20,
          signal: stopSignal.signal,
        });
        for (const r of ranges) {
          // The records between the committed offset and the bad batch decode: they are scored and
          // committed first (handed out here, as a fetch would), and only the bad batch is skipped.
          if (r.before.length > 0) {
            const done = await handOut(r.before, new Map(), undefined);
            const last = done.get(tpKey(r.topic, r.partition));
            if (last === undefined || last < BigInt(r.before.at(-1)!.offset)) throw new Error(`the records before the undecodable batch of ${r.topic}-${r.partition} were not all published`);
          }
          await skip(r);
        }
        if (driver.needsDrainToRewind || ranges.length === 0) await readAgain(tps[0] ?? { topic: '', partition: 0 }, -1n);
        else for (const r of ranges) await readAgain(r, r.to + 1n);
      } catch (e) {
        if (!(e instanceof Stopped) && !stopping) emit({ type: 'warning', message: 'could not skip the undecodable batch; reading again', err: classifyKafkaError(e).message });
        await readAgain({ topic: '', partition: 0 }, -1n).catch(() => undefined);
      } finally {
        unfence();
        quarantine = undefined;
      }
    })();
  };

  const skip = async (r: UndecodableRange) => {
    const message = skippedRecordsMessage(o.dlqTopic, r);
    const placed: PlacedMessage = { ...message, partition: r.partition % (topics.get(o.dlqTopic)?.partitions ?? 1) };
    const offsets = [{ topic: r.topic, partition: r.partition, offset: r.to + 1n }];
    await exclusive(async () => {
      if (exactlyOnce) {
        const result = await transactUntilSettled([{ message: placed } as Item], offsets, undefined);
        if (result !== 'committed') throw new Error(`the dead letter for the skipped records was not committed: ${typeof result === 'string' ? result : result.code}`);
      } else {
        const failure = await untilNotTransient('publishing the record of skipped records', () => driver.send([placed]));
        if (failure) throw new Error(`${failure.code}: ${failure.message}`);
        await commit(offsets, undefined);
      }
    });
    committed.set(tpKey(r.topic, r.partition), r.to + 1n);
    const n = Number(r.to - r.from + 1n);
    o.observer?.skipped?.(r.topic, n);
    log.error({ topic: r.topic, partition: r.partition, from: String(r.from), to: String(r.to), reason: r.reason, dlq: o.dlqTopic }, 'records no client can decode were skipped; a CORRUPT_BATCH dead letter names them');
    emit({ type: 'records-skipped', topic: r.topic, partition: r.partition, from: String(r.from), to: String(r.to), reason: r.reason });
  };

  // ---- a failed record stream -----------------------------------------------------------------

  let restarting: Promise<void> | undefined;

  /**
   * The client's record stream failed (@platformatic/kafka, a fetch that kept failing through a
   * leader failover). Its records in flight are finished (or dropped) before anything is read
   * again: a new stream opened at once started from the committed offsets while those records were
   * still being published, and read them a second time (4,675 and 8,225 duplicate ids behind a
   * read_committed reader in two exactly-once runs of the 3-node scenario).
   */
  const streamFailed = (err: unknown) => {
    emit({ type: 'warning', message: 'the consumer stream failed; finishing what it handed out, then reading again from the committed offsets', err: classifyKafkaError(err).message });
    if (restarting || stopping) return;
    restarting = (async () => {
      await fence('a consumer stream failed');
      try {
        await retry(() => readAgain({ topic: '', partition: 0 }, -1n), {
          initialMs: 500,
          maxMs: 30_000,
          signal: stopSignal.signal,
          onRetry: (e, _n, delay) => emit({ type: 'warning', message: `could not start a new consumer stream; retrying in ${delay} ms`, err: classifyKafkaError(e).message }),
        });
      } catch {
        // Only a stop ends the retries: the process is leaving.
      } finally {
        unfence();
        restarting = undefined;
      }
    })();
  };

  // ---- draining ------------------------------------------------------------------------------

  /** Resolves when the queue is empty, or after `ms`. */
  const drained = (ms: number) =>
    new Promise<boolean>((resolve) => {
      if (outstanding === 0) return resolve(true);
      const timer = setTimeout(() => resolve(outstanding === 0), ms);
      drainWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });

  /** Stops intake, waits for in-flight work (bounded), then starts a new epoch: what is left is dropped. */
  const fence = async (why: string) => {
    fenced = true;
    if (!paused) driver.pauseFetching();
    const ok = await drained(o.drainTimeoutMs);
    if (!ok) log.warn({ why, left: inFlight }, 'in-flight records not done in time; they are dropped and read again');
    await flushed();
    epoch++;
    scheduleFlush();
  };

  const unfence = () => {
    fenced = false;
    // Backpressure may have paused fetching before the fence, and the in-flight records it waited
    // for were dropped meanwhile: nothing would ever resume it (the scale scenario's survivor sat
    // paused with 3,500 records of lag). Resume when what is left in flight allows it.
    if (paused && inFlight <= o.maxInFlight / 2) paused = false;
    if (!paused && !stopping) driver.resumeFetching();
  };

  return {
    client: driver.name,
    get assignment() {
      return assignment;
    },
    get inFlight() {
      return inFlight;
    },
    get held() {
      return [...holds.values()].map((h) => ({ topic: h.topic, partition: h.partition, offset: String(h.offset), code: h.code }));
    },
    async start(h) {
      handlers = h;
      await retry(() => driver.connect(), {
        initialMs: 1_000,
        maxMs: 30_000,
        signal: stopSignal.signal,
        // A producer fenced at registration has found a predecessor's transaction still settling.
        retriable: (err) => ['retriable', 'fenced'].includes(classifyKafkaError(err).kind),
        onRetry: (err, _n, delay) => emit({ type: 'warning', message: `Kafka cannot be reached yet; not ready, retrying in ${delay} ms`, err: classifyKafkaError(err).message }),
      });
      // Every topic must exist before the group is joined: the scorer creates none, and a missing
      // one is a setting to fix (one line naming it), not something to wait for.
      const described = await driver.describeTopics([...o.inputTopics, o.outputTopic, o.dlqTopic]);
      const missing = [
        ...o.inputTopics.filter((t) => !described.has(t)).map((t) => ['INPUT_TOPICS', t]),
        ...[['OUTPUT_TOPIC', o.outputTopic], ['DLQ_TOPIC', o.dlqTopic]].filter(([, t]) => !described.has(t!)),
      ];
      if (missing.length > 0) {
        throw new Error(`${missing.map(([setting, t]) => `${setting}: topic "${t}" not found on the cluster`).join('; ')} (create ${missing.length > 1 ? 'them' : 'it'} first; the scorer does not create topics)`);
      }
      topics = described;
      await driver.startConsuming({
        records: intake,
        assigned(a) {
          // Whatever was handed out under the old generation is read again by whoever owns it now.
          epoch++;
          scheduleFlush();
          assignment = a;
          const mine = new Set(a.flatMap((t) => t.partitions.map((p) => tpKey(t.topic, p))));
          for (const [k, hold] of holds) {
            if (!mine.has(k)) {
              clearTimeout(hold.timer);
              holds.delete(k);
            }
          }
          for (const k of [...committed.keys()]) if (!mine.has(k)) committed.delete(k);
          emit({ type: 'assigned', assignment: a });
          if (fenced) unfence();
        },
        rejoining: () => fence('rejoin'),
        undecodable,
        streamFailed,
        warning: (message, err) => emit({ type: 'warning', message, ...(err === undefined ? {} : { err: classifyKafkaError(err).message }) }),
        fatal: fail,
      });
    },
    async stop(timeoutMs) {
      stopping = true;
      driver.pauseFetching();
      const ok = await drained(timeoutMs);
      if (!ok) log.warn({ left: inFlight }, 'stopping with records not done; they are delivered again');
      stopSignal.abort();
      await flushed();
      for (const hold of holds.values()) clearTimeout(hold.timer);
      await driver.stopConsuming().catch((err: unknown) => log.warn({ err: (err as Error).message }, 'leaving the group failed'));
      await driver.closeProducer().catch((err: unknown) => log.warn({ err: (err as Error).message }, 'closing the producer failed'));
      drainWaiters = [];
    },
  };
}

/** Thrown inside a flush when stop() gave up waiting: the process is exiting, nothing is wrong. */
class Stopped extends Error {
  constructor() {
    super('the transport is stopping');
  }
}

/** Consecutive runs of `items` of at most `maxBytes` of outputs each (a single larger one alone). */
function bySize(items: Item[], maxBytes: number): Item[][] {
  const out: Item[][] = [];
  let current: Item[] = [];
  let bytes = 0;
  for (const it of items) {
    const size = messageBytes(it.message);
    if (current.length > 0 && bytes + size > maxBytes) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(it);
    bytes += size;
  }
  if (current.length > 0) out.push(current);
  return out;
}

function groupByInput(items: Item[]): Map<string, Item[]> {
  const groups = new Map<string, Item[]>();
  for (const it of items) {
    const k = tpKey(it.record.topic, it.record.partition);
    const g = groups.get(k);
    if (g) g.push(it);
    else groups.set(k, [it]);
  }
  return groups;
}

/** `work`, or a retriable STALLED error once `ms` pass without it settling (the work is abandoned, not stopped). */
function settledWithin<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`${what} did not settle in ${ms / 1000} s`), { type: 'STALLED' })), ms);
  });
  // The abandoned work may still fail later: that is expected, not an unhandled rejection.
  work.catch(() => undefined);
  return Promise.race([work, stalled]).finally(() => clearTimeout(timer));
}

/** Records per partition key. */
function countByPartition(records: readonly SourceRecord[]): Map<string, number> {
  const n = new Map<string, number>();
  for (const r of records) {
    const k = tpKey(r.topic, r.partition);
    n.set(k, (n.get(k) ?? 0) + 1);
  }
  return n;
}
