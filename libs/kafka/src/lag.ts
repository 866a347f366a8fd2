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
}

export interface LagSnapshot {
  groupId: string;
  partitions: PartitionLag[];
  /** Sum of `lag` over each topic's partitions; every topic asked for appears, even at 0. */
  totals: Map<string, number>;
  /** Date.now() when the read finished. */
  at: number;
}

/**
 * Lag per partition: records between where the group resumes and the high watermark.
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
      return { topic: w.topic, partition: w.partition, lag: Number(lag), position: position.toString(), high: w.high, uncommitted };
    })
    .sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
}

/** Sum of lag per topic; topics in `topics` with no partitions still appear with 0. */
export function totalLag(partitions: PartitionLag[], topics: string[] = []): Map<string, number> {
  const totals = new Map<string, number>(topics.map((t) => [t, 0]));
  for (const p of partitions) totals.set(p.topic, (totals.get(p.topic) ?? 0) + p.lag);
  return totals;
}

export interface LagReader {
  /** One read: committed offsets and watermarks from the brokers. Rejects when Kafka cannot answer in time. */
  read(): Promise<LagSnapshot>;
  close(): Promise<void>;
}

export interface LagReaderOptions {
  /** A read that has not finished after this long is reported as failed. Default 10 s. */
  timeoutMs?: number;
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
      return { groupId, partitions, totals: totalLag(partitions, topics), at: Date.now() };
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
