// One ProduceRequest (v8) written straight onto a TCP socket, carrying exactly the record-batch bytes
// given: the way to ask the broker to accept bytes no client library would send (record-batch.ts
// builds them). Resolves with the broker's answer for that partition, its error message included.
//
// Request v8 (header v1): api_key=0 int16, api_version=8 int16, correlation_id int32, client_id
// string; transactional_id nullable string, acks int16, timeout_ms int32,
// [topic string, [partition int32, records bytes]]. Response v8: correlation_id int32,
// [topic string, [partition int32, error_code int16, base_offset int64, log_append_time int64,
// log_start_offset int64, [batch_index int32, message nullable string], error_message nullable string]],
// throttle_time_ms int32. Produce v8 is served by every Kafka from 2.4 to 4.4 (4.0 dropped v0-v2).
import { Socket } from 'node:net';
import { Kafka, logLevel } from 'kafkajs';

/** Kafka's names for the error codes a produce can answer with. */
const ERROR_NAMES: Record<number, string> = {
  [-1]: 'UNKNOWN_SERVER_ERROR',
  0: 'NONE',
  2: 'CORRUPT_MESSAGE',
  3: 'UNKNOWN_TOPIC_OR_PARTITION',
  6: 'NOT_LEADER_OR_FOLLOWER',
  10: 'MESSAGE_TOO_LARGE',
  19: 'NOT_ENOUGH_REPLICAS',
  35: 'UNSUPPORTED_VERSION',
  42: 'INVALID_REQUEST',
  76: 'UNSUPPORTED_COMPRESSION_TYPE',
  87: 'INVALID_RECORD',
};

export interface RawProduceResult {
  errorCode: number;
  errorName: string;
  /** The broker's error_message (null when it sent none). */
  errorMessage: string | null;
  recordErrors: Array<{ batchIndex: number; message: string | null }>;
  baseOffset: number;
  broker: string;
}

function str(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(2);
  len.writeInt16BE(b.length);
  return Buffer.concat([len, b]);
}

const i16 = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
};
const i32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};

class Reader {
  private pos = 0;
  constructor(private readonly buf: Buffer) {}
  i16() {
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  i32() {
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  i64() {
    const v = this.buf.readBigInt64BE(this.pos);
    this.pos += 8;
    return Number(v);
  }
  nullableString(): string | null {
    const n = this.i16();
    if (n < 0) return null;
    const s = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
}

/** The host:port leading `topic`/`partition` now, from a metadata request to any of `brokers`. */
export async function partitionLeader(brokers: string[], topic: string, partition: number): Promise<string> {
  const admin = new Kafka({ clientId: 'raw-produce', brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const [{ brokers: nodes }, { topics }] = await Promise.all([admin.describeCluster(), admin.fetchTopicMetadata({ topics: [topic] })]);
    const leader = topics[0]?.partitions.find((p) => p.partitionId === partition)?.leader;
    const node = nodes.find((n) => n.nodeId === leader);
    if (!node) throw new Error(`${topic}-${partition} has no leader now`);
    return `${node.host}:${node.port}`;
  } finally {
    await admin.disconnect();
  }
}

/**
 * Sends `batch` (one or more encoded record batches) to `topic`/`partition` on `broker`, which must
 * be its leader (see partitionLeader), with acks=-1, and resolves with the broker's answer.
 */
export async function rawProduce(opts: { broker: string; topic: string; partition: number; batch: Buffer; timeoutMs?: number }): Promise<RawProduceResult> {
  const [host, port] = [opts.broker.slice(0, opts.broker.lastIndexOf(':')), Number(opts.broker.slice(opts.broker.lastIndexOf(':') + 1))];
  const correlationId = 1 + Math.floor(Math.random() * 1_000_000);
  const body = Buffer.concat([
    i16(0), // api key: Produce
    i16(8), // api version
    i32(correlationId),
    str('raw-produce'),
    i16(-1), // transactional_id: null
    i16(-1), // acks: all
    i32(opts.timeoutMs ?? 10_000),
    i32(1),
    str(opts.topic),
    i32(1),
    i32(opts.partition),
    i32(opts.batch.length),
    opts.batch,
  ]);
  const response = await new Promise<Buffer>((resolve, reject) => {
    const socket = new Socket();
    const chunks: Buffer[] = [];
    let received = 0;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no produce response from ${opts.broker} within ${(opts.timeoutMs ?? 10_000) + 5_000} ms`));
    }, (opts.timeoutMs ?? 10_000) + 5_000);
    socket.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`produce to ${opts.broker}: ${e.message}`));
    });
    socket.on('data', (b: Buffer) => {
      chunks.push(b);
      received += b.length;
      const all = Buffer.concat(chunks);
      if (received >= 4 && received >= 4 + all.readInt32BE(0)) {
        clearTimeout(timer);
        socket.end();
        resolve(all.subarray(4, 4 + all.readInt32BE(0)));
      }
    });
    socket.on('close', () => {
      clearTimeout(timer);
      reject(new Error(`${opts.broker} closed the connection without a produce response (it drops requests it cannot parse)`));
    });
    socket.connect(port, host, () => socket.write(Buffer.concat([i32(body.length), body])));
  });
  const r = new Reader(response);
  if (r.i32() !== correlationId) throw new Error('produce response: wrong correlation id');
  r.i32(); // topics (1)
  r.nullableString(); // topic name
  r.i32(); // partitions (1)
  r.i32(); // partition index
  const errorCode = r.i16();
  const baseOffset = r.i64();
  r.i64(); // log_append_time
  r.i64(); // log_start_offset
  const recordErrors: RawProduceResult['recordErrors'] = [];
  for (let n = r.i32(); n > 0; n--) recordErrors.push({ batchIndex: r.i32(), message: r.nullableString() });
  const errorMessage = r.nullableString();
  return { errorCode, errorName: ERROR_NAMES[errorCode] ?? `error ${errorCode}`, errorMessage, recordErrors, baseOffset, broker: opts.broker };
}
