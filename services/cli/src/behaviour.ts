import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CliError } from './errors.js';

/**
 * The behaviour suite (test/behaviour/cases.jsonl): hand-written cases, one JSON object a line.
 * - `label`: `text` must get the label `expect` (a `neutral` case applies to 3-class models only);
 * - `direction`: `variant` must move the margin (positive minus negative evidence) `up` or `down`
 *   from `text`'s, strictly;
 * - `invariance`: `variant` must get the same label as `text`.
 */
export interface BehaviourCase {
  capability: string;
  type: 'label' | 'direction' | 'invariance';
  text: string;
  variant?: string;
  expect?: string;
  /** 1-based line in the file, for failure reports. */
  line: number;
}

/** One text scored: its label and a margin, larger = more positive (model: logit(positive) - logit(negative)). */
export interface Scored {
  label: string;
  margin: number;
}

export type Scorer = (texts: string[]) => Promise<Scored[]>;

export interface CapabilityResult {
  passed: number;
  total: number;
  rate: number;
}

export interface SuiteResult {
  /** Per capability, in the order of first appearance in the file; capabilities with no applicable case are absent. */
  capabilities: Record<string, CapabilityResult>;
  overall: CapabilityResult;
  failures: { line: number; capability: string; text: string; why: string }[];
}

const TYPES = ['label', 'direction', 'invariance'] as const;

/** The suite beside the repository's models: the first test/behaviour/cases.jsonl above this module. */
export function defaultCasesFile(): string | null {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, 'test', 'behaviour', 'cases.jsonl');
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Parses and validates the cases file's text; a bad line is a one-line error naming it. */
export function parseCases(text: string, name: string): BehaviourCase[] {
  const cases: BehaviourCase[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '') return;
    const bad = (problem: string): never => {
      throw new CliError(`${name}:${line}: ${problem}`);
    };
    let c: Record<string, unknown>;
    try {
      c = JSON.parse(raw) as Record<string, unknown>;
    } catch (err) {
      return bad(`not JSON (${(err as Error).message})`);
    }
    if (typeof c.capability !== 'string' || c.capability === '') bad('"capability" must be a non-empty string');
    if (!(TYPES as readonly unknown[]).includes(c.type)) bad(`"type" must be one of ${TYPES.join(', ')}`);
    if (typeof c.text !== 'string') bad('"text" must be a string');
    const type = c.type as BehaviourCase['type'];
    if (type !== 'label' && typeof c.variant !== 'string') bad(`a ${type} case needs a "variant" string`);
    if (type === 'label' && !['positive', 'negative', 'neutral'].includes(c.expect as string)) bad('a label case needs "expect": positive, negative or neutral');
    if (type === 'direction' && !['up', 'down'].includes(c.expect as string)) bad('a direction case needs "expect": up or down');
    cases.push({
      capability: c.capability as string,
      type,
      text: c.text as string,
      ...(typeof c.variant === 'string' ? { variant: c.variant } : {}),
      ...(typeof c.expect === 'string' ? { expect: c.expect } : {}),
      line,
    });
  });
  if (cases.length === 0) throw new CliError(`${name}: no cases`);
  return cases;
}

export function readCases(file: string): { cases: BehaviourCase[]; sha256: string } {
  if (!existsSync(file)) throw new CliError(`behaviour cases not found: ${file}`);
  const text = readFileSync(file, 'utf8');
  return { cases: parseCases(text, file), sha256: sha256(text) };
}

/**
 * Scores every text of the applicable cases in one call to `score` and checks each case.
 * `labels` are the model's: a `neutral` label case needs a model with a neutral class.
 */
export async function runSuite(cases: readonly BehaviourCase[], labels: readonly string[], score: Scorer): Promise<SuiteResult> {
  const hasNeutral = labels.includes('neutral');
  const applicable = cases.filter((c) => !(c.type === 'label' && c.expect === 'neutral' && !hasNeutral));
  const texts: string[] = [];
  for (const c of applicable) {
    texts.push(c.text);
    if (c.variant !== undefined) texts.push(c.variant);
  }
  const scored = await score(texts);
  if (scored.length !== texts.length) throw new Error(`scorer returned ${scored.length} results for ${texts.length} texts`);
  const result: SuiteResult = { capabilities: {}, overall: { passed: 0, total: 0, rate: 0 }, failures: [] };
  let k = 0;
  const fmt = (s: Scored) => `${s.label} (margin ${s.margin.toFixed(3)})`;
  for (const c of applicable) {
    const a = scored[k++]!;
    const b = c.variant !== undefined ? scored[k++]! : undefined;
    let why: string | null = null;
    if (c.type === 'label') {
      if (a.label !== c.expect) why = `expected ${c.expect}, got ${fmt(a)}`;
    } else if (c.type === 'direction') {
      const delta = b!.margin - a.margin;
      if (c.expect === 'up' ? !(delta > 0) : !(delta < 0)) why = `expected the margin to go ${c.expect}, it went ${a.margin.toFixed(3)} -> ${b!.margin.toFixed(3)}`;
    } else if (a.label !== b!.label) {
      why = `label changed: ${fmt(a)} -> ${fmt(b!)}`;
    }
    const cap = (result.capabilities[c.capability] ??= { passed: 0, total: 0, rate: 0 });
    cap.total++;
    result.overall.total++;
    if (why === null) {
      cap.passed++;
      result.overall.passed++;
    } else {
      result.failures.push({ line: c.line, capability: c.capability, text: c.variant ?? c.text, why });
    }
  }
  for (const r of [...Object.values(result.capabilities), result.overall]) r.rate = r.total === 0 ? 0 : r.passed / r.total;
  return result;
}

/** The recorded rates of a model card (config.json `behaviour`). */
export interface RecordedBehaviour {
  cases_sha256: string;
  rates: Record<string, number>;
}

/**
 * Capabilities whose rate fell below the recorded one (each as one line), or a single line saying
 * the suite changed since the rates were recorded.
 */
export function belowRecorded(result: SuiteResult, recorded: RecordedBehaviour, casesSha256: string): string[] {
  if (recorded.cases_sha256 !== casesSha256) {
    return [`the cases file changed since the rates were recorded (sha256 ${casesSha256.slice(0, 12)}, recorded ${recorded.cases_sha256.slice(0, 12)}): record them again`];
  }
  const out: string[] = [];
  for (const [cap, rate] of Object.entries(recorded.rates)) {
    const got = cap === 'overall' ? result.overall : result.capabilities[cap];
    if (got === undefined) out.push(`${cap}: no applicable case now, recorded ${rate.toFixed(3)}`);
    // rates are fractions of small counts: compare with a tolerance far below one case
    else if (got.rate < rate - 1e-9) out.push(`${cap}: ${got.passed}/${got.total} = ${got.rate.toFixed(3)}, below the recorded ${rate.toFixed(3)}`);
  }
  return out;
}

export function formatSuite(result: SuiteResult, describe: string): string {
  const rows = [...Object.entries(result.capabilities), ['overall', result.overall] as const];
  const width = Math.max(...rows.map(([c]) => c.length));
  const lines = [`behaviour suite: ${describe}`];
  for (const [cap, r] of rows) lines.push(`  ${cap.padEnd(width)}  ${String(r.passed).padStart(3)}/${String(r.total).padEnd(3)}  ${(100 * r.rate).toFixed(1).padStart(5)} %`);
  return `${lines.join('\n')}\n`;
}
