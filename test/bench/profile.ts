/**
 * Where a scorer's CPU goes, from the .cpuprofile files `node --cpu-prof` wrote (one per thread:
 * the main thread runs Kafka, decoding and encoding; the inference worker tokenizes and calls
 * ONNX Runtime). bench.ts calls summarizeProfiles; by hand:
 *
 *   node --import tsx test/bench/profile.ts DIR_OR_FILES... [--messages N]
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

interface CpuProfile {
  startTime: number;
  nodes: { id: number; callFrame: { functionName: string; url: string }; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
}

export interface ThreadProfile {
  file: string;
  thread: 'main' | 'inference-worker';
  sampled_ms: number;
  busy_ms: number;
  /** Busy (non-idle) time by category, ms. */
  categories: Record<string, number>;
  /** Per 1,000 messages, ms of this thread's busy time by category. */
  per_1k_ms?: Record<string, number>;
  top: { function: string; where: string; self_ms: number; pct_busy: number }[];
}

const JSON_FUNCTIONS = new Set(['parse', 'stringify', 'JSONParse', 'JSONStringify']);
/** Native functions with no script URL that do socket / file / thread I/O for Node. */
const NODE_NATIVE = new Set(['writeBuffer', 'writev', 'utf8Write', 'latin1Write', 'readFileUtf8', 'fstat', 'lstat', 'open', 'openFileHandle', 'postMessage', 'decodeUTF8', 'JSTransferable', 'internalModuleStat']);

function category(functionName: string, url: string): string {
  if (functionName === '(idle)') return 'idle';
  if (functionName === '(garbage collector)') return 'gc';
  if (functionName === '(program)') return 'native (unattributed)';
  if (functionName === '(root)') return 'idle';
  if (url.includes('/kafkajs/')) return 'kafkajs';
  // dynamic-buffer is @platformatic/kafka's own buffer library (its protocol writer and reader).
  if (url.includes('@platformatic/kafka') || url.includes('@platformatic/dynamic-buffer')) return '@platformatic/kafka';
  if (url.includes('@xenova/transformers') || url.includes('@huggingface')) return 'tokenizer (transformers.js)';
  if (url.includes('onnxruntime')) return 'onnxruntime (incl. native run)';
  if (url.includes('libs/model/')) return 'model lib (tokenize/encode glue)';
  if (url.includes('libs/events/')) return 'events (decode input / encode event JSON)';
  if (url.includes('libs/kafka/') || url.includes('services/scorer/')) return 'pipeline (batcher, offsets, sink)';
  if (url.includes('prom-client') || url.includes('libs/metrics/')) return 'metrics';
  if (url.includes('fastify') || url.includes('pino')) return 'status server / logging';
  // V8 inlines JSON.parse/stringify into their callers: that time shows under the caller (events, kafkajs).
  if (url === '' && JSON_FUNCTIONS.has(functionName)) return 'JSON (native)';
  if (url === '' && functionName.startsWith('RegExp:')) return 'regular expressions (tokenizer normalizer / pre-tokenizer)';
  if (url === '' && NODE_NATIVE.has(functionName)) return 'node internals (net, streams, buffers, timers)';
  if (url.startsWith('node:')) return 'node internals (net, streams, buffers, timers)';
  if (url === '') return 'V8 builtins (other)';
  return 'other';
}

function shortUrl(url: string): string {
  const i = url.indexOf('node_modules/');
  if (i >= 0) return url.slice(i + 'node_modules/'.length);
  const j = url.search(/(libs|services|test)\//);
  return j >= 0 ? url.slice(j) : url;
}

/** Self time by function and category; only samples taken between fromUs and toUs (V8's monotonic clock) when given. */
export function summarizeProfile(file: string, fromUs = -Infinity, toUs = Infinity): ThreadProfile {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  let at = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    at += p.timeDeltas[i] ?? 0;
    if (at < fromUs || at > toUs) continue;
    self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000);
  }
  const categories: Record<string, number> = {};
  const fns = new Map<string, { function: string; where: string; self_ms: number }>();
  let sampled = 0;
  let worker = false;
  for (const n of p.nodes) if (n.callFrame.url.includes('inference-worker')) worker = true;
  for (const [id, ms] of self) {
    const { functionName, url } = byId.get(id)!.callFrame;
    sampled += ms;
    const c = category(functionName, url);
    categories[c] = (categories[c] ?? 0) + ms;
    if (c === 'idle') continue;
    const key = `${functionName}@${url}`;
    const f = fns.get(key) ?? { function: functionName || '(anonymous)', where: shortUrl(url), self_ms: 0 };
    f.self_ms += ms;
    fns.set(key, f);
  }
  const busy = sampled - (categories.idle ?? 0);
  delete categories.idle;
  const top = [...fns.values()]
    .sort((a, b) => b.self_ms - a.self_ms)
    .slice(0, 12)
    .map((f) => ({ ...f, self_ms: Math.round(f.self_ms), pct_busy: Math.round((1000 * f.self_ms) / busy) / 10 }));
  for (const k of Object.keys(categories)) categories[k] = Math.round(categories[k]!);
  return { file, thread: worker ? 'inference-worker' : 'main', sampled_ms: Math.round(sampled), busy_ms: Math.round(busy), categories, top };
}

export function summarizeProfiles(files: string[], messages: number, fromUs?: number, toUs?: number): { messages: number; window_s: number | null; threads: ThreadProfile[] } {
  const threads = files.map((f) => summarizeProfile(f, fromUs, toUs));
  for (const t of threads) {
    t.per_1k_ms = Object.fromEntries(Object.entries(t.categories).map(([k, v]) => [k, Math.round((v / messages) * 1000 * 10) / 10]));
  }
  return { messages, window_s: fromUs !== undefined && toUs !== undefined ? (toUs - fromUs) / 1e6 : null, threads };
}

/** A sampling heap profile (the inspector's HeapProfiler.stopSampling result): a call tree with the bytes sampled at each frame. */
interface HeapProfileNode {
  callFrame: { functionName: string; url: string };
  selfSize: number;
  children: HeapProfileNode[];
}

export interface AllocationProfile {
  file: string;
  messages: number;
  /** Bytes the main thread allocated per message, sampled (objects later collected included). */
  bytes_per_msg: number;
  /** Bytes per message by category; the bytes of a V8 builtin (Object.entries, new Map) or of Node's code (Buffer.from) count for the package that called it. */
  categories: Record<string, number>;
  top: { function: string; where: string; bytes_per_msg: number; pct: number }[];
}

/**
 * Where the main thread's allocations went, per message, from a heap profile system.mjs wrote
 * (BENCH_ALLOC_PROFILE). Allocation drives the scavenges that are most of its GC time.
 */
export function summarizeAllocations(file: string, messages: number): AllocationProfile {
  const head = (JSON.parse(readFileSync(file, 'utf8')) as { head: HeapProfileNode }).head;
  const categories: Record<string, number> = {};
  const fns = new Map<string, { function: string; where: string; bytes: number }>();
  let total = 0;
  // A builtin (no URL) or Node's own code (`node:`, such as Buffer.allocUnsafe) allocates on behalf
  // of the package that called it; V8 inlines some of those calls and not others from run to run,
  // so without this the same bytes moved between categories. Only bytes with no such caller (a
  // socket read) stay Node's.
  const onBehalf = (url: string) => url === '' || url.startsWith('node:');
  const walk = (n: HeapProfileNode, caller: HeapProfileNode['callFrame'] | null) => {
    const { functionName, url } = n.callFrame;
    const owner = onBehalf(url) && caller ? caller : n.callFrame;
    if (n.selfSize > 0) {
      total += n.selfSize;
      const c = category(owner.functionName, owner.url);
      categories[c] = (categories[c] ?? 0) + n.selfSize;
      const name = owner === n.callFrame ? functionName || '(anonymous)' : `${functionName || '(anonymous)'} in ${owner.functionName || '(anonymous)'}`;
      const key = `${name}@${owner.url}`;
      const f = fns.get(key) ?? { function: name, where: shortUrl(owner.url), bytes: 0 };
      f.bytes += n.selfSize;
      fns.set(key, f);
    }
    for (const c of n.children) walk(c, onBehalf(url) ? caller : n.callFrame);
  };
  walk(head, null);
  const perMsg = (b: number) => Math.round(b / Math.max(1, messages));
  for (const k of Object.keys(categories)) categories[k] = perMsg(categories[k]!);
  const top = [...fns.values()]
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, 12)
    .map((f) => ({ function: f.function, where: f.where, bytes_per_msg: perMsg(f.bytes), pct: Math.round((1000 * f.bytes) / Math.max(1, total)) / 10 }));
  return { file, messages, bytes_per_msg: perMsg(total), categories, top };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const mi = args.indexOf('--messages');
  const messages = mi >= 0 ? Number(args.splice(mi, 2)[1]) : 1000;
  const files = args.flatMap((a) => (statSync(a).isDirectory() ? readdirSync(a).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(a, f)) : [a]));
  process.stdout.write(`${JSON.stringify(summarizeProfiles(files, messages), null, 2)}\n`);
}
