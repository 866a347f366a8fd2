import type { Admin, Kafka } from 'kafkajs';

/** Low and high watermark of one partition, as the broker reports them (offsets are decimal strings). */
export interface Watermarks {
  topic: string;
  partition: number;
  low: string;
  high: string;
}

/** A group's committed offset on one partition; `-1` (or anything negative) means none committed. */
export interface CommittedOffset {
  topic: string;
  partition: number;
  offset: string;
}

export interface PartitionLag {
  topic: string;
  partition: number;
  /** Records the group still has to read on this partition. */
  lag: number;
  /** Where the group resumes: its committed offset, or the low watermark when it has none. */
  position: string;
  /** High watermark: the offset the next record written to the partition gets. */
  high: string;
  /** True when the group has no committed offset here (lag counted from the low watermark). */
  uncommitted: boolean;
  /** The group's committed offset as the broker returned it (`-1` when none): what drain rates are measured on. */
  committed: string;
}

export interface LagSnapshot {
  groupId: string;
  partitions: PartitionLag[];
  /** Sum of `lag` over each topic's partitions; every topic asked for appears, even at 0. */
  totals: Map<string, number>;
  /** Date.now() when the read finished. */
  at: number;
  /**
   * Time to drain each topic's lag (see `estimateDrain`), when the reader was given a drain window
   * and has read for at least that long; undefined before.
   */
  drain?: Map<string, TopicDrain>;
}

/**
 * Lag per partition: records between where the group resumes and the high watermark.
 *
 * `high` is what ListOffsets returns at the read_committed isolation level (kafkajs' default for
 * it): the last stable offset, which is the high watermark once no transaction is open on the
 * partition. Lag is exactly `high - committed`, with no +1/-1 correction anywhere: a consumer that
 * commits past the control marker that ends a transaction (the scorer commits its fetch position,
 * which is past it) reads lag 0 on an idle partition. Counting the last record's offset + 1 instead
 * would leave one marker per partition as lag forever, which is what keeps KEDA from scaling an
 * exactly-once group to zero (KEDA issue 5675). Test: lag.test.ts and test/integration/sidecar.test.ts
 * ("transaction markers").
 *
 * - No committed offset: the scorer subscribes `fromBeginning`, so a new group starts at the low
 *   watermark and everything retained is still to read; lag = high - low (not high, which would count
 *   records deleted by retention that nobody can read).
 * - Committed offset below the low watermark (retention deleted records the group never read): the
 *   consumer resets to the low watermark, so lag = high - low as well.
 * - Never negative: a committed offset can briefly lead a stale high watermark read.
 *
 * Arithmetic is in BigInt (offsets are int64) and converted once at the end; Prometheus stores
 * float64 anyway, exact to 2^53 records, far beyond any real lag.
 */
export function computeLag(watermarks: Watermarks[], committed: CommittedOffset[]): PartitionLag[] {
  const commits = new Map(committed.map((c) => [`${c.topic}\u0000${c.partition}`, BigInt(c.offset)]));
  return watermarks
    .map((w) => {
      const low = BigInt(w.low);
      const high = BigInt(w.high);
      const commit = commits.get(`${w.topic}\u0000${w.partition}`);
      const uncommitted = commit === undefined || commit < 0n;
      const position = uncommitted || commit < low ? low : commit;
      const lag = high > position ? high - position : 0n;
      return { topic: w.topic, partition: w.partition, lag: Number(lag), position: position.toString(), high: w.high, uncommitted, committed: uncommitted ? '-1' : commit.toString() };
    })
    .sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
}

/** Sum of lag per topic; topics in `topics` with no partitions still appear with 0. */
export function totalLag(partitions: PartitionLag[], topics: string[] = []): Map<string, number> {
  const totals = new Map<string, number>(topics.map((t) => [t, 0]));
  for (const p of partitions) totals.set(p.topic, (totals.get(p.topic) ?? 0) + p.lag);
  return totals;
}

/** A topic's backlog and how fast the group is working it off. */
export interface TopicDrain {
  /** Records still to read on the topic (the latest read's lag, summed over its partitions). */
  lag: number;
  /** Offsets per second the group committed on the topic over the drain window. */
  rate: number;
  /**
   * Estimated seconds to drain `lag` at `rate`: 0 when `lag` is 0; `maxSeconds` when `lag` > 0
   * and nothing was committed over the window (a stalled or not yet started group); otherwise
   * `lag / rate`, at most `maxSeconds`. Always finite: KEDA's Prometheus scaler reads +Inf and NaN
   * as 0 (with ignoreNullValues) or as an error, and either would stop scaling when it matters most.
   */
  seconds: number;
}

/**
 * Offsets the group committed on one partition between two reads: from where it would have
 * resumed then (`before.position`: its commit, or the low watermark when it had none or retention
 * had passed it) to its commit now. Measured on commits, not on `position`, so retention moving
 * the low watermark under a stalled group is not mistaken for progress. Never negative: an offset
 * reset backwards is not progress. Transaction markers the group committed past count like records;
 * lag counts them too, so the estimate's units agree.
 */
export function committedProgress(before: PartitionLag, after: PartitionLag): bigint {
  if (after.uncommitted) return 0n;
  const progress = BigInt(after.committed) - BigInt(before.position);
  return progress > 0n ? progress : 0n;
}

/**
 * Time to drain, per topic, from two reads of one group: the latest lag divided by the rate the
 * group committed offsets at between `baseline` and `latest` (see TopicDrain for the value when
 * that rate is 0). Partitions absent from either read (added since) count from the next window.
 * The estimate ignores new arrivals: it says how long the backlog seen now takes at the pace seen
 * now, which is what a replica count can be sized on; arrivals that outpace the group show up as
 * lag that keeps growing, and so as an estimate that keeps growing.
 */
export function estimateDrain(baseline: LagSnapshot, latest: LagSnapshot, maxSeconds: number): Map<string, TopicDrain> {
  const seconds = (latest.at - baseline.at) / 1000;
  if (!(seconds > 0)) throw new Error(`estimateDrain needs a baseline read before the latest one (got ${baseline.at} and ${latest.at})`);
  const before = new Map(baseline.partitions.map((p) => [`${p.topic}\u0000${p.partition}`, p]));
  const progress = new Map<string, bigint>([...latest.totals.keys()].map((t) => [t, 0n]));
  for (const p of latest.partitions) {
    const b = before.get(`${p.topic}\u0000${p.partition}`);
    if (b !== undefined) progress.set(p.topic, (progress.get(p.topic) ?? 0n) + committedProgress(b, p));
  }
  const drain = new Map<string, TopicDrain>();
  for (const [topic, done] of progress) {
    const lag = latest.totals.get(topic) ?? 0;
    const rate = Number(done) / seconds;
    drain.set(topic, { lag, rate, seconds: lag === 0 ? 0 : rate > 0 ? Math.min(lag / rate, maxSeconds) : maxSeconds });
  }
  return drain;
}

export interface DrainOptions {
  /** How far back the rate looks, in ms. */
  windowMs: number;
  /** The estimate's upper bound and its value for a backlog with no progress. */
  maxSeconds: number;
}

/**
 * Keeps the reads of the last window and estimates time to drain from the oldest of them that is
 * at least `windowMs` old and the newest. Until the reads span a whole window there is no estimate:
 * a sidecar that has just started (or a scorer that has just woken) has seen no progress yet, and
 * reporting the no-progress value then would scale every start to the maximum.
 */
export class DrainWindow {
  private readonly reads: LagSnapshot[] = [];

  constructor(private readonly options: DrainOptions) {
    if (!(options.windowMs > 0) || !(options.maxSeconds > 0)) throw new Error(`DrainWindow needs a positive windowMs and maxSeconds (got ${options.windowMs} and ${options.maxSeconds})`);
  }

  /** Records a successful read and returns the estimate it allows, if any. */
  add(snapshot: LagSnapshot): Map<string, TopicDrain> | undefined {
    const last = this.reads.at(-1);
    // The wall clock stepped back (NTP): the times no longer measure intervals, so start over.
    if (last !== undefined && snapshot.at <= last.at) this.reads.length = 0;
    this.reads.push(snapshot);
    const cutoff = snapshot.at - this.options.windowMs;
    // Keep one read at or before the cutoff (the baseline) and everything after it.
    while (this.reads.length > 2 && this.reads[1]!.at <= cutoff) this.reads.shift();
    const baseline = this.reads[0]!;
    if (baseline === snapshot || baseline.at > cutoff) return undefined;
    return estimateDrain(baseline, snapshot, this.options.maxSeconds);
  }
}

export interface LagReader {
  /** One read: committed offsets and watermarks from the brokers. Rejects when Kafka cannot answer in time. */
  read(): Promise<LagSnapshot>;
  close(): Promise<void>;
}

export interface LagReaderOptions {
  /** A read that has not finished after this long is reported as failed. Default 10 s. */
  timeoutMs?: number;
  /** When given, each snapshot carries `drain`, estimated over this window of successful reads. */
  drain?: DrainOptions;
}

/**
 * Reads a consumer group's lag with the admin API.
 *
 * Failing fast matters more than retrying here: the caller reads on an interval, and that interval
 * is the retry. But a kafkajs request cannot be cancelled, and while the brokers are unreachable its
 * connect retries run for minutes (the client's backoff). So a read that outlives `timeoutMs`
 * rejects, and until its requests settle every further read rejects at once ("still waiting")
 * rather than starting more: one admin client and one set of requests at most, never a pile-up.
 * After a failure the admin client is dropped, so the next read starts from a fresh connection and
 * fresh metadata instead of a broken one.
 */
export function createLagReader(kafka: Kafka, groupId: string, topics: string[], options: LagReaderOptions = {}): LagReader {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const window = options.drain === undefined ? undefined : new DrainWindow(options.drain);
  let admin: Admin | undefined;
  let pending: Promise<LagSnapshot> | undefined;
  const drop = async () => {
    const a = admin;
    admin = undefined;
    await a?.disconnect().catch(() => undefined);
  };
  const readOnce = async (): Promise<LagSnapshot> => {
    try {
      if (admin === undefined) {
        admin = kafka.admin({ retry: { initialRetryTime: 200, maxRetryTime: 2_000, retries: 2 } });
        await admin.connect();
      }
      const a = admin;
      // allSettled, not all: a read is over only when every request is, so no retry of a failed
      // read is still running when the next read (or close) begins.
      const [marks, commits] = await Promise.allSettled([
        Promise.all(topics.map(async (topic) => (await a.fetchTopicOffsets(topic)).map((p) => ({ topic, partition: p.partition, low: p.low, high: p.high })))),
        a.fetchOffsets({ groupId, topics }),
      ] as const);
      if (marks.status === 'rejected') throw marks.reason;
      if (commits.status === 'rejected') throw commits.reason;
      const committed = commits.value.flatMap((t) => t.partitions.map((p) => ({ topic: t.topic, partition: p.partition, offset: p.offset })));
      const partitions = computeLag(marks.value.flat(), committed);
      const snapshot: LagSnapshot = { groupId, partitions, totals: totalLag(partitions, topics), at: Date.now() };
      snapshot.drain = window?.add(snapshot);
      return snapshot;
    } catch (err) {
      await drop();
      throw err;
    }
  };
  return {
    async read() {
      if (pending !== undefined) throw new Error(`previous lag read still waiting for Kafka (over ${timeoutMs} ms)`);
      const current = readOnce();
      pending = current;
      const settled = current.then(
        () => undefined,
        () => undefined,
      );
      void settled.then(() => {
        if (pending === current) pending = undefined;
      });
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`lag read timed out after ${timeoutMs} ms`)), timeoutMs);
      });
      try {
        return await Promise.race([current, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    close: drop,
  };
}
