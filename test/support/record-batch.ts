// Kafka's on-disk and on-the-wire record batch (magic v2), byte for byte, for tests that must put
// bytes into a partition that no client library would write: a batch whose compressed body is not
// valid for its codec. Three parts:
//   encodeRecordBatch: a v2 batch (none, gzip or zstd, or any body you give) with a correct CRC-32C;
//   readSegmentBatches: the batch headers of a segment file (.log), with CRC checks;
//   corruptBatchOnDisk: overwrite the body of one batch in a segment file, recomputing its CRC (so
//     only decompression fails) or leaving it stale (a disk-corruption CRC mismatch).
// Layout (Kafka's DefaultRecordBatch): baseOffset int64 @0, batchLength int32 @8 (bytes after this
// field), partitionLeaderEpoch int32 @12, magic int8 @16, crc uint32 @17 (CRC-32C of bytes @21..end),
// attributes int16 @21 (bits 0-2 codec, 4 transactional, 5 control), lastOffsetDelta int32 @23,
// baseTimestamp int64 @27, maxTimestamp int64 @35, producerId int64 @43, producerEpoch int16 @51,
// baseSequence int32 @53, recordsCount int32 @57, records @61.
import { closeSync, existsSync, openSync, readdirSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { constants, gzipSync, zstdCompressSync } from 'node:zlib';

/** The segment files (.log) of `topic`-`partition` in a broker's log dir, oldest first. */
export function segmentFiles(logDir: string, topic: string, partition: number): string[] {
  const dir = join(logDir, `${topic}-${partition}`);
  if (!existsSync(dir)) throw new Error(`${dir} does not exist (is ${logDir} a log dir of a replica of ${topic}-${partition}?)`);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.log'))
    .sort()
    .map((f) => join(dir, f));
}

export const BATCH_HEADER_SIZE = 61;
const CRC_OFFSET = 17;
const ATTRIBUTES_OFFSET = 21;
export const CODEC_IDS = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const;
export type BatchCodec = keyof typeof CODEC_IDS;
const CODEC_NAMES = Object.fromEntries(Object.entries(CODEC_IDS).map(([k, v]) => [v, k])) as Record<number, BatchCodec>;

const CRC32C_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32C (Castagnoli), the checksum of a v2 record batch. */
export function crc32c(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC32C_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function varint(n: number): Buffer {
  // zigzag, then base-128 little-endian groups (Kafka's ByteUtils.writeVarint / writeVarlong)
  let z = BigInt.asUintN(64, (BigInt(n) << 1n) ^ (BigInt(n) >> 63n));
  const out: number[] = [];
  while (z >= 0x80n) {
    out.push(Number((z & 0x7fn) | 0x80n));
    z >>= 7n;
  }
  out.push(Number(z));
  return Buffer.from(out);
}

function bytesField(b: Buffer | null): Buffer {
  return b === null ? varint(-1) : Buffer.concat([varint(b.length), b]);
}

export interface BatchRecord {
  key?: string | Buffer | null;
  value: string | Buffer | null;
  headers?: Record<string, string | Buffer>;
}

const toBuf = (v: string | Buffer | null | undefined): Buffer | null => (v === null || v === undefined ? null : Buffer.isBuffer(v) ? v : Buffer.from(v, 'utf8'));

/** The records section of a v2 batch, uncompressed. */
export function encodeRecords(records: readonly BatchRecord[]): Buffer {
  return Buffer.concat(
    records.map((r, i) => {
      const headers = Object.entries(r.headers ?? {});
      const body = Buffer.concat([
        Buffer.from([0]), // attributes (unused)
        varint(0), // timestampDelta
        varint(i), // offsetDelta
        bytesField(toBuf(r.key)),
        bytesField(toBuf(r.value)),
        varint(headers.length),
        ...headers.map(([k, v]) => Buffer.concat([bytesField(Buffer.from(k, 'utf8')), bytesField(toBuf(v))])),
      ]);
      return Buffer.concat([varint(body.length), body]);
    }),
  );
}

export interface EncodeBatchOptions {
  records: readonly BatchRecord[];
  /** The codec named in the attributes; the body is compressed with it unless `body` is given (none, gzip and zstd are built in). */
  codec?: BatchCodec;
  /** The exact bytes after the 61-byte header (the "compressed records"); default: the records, compressed with `codec`. */
  body?: Buffer;
  /** recordsCount in the header; default records.length. */
  recordsCount?: number;
  baseTimestamp?: number;
  /** Leave the CRC wrong on purpose (a batch the broker must refuse as CORRUPT_MESSAGE). */
  badCrc?: boolean;
}

/** A magic-v2 record batch (non-transactional, no producer id) ready for a ProduceRequest. */
export function encodeRecordBatch(opts: EncodeBatchOptions): Buffer {
  const codec = opts.codec ?? 'none';
  const raw = encodeRecords(opts.records);
  let body = opts.body;
  if (body === undefined) {
    if (codec === 'none') body = raw;
    else if (codec === 'gzip') body = gzipSync(raw);
    else if (codec === 'zstd') body = zstdCompressSync(raw, { params: { [constants.ZSTD_c_checksumFlag]: 0 } });
    else throw new Error(`encodeRecordBatch: no ${codec} compressor here; pass body`);
  }
  const count = opts.recordsCount ?? opts.records.length;
  const ts = BigInt(opts.baseTimestamp ?? Date.now());
  const header = Buffer.alloc(BATCH_HEADER_SIZE);
  header.writeBigInt64BE(0n, 0); // baseOffset: the broker assigns offsets
  header.writeInt32BE(BATCH_HEADER_SIZE - 12 + body.length, 8);
  header.writeInt32BE(-1, 12); // partitionLeaderEpoch
  header.writeInt8(2, 16); // magic
  header.writeInt16BE(CODEC_IDS[codec], ATTRIBUTES_OFFSET);
  header.writeInt32BE(Math.max(count - 1, 0), 23); // lastOffsetDelta
  header.writeBigInt64BE(ts, 27);
  header.writeBigInt64BE(ts, 35);
  header.writeBigInt64BE(-1n, 43); // producerId: none (not idempotent)
  header.writeInt16BE(-1, 51);
  header.writeInt32BE(-1, 53);
  header.writeInt32BE(count, 57);
  const batch = Buffer.concat([header, body]);
  const crc = crc32c(batch.subarray(ATTRIBUTES_OFFSET));
  batch.writeUInt32BE(opts.badCrc ? (crc ^ 0xdeadbeef) >>> 0 : crc, CRC_OFFSET);
  return batch;
}

/**
 * A gzip batch whose body is a valid gzip member followed by 64 bytes of 0xff. Kafka 4.4 accepts it
 * on produce and its Java client decodes it (java.util.zip.GZIPInputStream ignores what follows the
 * member), but Node's zlib (gunzip/unzip: kafkajs's gzip codec and @platformatic/kafka's) throws
 * "incorrect header check": a batch that a real producer path can put into a partition and that
 * Node clients cannot decode. The gzip codec id stays in the attributes.
 */
export function gzipBatchWithTrailingGarbage(records: readonly BatchRecord[]): Buffer {
  return encodeRecordBatch({ records, codec: 'gzip', body: Buffer.concat([gzipSync(encodeRecords(records)), Buffer.alloc(64, 0xff)]) });
}

export interface SegmentBatch {
  segment: string;
  /** Byte position of the batch in its segment file. */
  position: number;
  /** Total bytes (12 + batchLength). */
  size: number;
  baseOffset: number;
  lastOffset: number;
  recordsCount: number;
  codec: BatchCodec;
  transactional: boolean;
  control: boolean;
  crc: number;
  crcValid: boolean;
}

function readAll(file: string): Buffer {
  const fd = openSync(file, 'r');
  try {
    const chunks: Buffer[] = [];
    for (;;) {
      const b = Buffer.alloc(1 << 20);
      const n = readSync(fd, b, 0, b.length, null);
      if (n === 0) break;
      chunks.push(b.subarray(0, n));
    }
    return Buffer.concat(chunks);
  } finally {
    closeSync(fd);
  }
}

/** The batches of one segment file (.log), header fields only, with the CRC checked. */
export function readSegmentBatches(segment: string): SegmentBatch[] {
  const buf = readAll(segment);
  const out: SegmentBatch[] = [];
  let pos = 0;
  // A segment file is preallocated only on Windows; here it ends where the last batch ends.
  while (pos + BATCH_HEADER_SIZE <= buf.length) {
    const batchLength = buf.readInt32BE(pos + 8);
    if (batchLength <= 0) break;
    const size = 12 + batchLength;
    if (pos + size > buf.length) break;
    const magic = buf.readInt8(pos + 16);
    if (magic !== 2) throw new Error(`${segment}@${pos}: magic ${magic}, not a v2 batch`);
    const attributes = buf.readInt16BE(pos + ATTRIBUTES_OFFSET);
    const baseOffset = Number(buf.readBigInt64BE(pos));
    const crc = buf.readUInt32BE(pos + CRC_OFFSET);
    out.push({
      segment,
      position: pos,
      size,
      baseOffset,
      lastOffset: baseOffset + buf.readInt32BE(pos + 23),
      recordsCount: buf.readInt32BE(pos + 57),
      codec: CODEC_NAMES[attributes & 0x7] ?? 'none',
      transactional: (attributes & 0x10) !== 0,
      control: (attributes & 0x20) !== 0,
      crc,
      crcValid: crc32c(buf.subarray(pos + ATTRIBUTES_OFFSET, pos + size)) === crc,
    });
    pos += size;
  }
  return out;
}

export interface CorruptBatchOptions {
  /** A broker's log dir (KafkaCluster.logDir(id), or a single broker's BROKER_DATA_DIR). */
  logDir: string;
  topic: string;
  partition: number;
  /** Corrupt the data batch holding this offset; default the first data (non-control) batch. */
  offset?: number;
  /** 'valid' (default): recompute the CRC, so the batch passes CRC checks and only its body fails to decode; 'stale': keep the old CRC (a CRC mismatch). */
  crc?: 'valid' | 'stale';
  /** The byte the body is overwritten with (default 0xff: no codec's magic, a varint that never ends). */
  fill?: number;
}

/**
 * Overwrites the body (everything after the 61-byte header) of one data batch in a partition's
 * segment file, in place and at the same size, so offsets, indexes and the batch header stay valid
 * and only the records cannot be decoded. Returns the batch as it was.
 *
 * The file is shared with the broker through the page cache: on a running broker the next fetch
 * serves the new bytes. Stopping the broker first (kill/stop, corrupt, restart) is the faithful
 * "bytes on disk went bad" case; a broker restarted after a clean shutdown does not re-check
 * segments, and after a crash its recovery checks CRCs only (a 'valid' CRC passes it).
 */
export function corruptBatchOnDisk(opts: CorruptBatchOptions): SegmentBatch {
  const segments = segmentFiles(opts.logDir, opts.topic, opts.partition);
  const all = segments.flatMap((s) => readSegmentBatches(s));
  const target = all.find((b) => !b.control && (opts.offset === undefined || (b.baseOffset <= opts.offset && opts.offset <= b.lastOffset)));
  if (!target) throw new Error(`${opts.topic}-${opts.partition} in ${opts.logDir}: no data batch${opts.offset === undefined ? '' : ` holding offset ${opts.offset}`}`);
  const fd = openSync(target.segment, 'r+');
  try {
    const batch = Buffer.alloc(target.size);
    readSync(fd, batch, 0, target.size, target.position);
    batch.fill(opts.fill ?? 0xff, BATCH_HEADER_SIZE);
    if ((opts.crc ?? 'valid') === 'valid') batch.writeUInt32BE(crc32c(batch.subarray(ATTRIBUTES_OFFSET)), CRC_OFFSET);
    writeSync(fd, batch, 0, batch.length, target.position);
  } finally {
    closeSync(fd);
  }
  return target;
}
