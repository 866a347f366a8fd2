import { Consumer, FetchIsolationLevels, ListOffsetTimestamps } from '@platformatic/kafka';
import { baseOptions } from './platformatic-admin.js';
import type { SourceRecord } from '@sentiment-stream/events';
import type { TopicPartition } from './driver.js';
import type { KafkaSettings } from './settings.js';

/** Records of a partition no client can decode: from `from` to `to`, both included. */
export interface UndecodableRange extends TopicPartition {
  from: bigint;
  to: bigint;
  /** What the decoder said. */
  reason: string;
  /** The records between the partition's position and `from`, which do decode (read_committed: no aborted or control records). */
  before: SourceRecord[];
}

/**
 * The decoders' own errors (zlib, zstd, lz4, snappy, a record that runs past its batch): a fetch
 * that fails with one of these will fail the same way every time, unlike a broker or network error.
 */
const DECODE = /incorrect header check|invalid (stored block|block type|distance|code|literal)|unexpected end of file|header check|Unknown frame descriptor|zstd|lz4|snappy|decompress|corrupt|malformed|varint|out of range|Cannot read|beyond buffer|Z_DATA_ERROR|Z_BUF_ERROR/i;

export function isDecodeError(err: unknown): boolean {
  const seen = new Set<unknown>();
  const walk = (e: unknown, depth: number): boolean => {
    if (e === null || typeof e !== 'object' || seen.has(e) || depth > 8) return false;
    seen.add(e);
    const o = e as Record<string, unknown>;
    // Network trouble is never a decoding problem, whatever its message says.
    if (o.name === 'NetworkError' || o.name === 'TimeoutError' || /ECONN|ETIMEDOUT|EPIPE|socket/i.test(String(o.code ?? ''))) return false;
    if (DECODE.test(`${String(o.message ?? '')} ${String(o.code ?? '')}`)) return true;
    return walk(o.originalError, depth + 1) || walk(o.cause, depth + 1) || (Array.isArray(o.errors) && o.errors.some((x) => walk(x, depth + 1)));
  };
  return walk(err, 0);
}

/**
 * Finds, among `positions` (each partition's next offset to read), the partitions whose next batch
 * cannot be decoded, and where that stops: a fetch of one partition at an offset inside the bad
 * batch fails with a decode error, one past it does not, so the end is found by doubling then
 * halving (a few dozen fetches for a batch of thousands). Uses a group-less @platformatic/kafka
 * consumer's low-level fetch, whatever client the scorer consumes with.
 */
const MAX_BATCHES_WALKED = 2_000;
/** Record batch attribute bits (Kafka's DefaultRecordBatch). */
const TRANSACTIONAL = 0x10;
const CONTROL = 0x20;

export async function findUndecodable(settings: KafkaSettings, positions: readonly (TopicPartition & { offset: bigint })[]): Promise<UndecodableRange[]> {
  if (positions.length === 0) return [];
  // No retries: the first answer is the one wanted; the caller retries the whole search.
  const client = () => new Consumer({ ...baseOptions(settings), clientId: `${settings.KAFKA_CLIENT_ID}-probe`, groupId: `${settings.KAFKA_CLIENT_ID}-probe`, retries: 0 });
  const probe = client();
  try {
    const topics = [...new Set(positions.map((p) => p.topic))];
    for (const t of topics) probe.topics.track(t);
    const meta = await probe.metadata({ topics, forceUpdate: true });
    const ends = await probe.listOffsets({ topics, timestamp: ListOffsetTimestamps.LATEST, isolationLevel: FetchIsolationLevels.READ_UNCOMMITTED });
    const starts = await probe.listOffsets({ topics, timestamp: ListOffsetTimestamps.EARLIEST });
    /**
     * Fetches the one batch holding `offset` (a 1-byte limit: the broker always returns the first
     * batch whole, and nothing after it). Its last offset when it decodes, else the decoder's error.
     */
    const batchAt = async (topic: string, partition: number, offset: bigint): Promise<{ last: bigint; records: SourceRecord[] } | { error: string }> => {
      const t = meta.topics.get(topic)!;
      // A consumer per fetch: after a response it could not decode, a client's incremental fetch
      // session is out of step with the broker's (INVALID_FETCH_SESSION_EPOCH on the next fetch).
      const one = client();
      one.topics.track(topic);
      try {
        const res = await one.fetch({
          node: t.partitions[partition]!.leader,
          topics: [{ topicId: t.id, partitions: [{ partition, fetchOffset: offset, partitionMaxBytes: 1, currentLeaderEpoch: -1, lastFetchedEpoch: -1 }] }],
          maxWaitTime: 0,
          maxBytes: 1,
          isolationLevel: FetchIsolationLevels.READ_COMMITTED,
        });
        const parts = res.responses.flatMap((r) => r.partitions);
        const aborted = new Map(parts.flatMap((x) => x.abortedTransactions ?? []).map((a) => [a.producerId, a.firstOffset]));
        const batches = parts.flatMap((x) => x.records ?? []);
        const last = batches.reduce((m, b) => (b.firstOffset + BigInt(b.lastOffsetDelta) > m ? b.firstOffset + BigInt(b.lastOffsetDelta) : m), offset - 1n);
        const records: SourceRecord[] = [];
        for (const b of batches) {
          // Control batches (transaction markers) and batches of aborted transactions are not records to score.
          if (b.attributes & CONTROL) continue;
          const since = aborted.get(b.producerId);
          if (b.attributes & TRANSACTIONAL && since !== undefined && since <= b.firstOffset) continue;
          for (const r of b.records) {
            const at = b.firstOffset + BigInt(r.offsetDelta);
            if (at < offset) continue;
            const headers: SourceRecord['headers'] = {};
            for (const [k, v] of r.headers) {
              const name = k?.toString() ?? '';
              const prev = headers[name];
              const value = v ?? Buffer.alloc(0);
              headers[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
            }
            records.push({ topic, partition, offset: String(at), timestamp: String(b.firstTimestamp + r.timestampDelta), key: r.key, value: r.value, headers });
          }
        }
        return { last, records };
      } catch (err) {
        if (isDecodeError(err)) return { error: describe(err) };
        throw err;
      } finally {
        await one.close(true).catch(() => undefined);
      }
    };
    const failsAt = async (topic: string, partition: number, offset: bigint) => {
      const r = await batchAt(topic, partition, offset);
      return 'error' in r ? r.error : undefined;
    };
    const out: UndecodableRange[] = [];
    for (const p of positions) {
      const end = ends.get(p.topic)?.[p.partition] ?? 0n;
      // The failed fetch may have held good batches before the bad one: walk them, a batch at a time
      // (as far as one fetch reaches: FETCH_MAX_BYTES is at most 256 MiB, a few hundred batches here).
      let from = p.offset >= 0n ? p.offset : (starts.get(p.topic)?.[p.partition] ?? 0n);
      let reason: string | undefined;
      const before: SourceRecord[] = [];
      for (let walked = 0; from < end && walked < MAX_BATCHES_WALKED; walked++) {
        const r = await batchAt(p.topic, p.partition, from);
        if ('error' in r) {
          reason = r.error;
          break;
        }
        if (r.last < from) break;
        before.push(...r.records);
        from = r.last + 1n;
      }
      if (reason === undefined) continue;
      // Double until an offset decodes (or the end of the log), then halve back to the first that does.
      let bad = from;
      let step = 1n;
      let good = end;
      for (let at = from + step; at < end; at = bad + step) {
        if ((await failsAt(p.topic, p.partition, at)) === undefined) {
          good = at;
          break;
        }
        bad = at;
        step *= 2n;
      }
      while (good - bad > 1n) {
        const mid = bad + (good - bad) / 2n;
        if ((await failsAt(p.topic, p.partition, mid)) === undefined) good = mid;
        else bad = mid;
      }
      out.push({ topic: p.topic, partition: p.partition, from, to: good - 1n, reason, before });
    }
    return out;
  } finally {
    await probe.close(true).catch(() => undefined);
  }
}

function describe(err: unknown): string {
  const seen = new Set<unknown>();
  const walk = (e: unknown): string | undefined => {
    if (e === null || typeof e !== 'object' || seen.has(e)) return undefined;
    seen.add(e);
    const o = e as { message?: string; cause?: unknown; originalError?: unknown; errors?: unknown[] };
    if (o.message && DECODE.test(o.message)) return o.message;
    return walk(o.cause) ?? walk(o.originalError) ?? (Array.isArray(o.errors) ? o.errors.map(walk).find(Boolean) : undefined);
  };
  return (walk(err) ?? (err as Error).message ?? String(err)).slice(0, 300);
}
