// Tail-latency attribution for one open-loop run: which messages above the run's p99 lived through
// a garbage-collection pause of the broker or of the scorer's main thread, or a second in which the
// scorer's event loop stalled, compared with how often any message did (the base rate).
import { readFileSync } from 'node:fs';

export interface Pause {
  /** Start, ms since the epoch. */
  at: number;
  ms: number;
}

/** G1 pauses from a JVM log written with -Xlog:gc:file=...:timemillis ("[1796213490714ms] GC(0) Pause Young ... 29.991ms"). */
export function readJvmPauses(file: string, from: number, to: number): Pause[] | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  const out: Pause[] = [];
  for (const line of text.split('\n')) {
    const m = /^\[(\d+)ms\].* Pause .* ([\d.]+)ms$/.exec(line);
    if (!m) continue;
    // The log stamps the end of the pause.
    const ms = Number(m[2]);
    const at = Number(m[1]) - ms;
    if (at + ms >= from && at <= to) out.push({ at, ms });
  }
  return out;
}

export interface SecondStats {
  /** Wall-clock second (s since the epoch). */
  t: number;
  gc_ms: number;
  gc_max_ms: number;
  loop_max_ms: number;
  cpu_ms: number;
}

export interface TailAttribution {
  p99_ms: number;
  slow: number;
  /** Share of messages above p99 / of all measured messages that lived through each kind of stall. */
  broker_gc: { slow: number; all: number; pauses: number; max_ms: number; total_ms: number } | null;
  scorer_gc: { slow: number; all: number; pauses: number; max_ms: number; total_ms: number };
  scorer_loop: { slow: number; all: number; seconds: number };
  /** Slow messages that lived through none of them. */
  none_slow: number;
}

/**
 * `sent[i]`, `arrived[i]`: one measured message. A message "lived through" a pause when the pause
 * overlapped [sent, arrived]; through a loop stall when a second it spanned had an event-loop delay
 * of `loopStallMs` or more. Pauses count from `minPauseMs`.
 */
export function attributeTail(
  sent: number[],
  arrived: number[],
  scorerPauses: Pause[],
  brokerPauses: Pause[] | null,
  timeline: SecondStats[],
  minPauseMs = 10,
  loopStallMs = 20,
): TailAttribution {
  const n = sent.length;
  const lat = sent.map((s, i) => arrived[i]! - s);
  const sorted = [...lat].sort((a, b) => a - b);
  const p99 = sorted[Math.min(n - 1, Math.floor(0.99 * n))] ?? NaN;
  const big = (ps: Pause[]) => ps.filter((p) => p.ms >= minPauseMs).sort((a, b) => a.at - b.at);
  const sp = big(scorerPauses);
  const bp = brokerPauses ? big(brokerPauses) : null;
  const stalled = new Set(timeline.filter((s) => s.loop_max_ms >= loopStallMs).map((s) => s.t));
  const overlaps = (ps: Pause[], a: number, b: number) => ps.some((p) => p.at <= b && p.at + p.ms >= a);
  const spans = (a: number, b: number) => {
    for (let t = Math.floor(a / 1000); t <= Math.floor(b / 1000); t++) if (stalled.has(t)) return true;
    return false;
  };
  let slow = 0;
  const c = { bSlow: 0, bAll: 0, sSlow: 0, sAll: 0, lSlow: 0, lAll: 0, none: 0 };
  for (let i = 0; i < n; i++) {
    const a = sent[i]!;
    const b = arrived[i]!;
    const isSlow = lat[i]! >= p99;
    const inB = bp ? overlaps(bp, a, b) : false;
    const inS = overlaps(sp, a, b);
    const inL = spans(a, b);
    if (isSlow) slow++;
    if (inB) c.bAll++;
    if (inS) c.sAll++;
    if (inL) c.lAll++;
    if (isSlow) {
      if (inB) c.bSlow++;
      if (inS) c.sSlow++;
      if (inL) c.lSlow++;
      if (!inB && !inS && !inL) c.none++;
    }
  }
  const share = (x: number, of: number) => (of > 0 ? x / of : NaN);
  const sum = (ps: Pause[]) => ps.reduce((s, p) => s + p.ms, 0);
  const max = (ps: Pause[]) => ps.reduce((m, p) => Math.max(m, p.ms), 0);
  return {
    p99_ms: p99,
    slow,
    broker_gc: bp ? { slow: share(c.bSlow, slow), all: share(c.bAll, n), pauses: bp.length, max_ms: max(brokerPauses!), total_ms: sum(brokerPauses!) } : null,
    scorer_gc: { slow: share(c.sSlow, slow), all: share(c.sAll, n), pauses: sp.length, max_ms: max(scorerPauses), total_ms: sum(scorerPauses) },
    scorer_loop: { slow: share(c.lSlow, slow), all: share(c.lAll, n), seconds: stalled.size },
    none_slow: share(c.none, slow),
  };
}

/** min / median / max of a list (NaN-free). */
export function spread(xs: number[]): { min: number; median: number; max: number; n: number } {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return { min: NaN, median: NaN, max: NaN, n: 0 };
  const median = s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  return { min: s[0]!, median, max: s[s.length - 1]!, n: s.length };
}
