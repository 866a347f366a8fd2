import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { defaultModelsDir } from '@sentiment-stream/model';
import { afterAll, describe, expect, it } from 'vitest';
import { loadOptions, positiveInt } from './args.js';
import { runCli } from './cli.js';
import type { Io } from './io.js';

function capture(stream: PassThrough): () => string {
  let text = '';
  stream.on('data', (c: Buffer) => (text += c.toString()));
  return () => text;
}

async function cli(args: string[], stdin = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out = capture(stdout);
  const err = capture(stderr);
  const io: Io = { stdin: Readable.from([stdin]), stdout, stderr, env: { ...process.env, EXECUTION_PROVIDERS: 'cpu' } };
  const code = await runCli(args, io);
  return { code, stdout: out(), stderr: err() };
}

const tmp = mkdtempSync(path.join(tmpdir(), 'cli-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('command dispatch and errors', () => {
  it('prints usage for --help and exits 0', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^usage: sentiment-stream <command>/);
    expect(r.stdout).toContain('  score ');
    expect(r.stdout).toContain('  eval ');
  });

  it('rejects an unknown command with one line and the usage, exit 2', async () => {
    const r = await cli(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe('sentiment-stream: unknown command "frobnicate"');
    expect(r.stderr).toContain('usage: sentiment-stream');
    expect((await cli([])).code).toBe(2);
  });

  it('rejects bad flags with exit 2 and no stack trace', async () => {
    const r = await cli(['score', '--bogus', 'x']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("sentiment-stream score: Unknown option '--bogus'\nRun 'sentiment-stream score --help' for usage.\n");
    expect((await cli(['eval', '--model', 'm'])).stderr).toContain('sentiment-stream eval: --data is required');
    expect((await cli(['score', '--batch-size', '0', 'x'])).stderr).toContain('--batch-size must be a positive integer, got "0"');
    expect((await cli(['score', '--providers', 'tpu', 'x'])).stderr).toContain('unknown execution provider "tpu"');
    expect((await cli(['score'])).stderr).toContain('nothing to score');
  });

  it('reports a missing file and an unknown model in one line, exit 1', async () => {
    const missing = await cli(['eval', '--model', 'x', '--data', path.join(tmp, 'nope.tsv')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^sentiment-stream eval: model folder .*x: does not exist\n$/);
    const unknown = await cli(['score', '--model', 'no-such-model', 'hello']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^sentiment-stream score: model folder \S*no-such-model: does not exist\n$/);
  });
});

describe('argument helpers', () => {
  it('parses positive integers', () => {
    expect(positiveInt('batch-size', undefined, 256)).toBe(256);
    expect(positiveInt('batch-size', '64', 256)).toBe(64);
    expect(() => positiveInt('threads', '1.5', 1)).toThrow('--threads must be a positive integer, got "1.5"');
  });

  it('takes providers from --providers, else EXECUTION_PROVIDERS, else cpu', () => {
    const io = (env: Record<string, string>) => ({ stdin: Readable.from([]), stdout: new PassThrough(), stderr: new PassThrough(), env });
    expect(loadOptions({}, io({})).executionProviders).toEqual(['cpu']);
    expect(loadOptions({}, io({ EXECUTION_PROVIDERS: 'cuda,cpu' })).executionProviders).toEqual(['cuda', 'cpu']);
    expect(loadOptions({ providers: 'webgpu' }, io({ EXECUTION_PROVIDERS: 'cuda,cpu' })).executionProviders).toEqual(['webgpu']);
    expect(loadOptions({ threads: '2' }, io({ MODELS_DIR: '/m' }))).toMatchObject({ intraOpThreads: 2, modelsDir: '/m' });
  });
});

// With the real models: the folders shipped under models/ (or MODELS_DIR); most tests need one.
const modelsDir = process.env.MODELS_DIR ?? defaultModelsDir();
const shipped = modelsDir && existsSync(modelsDir) ? readdirSync(modelsDir).filter((d) => existsSync(path.join(modelsDir, d, 'config.json'))).sort() : [];
const model = shipped[0];

describe('with a shipped model', () => {
  it('has a model to run with', () => {
    expect(model, `no model folder under ${modelsDir}`).toBeDefined();
  });

  it('reports a missing data file in one line, exit 1', async () => {
    const r = await cli(['eval', '--model', model!, '--data', path.join(tmp, 'nope.tsv')]);
    expect(r).toMatchObject({ code: 1, stderr: `sentiment-stream eval: input file not found: ${path.join(tmp, 'nope.tsv')}\n` });
  });

  it('eval --json prints the report as the last stdout line', async () => {
    const data = path.join(tmp, 'small.tsv');
    writeFileSync(data, 'text\tlabel\nwhat a wonderful , moving film\t1\na dull , tedious mess\t0\n"quoted"\t0\n\t1\n');
    const r = await cli(['eval', '--model', model!, '--data', data, '--json', '--threads', '1']);
    expect(r.stderr).toContain('accuracy');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    const report = JSON.parse(lines.at(-1)!) as Record<string, unknown>;
    expect(Object.keys(report)).toEqual(expect.arrayContaining(['n', 'accuracy', 'macro_f1', 'macro_recall', 'per_class', 'confusion', 'model']));
    expect(report.n).toBe(4);
    expect((report.confusion as number[][]).flat().reduce((a, b) => a + b, 0)).toBe(4);
    expect(report.model).toMatch(/@/);
  });

  it('eval without --json prints a readable report; --baseline vader needs no model run', async () => {
    const data = path.join(tmp, 'small2.tsv');
    writeFileSync(data, 'sentence\tlabel\ngood\t1\nbad\t0\n');
    const r = await cli(['eval', '--model', model!, '--data', data, '--baseline', 'vader']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('baseline vader');
    expect(r.stdout).toMatch(/accuracy +\d\.\d{4}/);
    expect(r.stdout).toContain('confusion (rows: true label, columns: predicted)');
  });

  it('score prints one JSON line per text, in order', async () => {
    const r = await cli(['score', '--model', model!, '--threads', '1', '--input', '-'], '{"id": 7, "text": "great"}\n{"text": ""}\n{"text": "awful"}\n');
    expect(r.code).toBe(0);
    const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { id?: number; text: string; label: string; score: number });
    expect(rows.map((x) => x.text)).toEqual(['great', '', 'awful']);
    expect(rows[0]!.id).toBe(7);
    for (const row of rows) expect(row.score).toBeGreaterThan(0);
  });
});

/**
 * The floors the shipped models were built to (issue #3), re-checked on the dev sets through the
 * serving path: tokenizer + ONNX Runtime in TypeScript, not PyTorch. A retrained model that falls
 * below them, or stops beating the lexicon scorers people use today, fails here.
 */
describe('the shipped models on their dev sets', () => {
  const dataDir = process.env.DATA_DIR ?? path.resolve(fileURLToPath(new URL('../../../', import.meta.url)), '../shared/datasets');
  // Per model (issue 14): the distilled BiLSTMs and the MiniLM teachers; a folder of another name
  // falls back to its dataset's floor from before (issue 3). Issue 14 asks 0.87 (sst2-bilstm), 0.89
  // (sst2-minilm) and 0.72 (tweeteval-bilstm); the models reach 0.8773 (765/872), 0.8968 (782/872) and
  // 0.7242 (2.2.0; training/README.md), each held to the floor.
  const floors: Record<string, { metric: 'accuracy' | 'macro_recall'; floor: number }> = {
    'sst2-bilstm': { metric: 'accuracy', floor: 0.87 },
    'sst2-minilm': { metric: 'accuracy', floor: 0.89 },
    'tweeteval-bilstm': { metric: 'macro_recall', floor: 0.72 },
    'tweeteval-minilm': { metric: 'macro_recall', floor: 0.72 },
    sst2: { metric: 'accuracy', floor: 0.85 },
    'tweeteval-sentiment': { metric: 'macro_recall', floor: 0.62 },
  };

  it.each(shipped)('%s meets its floor and beats AFINN and VADER by 10+ points', async (name) => {
    const config = JSON.parse(readFileSync(path.join(modelsDir!, name, 'config.json'), 'utf8')) as { dataset: string; dev_metrics: Record<string, number> };
    const target = floors[name] ?? floors[config.dataset];
    expect(target, `no floor for ${name} (dataset ${config.dataset})`).toBeDefined();
    const data = path.join(dataDir, config.dataset, 'dev.tsv');
    expect(existsSync(data), `${data} not found: the shared datasets sit beside the repo (or set DATA_DIR)`).toBe(true);
    const evaluate = async (extra: string[]) => {
      const r = await cli(['eval', '--model', name, '--data', data, '--json', '--threads', '1', ...extra]);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, number>;
    };
    const model = (await evaluate([]))[target!.metric]!;
    expect(model).toBeGreaterThanOrEqual(target!.floor);
    // PyTorch measured the same figure at export; serving may differ only by a near-tie flipping.
    expect(Math.abs(model - config.dev_metrics[target!.metric]!)).toBeLessThanOrEqual(0.002);
    for (const baseline of ['afinn', 'vader']) {
      expect(model - (await evaluate(['--baseline', baseline]))[target!.metric]!).toBeGreaterThanOrEqual(0.1);
    }
  }, 240_000); // the MiniLMs' dev runs take 4-30 s here, more on a loaded machine

  // A teacher retrained after its student keeps serving on its own, so the card's "distilled from vX"
  // comes from what train.sh recorded at distillation, never from the teacher folder of today.
  it.each(shipped)('%s names the teacher version it was distilled from, if distilled', (name) => {
    const config = JSON.parse(readFileSync(path.join(modelsDir!, name, 'config.json'), 'utf8')) as {
      hyperparameters?: { soft?: string | null }; teacher?: { name: string; version: string };
    };
    if (!config.hyperparameters?.soft) {
      expect(config.teacher).toBeUndefined();
      return;
    }
    expect(config.teacher, `${name} is distilled but its config.json names no teacher`).toBeDefined();
    expect(config.teacher!.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(shipped).toContain(config.teacher!.name);
    expect(readFileSync(path.join(modelsDir!, name, 'README.md'), 'utf8')).toContain(`\`${config.teacher!.name}\` v${config.teacher!.version}`);
  });
});

/**
 * The behaviour suite's pass rates recorded in each shipped model's config.json (and shown in its
 * model card, with AFINN's and VADER's): a model that falls below them fails here (issue 14).
 */
describe('the shipped models on the behaviour suite', () => {
  it.each(shipped)('%s stays at or above its model card\'s behaviour rates', async (name) => {
    const config = JSON.parse(readFileSync(path.join(modelsDir!, name, 'config.json'), 'utf8')) as { behaviour?: { rates: Record<string, number> } };
    expect(config.behaviour, `${name}/config.json records no behaviour rates: node training/measure.mjs models/${name}`).toBeDefined();
    const r = await cli(['behaviour', '--model', name, '--check', '--json', '--threads', '1']);
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { rates: Record<string, number> };
    for (const [capability, rate] of Object.entries(config.behaviour!.rates)) expect(result.rates[capability], capability).toBeGreaterThanOrEqual(rate);
  }, 120_000);

  it('behaviour runs a baseline on the same cases and rejects --check with it', async () => {
    const r = await cli(['behaviour', '--model', model!, '--baseline', 'vader', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { scorer: string; overall: { total: number } };
    expect(result.scorer).toMatch(/^vader/);
    expect(result.overall.total).toBeGreaterThanOrEqual(150);
    expect((await cli(['behaviour', '--model', model!, '--baseline', 'afinn', '--check'])).code).toBe(2);
  });
});
