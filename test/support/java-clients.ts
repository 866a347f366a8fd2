// Apache Kafka's own Java clients, driven from TypeScript, for interoperability tests: input that our
// code did not write, and a downstream reader that is not ours.
//   produceWithJava: the Java producer (kafka-clients, the broker's version) with a real codec and
//     real batching, optionally transactional with some transactions aborted;
//   consumeWithJava: the Java consumer reading each partition to its end offset (the last stable
//     offset with read_committed), returning every record with key, value and headers;
//   dumpLogSegments: Kafka's DumpLogSegments on a broker's log dir, to see each batch's codec.
// The tools are the Maven project in test/interop, built on first use into .cache/interop/<hash of
// its sources>/ (about 20 s; Maven Central the first time, ~/.m2 after) and reused by every later
// call and process. No vitest import: scripts may use it too.
import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { segmentFiles } from './record-batch.js';

const execFileP = promisify(execFile);
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const PROJECT = join(REPO, 'test/interop');
const CACHE = join(REPO, '.cache/interop');
const MAIN_CLASS = 'sentimentstream.interop.Interop';
// Short-lived tools: C1 only and the serial GC start fastest. -Xmx256m is plenty for 100k records.
const JVM_OPTS = ['-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Xshare:auto', '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn'];

export type Codec = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';
export const CODECS: readonly Codec[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

export interface JavaTools {
  /** .cache/interop/<hash>: classes/, classpath.txt, tools/kafka-tools-<version>.jar */
  dir: string;
  classpath: string;
  /** The kafka-tools jar (DumpLogSegments), run with the broker's libs. */
  toolsJar: string;
  /** true when this call ran Maven. */
  built: boolean;
  /** ms this call spent (Maven's build when built, else the cache check). */
  ms: number;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.java'))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

/** Hash of pom.xml and every .java source: a changed tool gets a new build folder, never a stale one. */
function sourceHash(): string {
  const h = createHash('sha256');
  for (const f of [join(PROJECT, 'pom.xml'), ...sourceFiles(join(PROJECT, 'src'))]) {
    h.update(relative(PROJECT, f)).update('\0').update(readFileSync(f)).update('\0');
  }
  return h.digest('hex').slice(0, 16);
}

function readTools(dir: string, built: boolean, ms: number): JavaTools | undefined {
  if (!existsSync(join(dir, '.complete'))) return undefined;
  const deps = readFileSync(join(dir, 'classpath.txt'), 'utf8').trim().split(':').filter(Boolean);
  // ~/.m2 may have been cleared since: then the folder is useless and is built again.
  if (!deps.every((d) => existsSync(d))) return undefined;
  const tools = readdirSync(join(dir, 'tools')).find((f) => f.startsWith('kafka-tools-') && f.endsWith('.jar'));
  if (!tools) return undefined;
  return { dir, classpath: [join(dir, 'classes'), ...deps].join(':'), toolsJar: join(dir, 'tools', tools), built, ms };
}

/** Where the build for the current sources lives (.cache/interop/<hash>), built or not. */
export function javaToolsDir(): string {
  return join(CACHE, sourceHash());
}

let toolsPromise: Promise<JavaTools> | undefined;

/**
 * Builds test/interop once per source hash (mvn package into a temporary folder, renamed into place,
 * so concurrent processes never see half a build) and returns how to run it.
 */
export function ensureJavaTools(): Promise<JavaTools> {
  toolsPromise ??= (async () => {
    const began = Date.now();
    const dir = javaToolsDir();
    const cached = readTools(dir, false, 0);
    if (cached) return { ...cached, ms: Date.now() - began };
    mkdirSync(CACHE, { recursive: true });
    const tmp = `${dir}.tmp-${process.pid}-${randomBytes(3).toString('hex')}`;
    try {
      await execFileP('mvn', ['-B', '-q', '-f', join(PROJECT, 'pom.xml'), `-Dinterop.buildDir=${tmp}`, 'package'], {
        timeout: 600_000,
        maxBuffer: 64 << 20,
      });
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      const e = err as { stdout?: string; stderr?: string; message: string };
      const out = `${e.stdout ?? ''}${e.stderr ?? ''}`.trim().split('\n').slice(-15).join('\n');
      throw new Error(`building the Java interop tools (mvn -f test/interop/pom.xml package) failed: ${out || e.message}`);
    }
    writeFileSync(join(tmp, '.complete'), `${new Date().toISOString()}\n`);
    rmSync(dir, { recursive: true, force: true });
    try {
      renameSync(tmp, dir);
    } catch {
      // Another process finished the same build first: use its folder.
      rmSync(tmp, { recursive: true, force: true });
    }
    const tools = readTools(dir, true, Date.now() - began);
    if (!tools) throw new Error(`the Java interop build in ${dir} is incomplete`);
    return tools;
  })().catch((err: unknown) => {
    toolsPromise = undefined;
    throw err;
  });
  return toolsPromise;
}

interface JavaRun {
  code: number;
  stdout: string;
  stderr: string;
  wallMs: number;
}

/**
 * Runs a Java main class. stdout is kept whole, or, with `onLine`, handed over line by line as it
 * arrives and not kept (a million records stream through without piling up here).
 */
async function runJava(
  classpath: string,
  mainClass: string,
  args: string[],
  stdin: string | undefined,
  timeoutMs: number,
  onLine?: (line: string) => void,
): Promise<JavaRun> {
  const began = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn('java', [...JVM_OPTS, '-cp', classpath, mainClass, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let partial = '';
    let lineError: unknown;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      if (!onLine) return void out.push(Buffer.from(chunk, 'utf8'));
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      try {
        for (const l of lines) onLine(l);
      } catch (e) {
        lineError ??= e;
        child.kill('SIGKILL');
      }
    });
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run java (Java 17+ must be on PATH): ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (onLine && partial && lineError === undefined) {
        try {
          onLine(partial);
        } catch (e) {
          lineError = e;
        }
      }
      if (lineError !== undefined) return reject(lineError instanceof Error ? lineError : new Error(String(lineError)));
      resolve({
        code: code ?? (signal === 'SIGKILL' ? 137 : 1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        wallMs: Date.now() - began,
      });
    });
    child.stdin.on('error', () => undefined); // a JVM that dies early closes its stdin; its exit code tells why
    child.stdin.end(stdin ?? '');
  });
}

/** The tool's own one-line error (`interop <cmd>: ...`), else the last lines of stderr. */
function javaError(what: string, run: JavaRun): Error {
  const lines = run.stderr.trim().split('\n');
  const own = lines.filter((l) => l.startsWith('interop '));
  const detail = own.length > 0 ? own.join(' | ') : lines.slice(-5).join(' | ');
  return new Error(`${what} exited ${run.code}${run.code === 137 ? ' (killed: timeout)' : ''}: ${detail || '(no output)'}`);
}

function brokerList(brokers: string | string[]): string {
  const list = (Array.isArray(brokers) ? brokers : brokers.split(',')).map((b) => b.trim()).filter(Boolean);
  if (list.length === 0) throw new Error('brokers: at least one host:port is needed');
  return list.join(',');
}

// --- producer -------------------------------------------------------------------------------------

/**
 * One record for the Java producer. With `id` (and `text`), the value is `{"id":..,"text":..}`, the
 * shape the scorer reads; `value` or `valueBase64` give the value's bytes exactly instead.
 */
export interface JavaInputRecord {
  id?: string;
  text?: string;
  value?: string | null;
  valueBase64?: string;
  key?: string | null;
  headers?: Record<string, string | null>;
  /** Explicit partition; else the Java client's default partitioner (murmur2 of the key). */
  partition?: number;
  /** CreateTime in ms; else now. */
  timestamp?: number;
}

/** One topic's worth of records for the Java producer, and how to write them. */
export interface ProduceJob {
  topic: string;
  records: readonly JavaInputRecord[];
  /** The producer's compression.type (default none). */
  compression?: Codec;
  /** linger.ms (default 20) and batch.size (default 65536): every record is sent before the first flush, so batches fill. */
  lingerMs?: number;
  batchSize?: number;
  acks?: 'all' | '1' | '0';
  /**
   * A transactional producer: records whose `id` is in `abortedIds` are written in transactions that
   * are aborted (after a flush, so they really are in the log); the others in committed ones.
   * Consecutive records with the same fate share a transaction of at most `recordsPerTransaction` (50).
   */
  transactional?: { abortedIds: Iterable<string>; transactionalId?: string; recordsPerTransaction?: number };
}

export interface ProduceWithJavaOptions extends ProduceJob {
  brokers: string | string[];
  timeoutMs?: number;
}

export interface ProduceWithJavaResult {
  topic: string;
  sent: number;
  committed: number;
  aborted: number;
  transactions: { committed: number; aborted: number };
  /** Where each input landed, in input order. */
  records: Array<{ partition: number; offset: number }>;
  /** The Java producer's own metrics: compressed/uncompressed size of its batches, and their mean size in bytes. */
  compressionRateAvg: number;
  batchSizeAvg: number;
  recordsPerRequestAvg: number;
  /** ms inside the JVM for this job (producer start to last ack), and for the whole call (JVM start and every job included). */
  javaMs: number;
  wallMs: number;
  /** The Java client's WARN lines (stderr), for diagnosis. */
  log: string;
}

function jobLines(job: ProduceJob): string[] {
  const aborted = new Set(job.transactional ? [...job.transactional.abortedIds] : []);
  const seen = new Set<string>();
  const header: Record<string, string> = {
    topic: job.topic,
    compression: job.compression ?? 'none',
    'linger-ms': String(job.lingerMs ?? 20),
    'batch-size': String(job.batchSize ?? 65536),
    acks: job.acks ?? 'all',
  };
  if (job.transactional) {
    header['transactional-id'] = job.transactional.transactionalId ?? `interop-java-${process.pid}-${randomBytes(4).toString('hex')}`;
    header['records-per-transaction'] = String(job.transactional.recordsPerTransaction ?? 50);
  }
  const lines = [JSON.stringify({ job: header })];
  for (const [i, r] of job.records.entries()) {
    if (r.value === undefined && r.valueBase64 === undefined && r.id === undefined) {
      throw new Error(`${job.topic} record ${i}: give id (and text), value or valueBase64`);
    }
    const line: Record<string, unknown> = {
      key: r.key ?? null,
      headers: r.headers ?? {},
      ...(r.valueBase64 !== undefined ? { valueBase64: r.valueBase64 } : { value: r.value !== undefined ? r.value : JSON.stringify({ id: r.id, text: r.text ?? '' }) }),
    };
    if (r.partition !== undefined) line.partition = r.partition;
    if (r.timestamp !== undefined) line.timestamp = r.timestamp;
    if (r.id !== undefined && aborted.has(r.id)) {
      line.abort = true;
      seen.add(r.id);
    }
    lines.push(JSON.stringify(line));
  }
  const unknown = [...aborted].filter((id) => !seen.has(id));
  if (unknown.length > 0) throw new Error(`${job.topic}: transactional.abortedIds names ${unknown.length} id(s) that no record has, e.g. ${unknown.slice(0, 3).join(', ')}`);
  return lines;
}

/**
 * Writes each job's records with Apache Kafka's Java producer, one producer per job, one job after
 * another in a single JVM (a JVM start is the dearest part of a small job); resolves once every record
 * is acknowledged (acks=all by default), with one result per job.
 */
export async function produceManyWithJava(brokers: string | string[], jobs: readonly ProduceJob[], opts: { timeoutMs?: number } = {}): Promise<ProduceWithJavaResult[]> {
  const tools = await ensureJavaTools();
  const lines = jobs.flatMap(jobLines);
  const run = await runJava(tools.classpath, MAIN_CLASS, ['produce', '--brokers', brokerList(brokers)], `${lines.join('\n')}\n`, opts.timeoutMs ?? 180_000);
  if (run.code !== 0) throw javaError(`Java producer (${jobs.map((j) => `${j.topic} ${j.compression ?? 'none'}`).join(', ')})`, run);
  const outs = run.stdout
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map(
      (l) =>
        JSON.parse(l) as {
          topic: string;
          sent: number;
          committed: number;
          aborted: number;
          transactions: { committed: number; aborted: number };
          records: Array<[number, number]>;
          compressionRateAvg: number;
          batchSizeAvg: number;
          recordsPerRequestAvg: number;
          ms: number;
        },
    );
  if (outs.length !== jobs.length) throw new Error(`Java producer answered for ${outs.length} of ${jobs.length} jobs: ${run.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  return outs.map((out) => ({
    topic: out.topic,
    sent: out.sent,
    committed: out.committed,
    aborted: out.aborted,
    transactions: out.transactions,
    records: out.records.map(([partition, offset]) => ({ partition, offset })),
    compressionRateAvg: out.compressionRateAvg,
    batchSizeAvg: out.batchSizeAvg,
    recordsPerRequestAvg: out.recordsPerRequestAvg,
    javaMs: out.ms,
    wallMs: run.wallMs,
    log: run.stderr,
  }));
}

/** Writes `records` to one topic with Apache Kafka's Java producer; resolves once every record is acknowledged. */
export async function produceWithJava(opts: ProduceWithJavaOptions): Promise<ProduceWithJavaResult> {
  const [result] = await produceManyWithJava(opts.brokers, [opts], opts);
  return result!;
}

// --- consumer -------------------------------------------------------------------------------------

export interface JavaConsumedRecord {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  timestampType: string;
  key: string | null;
  value: string | null;
  /** Headers by name (the last one wins when a name repeats; `headerList` keeps them all, in order). */
  headers: Record<string, string | null>;
  headerList: Array<[string, string | null]>;
  keyBase64?: string | null;
  valueBase64?: string | null;
}

export interface ConsumeWithJavaOptions {
  brokers: string | string[];
  /** One topic or several; every partition of each is read. */
  topic?: string;
  topics?: string[];
  /** read_committed (default: the end is the last stable offset, aborted records are skipped) or read_uncommitted (the high watermark). */
  isolation?: 'read_committed' | 'read_uncommitted';
  /** Also return the raw bytes as base64 (keyBase64/valueBase64). */
  base64?: boolean;
  /** Give up (and reject) when the end is not reached within this long; default 60 s. */
  timeoutMs?: number;
  /**
   * Called with each record as it arrives, in offset order per partition; the result's `records` is
   * then empty. For large topics (the fault suite's read-back): nothing piles up in memory.
   */
  onRecord?: (record: JavaConsumedRecord) => void;
}

export interface ConsumeWithJavaResult {
  /** Every record read (empty with onRecord). */
  records: JavaConsumedRecord[];
  /** How many records were read. */
  count: number;
  /** The end offset of each partition, taken when reading began (what "read to the end" meant). */
  endOffsets: Array<{ topic: string; partition: number; offset: number }>;
  wallMs: number;
  log: string;
}

/** The Java consumer stopped at a fetch it could not decode (or did not reach the end in time). */
export class JavaConsumerError extends Error {
  constructor(
    message: string,
    /** What it had read before. */
    readonly records: JavaConsumedRecord[],
    readonly kind: 'error' | 'timeout',
  ) {
    super(message);
    this.name = 'JavaConsumerError';
  }
}

/**
 * Reads every partition of the topic(s) from the beginning to its end offset with Apache Kafka's Java
 * consumer (no group, nothing committed). Rejects with JavaConsumerError when the consumer throws on a
 * fetch (e.g. a corrupt batch: its message names the partition and offset) or times out.
 */
export async function consumeWithJava(opts: ConsumeWithJavaOptions): Promise<ConsumeWithJavaResult> {
  const topics = [...(opts.topic !== undefined ? [opts.topic] : []), ...(opts.topics ?? [])];
  if (topics.length === 0) throw new Error('consumeWithJava: give topic or topics');
  const tools = await ensureJavaTools();
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const args = ['consume', '--brokers', brokerList(opts.brokers), '--topics', topics.join(','), '--isolation', opts.isolation ?? 'read_committed'];
  args.push('--timeout-ms', String(timeoutMs), '--base64', String(opts.base64 ?? false));
  const records: JavaConsumedRecord[] = [];
  let count = 0;
  let end: { endOffsets: Array<[string, number, number]> } | undefined;
  let problem: { type: 'error' | 'timeout'; message?: string; behind?: Array<[string, number, number, number]> } | undefined;
  const onLine = (line: string) => {
    if (!line.startsWith('{')) return;
    const o = JSON.parse(line) as { type: string } & Record<string, unknown>;
    if (o.type === 'record') {
      const list = o.headers as Array<[string, string | null]>;
      const record: JavaConsumedRecord = {
        topic: o.topic as string,
        partition: o.partition as number,
        offset: o.offset as number,
        timestamp: o.timestamp as number,
        timestampType: o.timestampType as string,
        key: o.key as string | null,
        value: o.value as string | null,
        headers: Object.fromEntries(list),
        headerList: list,
        ...(opts.base64 ? { keyBase64: o.keyBase64 as string | null, valueBase64: o.valueBase64 as string | null } : {}),
      };
      count++;
      if (opts.onRecord) opts.onRecord(record);
      else records.push(record);
    } else if (o.type === 'end') end = o as unknown as typeof end;
    else if (o.type === 'error' || o.type === 'timeout') problem = o as unknown as typeof problem;
  };
  const run = await runJava(tools.classpath, MAIN_CLASS, args, undefined, timeoutMs + 60_000, onLine);
  if (problem?.type === 'error') throw new JavaConsumerError(`Java consumer (${topics.join(',')}): ${problem.message}`, records, 'error');
  if (problem?.type === 'timeout') {
    const behind = (problem.behind ?? []).map(([t, p, pos, e]) => `${t}-${p} at ${pos} of ${e}`).join(', ');
    throw new JavaConsumerError(`Java consumer (${topics.join(',')}): not at the end after ${timeoutMs} ms: ${behind}`, records, 'timeout');
  }
  if (run.code !== 0 || !end) throw javaError(`Java consumer (${topics.join(',')})`, run);
  return { records, count, endOffsets: end.endOffsets.map(([topic, partition, offset]) => ({ topic, partition, offset })), wallMs: run.wallMs, log: run.stderr };
}

// --- DumpLogSegments --------------------------------------------------------------------------------

export interface LogBatch {
  topic: string;
  partition: number;
  baseOffset: number;
  lastOffset: number;
  count: number;
  /** compresscodec as Kafka names it: none, gzip, snappy, lz4, zstd. */
  codec: string;
  isTransactional: boolean;
  isControl: boolean;
  producerId: number;
  /** Byte position in its segment, and size in bytes. */
  position: number;
  size: number;
  crc: number;
  isValid: boolean;
  segment: string;
}

function defaultKafkaVersion(): string {
  if (process.env.KAFKA_VERSION) return process.env.KAFKA_VERSION;
  const m = /^KAFKA_DEFAULT_VERSION=(\S+)/m.exec(readFileSync(join(REPO, 'deploy/kafka/lib.sh'), 'utf8'));
  if (!m) throw new Error('deploy/kafka/lib.sh has no KAFKA_DEFAULT_VERSION');
  return m[1]!;
}

/**
 * Every record batch of `topic`-`partition` (or of each of `partitions`) in a broker's log dir
 * (localLogDir(), or KafkaCluster.logDir(id)), as Kafka's own DumpLogSegments reports it: codec,
 * offsets, transactional and control flags, CRC validity. One JVM for all the partitions. It reads
 * the files while the broker runs (a written batch is in the page cache, so it is seen at once).
 */
export async function dumpLogSegments(opts: {
  logDir: string;
  topic?: string;
  partition?: number;
  partitions?: Array<{ topic: string; partition: number }>;
  kafkaVersion?: string;
}): Promise<LogBatch[]> {
  const wanted = [...(opts.topic !== undefined ? [{ topic: opts.topic, partition: opts.partition ?? 0 }] : []), ...(opts.partitions ?? [])];
  if (wanted.length === 0) throw new Error('dumpLogSegments: give topic (and partition) or partitions');
  const tools = await ensureJavaTools();
  const libs = join(process.env.KAFKA_CACHE ?? join(REPO, '.cache/kafka'), opts.kafkaVersion ?? defaultKafkaVersion(), 'libs');
  if (!existsSync(join(libs, '.complete'))) throw new Error(`no Kafka jars in ${libs}: start a broker with deploy/kafka first`);
  const files = wanted.flatMap((w) => segmentFiles(opts.logDir, w.topic, w.partition));
  const run = await runJava(`${libs}/*:${tools.toolsJar}`, 'org.apache.kafka.tools.DumpLogSegments', ['--files', files.join(',')], undefined, 120_000);
  if (run.code !== 0) throw javaError('DumpLogSegments', run);
  const batches: LogBatch[] = [];
  let segment = '';
  let topic = '';
  let partition = -1;
  for (const line of run.stdout.split('\n')) {
    if (line.startsWith('Dumping ')) {
      segment = line.slice('Dumping '.length).trim();
      // <logDir>/<topic>-<partition>/<base offset>.log
      const dir = basename(dirname(segment));
      topic = dir.slice(0, dir.lastIndexOf('-'));
      partition = Number(dir.slice(dir.lastIndexOf('-') + 1));
    }
    if (!line.startsWith('baseOffset:')) continue;
    const f = Object.fromEntries([...line.matchAll(/(\w+): (\S+)/g)].map((m) => [m[1]!, m[2]!]));
    batches.push({
      topic,
      partition,
      baseOffset: Number(f.baseOffset),
      lastOffset: Number(f.lastOffset),
      count: Number(f.count),
      codec: f.compresscodec ?? '?',
      isTransactional: f.isTransactional === 'true',
      isControl: f.isControl === 'true',
      producerId: Number(f.producerId),
      position: Number(f.position),
      size: Number(f.size),
      crc: Number(f.crc),
      isValid: f.isvalid === 'true',
      segment,
    });
  }
  return batches;
}

// --- TransactionsCommand ----------------------------------------------------------------------------

/**
 * What the partition leader knows of each producer that wrote to `topic`-`partition`, as Kafka's
 * own kafka-transactions.sh describe-producers prints it (ProducerId, ProducerEpoch,
 * CurrentTransactionStartOffset, ...): the table, as text. For the message of a failed read: a
 * transaction that stays open names its producer and where it began.
 */
export async function describeProducers(brokers: string[], topic: string, partition: number, kafkaVersion = defaultKafkaVersion()): Promise<string> {
  const tools = await ensureJavaTools();
  const libs = join(process.env.KAFKA_CACHE ?? join(REPO, '.cache/kafka'), kafkaVersion, 'libs');
  const args = ['--bootstrap-server', brokers.join(','), 'describe-producers', '--topic', topic, '--partition', String(partition)];
  const run = await runJava(`${libs}/*:${tools.toolsJar}`, 'org.apache.kafka.tools.TransactionsCommand', args, undefined, 60_000);
  if (run.code !== 0) throw javaError('TransactionsCommand describe-producers', run);
  return run.stdout.trim();
}
