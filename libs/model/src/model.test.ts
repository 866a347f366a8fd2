/**
 * Runs against every model folder shipped under models/ (or MODELS_DIR): the real tokenizer and
 * the real ONNX Runtime, no mocks. Fails when no model folder exists.
 */
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, parseProviders, type Model, type Prediction } from './model.js';
import { defaultModelsDir } from './model-folder.js';
import { loadTokenizer } from './tokenizer.js';

const modelsDir = process.env.MODELS_DIR ?? defaultModelsDir();
const shipped = modelsDir && existsSync(modelsDir)
  ? readdirSync(modelsDir).filter((d) => existsSync(path.join(modelsDir, d, 'config.json'))).sort()
  : [];

// Keep the machine usable: one inference thread per test model.
const base = { modelsDir: modelsDir ?? undefined, intraOpThreads: 1 };

it('at least one model folder is shipped under models/', () => {
  expect(shipped, `no model folder with config.json under ${modelsDir}`).not.toEqual([]);
});

const AWKWARD: [string, string][] = [
  ['empty', ''],
  ['whitespace', ' \t  \u00a0 '],
  ['emoji only', '😀😂🔥👍🏽'],
  ['10,000 characters', 'this is a long and rather boring sentence . '.repeat(228).slice(0, 10_000)],
  ['Arabic (RTL)', 'هذا الفيلم رائع جدا'],
  ['Hebrew with RTL marks', '\u202bהסרט הזה נהדר\u202c'],
  ['Chinese', '这部电影非常好看'],
  ['combining marks', 'Z̴̡̢a̷̛͜l̶̨͘g̵̢̛o̴͇͝ cafe\u0301 ñ'],
  ['control characters', 'good\u0000\u0007 movie'],
];

function expectValid(p: Prediction, labels: readonly string[]): void {
  expect(labels).toContain(p.label);
  const probs = labels.map((l) => p.probabilities[l]!);
  for (const q of probs) expect(Number.isFinite(q) && q >= 0 && q <= 1).toBe(true);
  expect(probs.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
  expect(p.score).toBe(Math.max(...probs));
  expect(p.probabilities[p.label]).toBe(p.score);
}

for (const name of shipped) {
  describe(`model ${name}`, () => {
    let model: Model;
    beforeAll(async () => {
      model = await loadModel(name, base);
    });
    afterAll(async () => {
      await model?.close();
    });

    it('reports its config', () => {
      const config = JSON.parse(readFileSync(path.join(modelsDir!, name, 'config.json'), 'utf8')) as { name: string; labels: string[]; max_length: number };
      expect(model.info).toMatchObject({ name: config.name, labels: config.labels, maxLength: config.max_length, provider: 'cpu' });
    });

    const parity = () =>
      readFileSync(path.join(modelsDir!, name, 'parity.jsonl'), 'utf8')
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as { text: string; logits: number[]; input_ids?: number[] });

    it('tokenizes parity.jsonl texts to the ids training used (where the file lists them)', async () => {
      const tok = await loadTokenizer(model.info.dir, model.info.maxLength, 20_000);
      const rows = parity().filter((r) => r.input_ids !== undefined);
      const ids = tok.encode(rows.map((r) => r.text));
      rows.forEach((r, i) => expect(ids[i], JSON.stringify(r.text).slice(0, 60)).toEqual(r.input_ids));
    });

    it('reproduces parity.jsonl logits within 1e-4', async () => {
      const rows = parity();
      expect(rows.length).toBeGreaterThan(0);
      let worst = 0;
      for (let i = 0; i < rows.length; i += 64) {
        const chunk = rows.slice(i, i + 64);
        const { logits } = await model.predictLogits(chunk.map((r) => r.text));
        chunk.forEach((r, j) => {
          expect(logits[j]).toHaveLength(r.logits.length);
          r.logits.forEach((want, c) => {
            const diff = Math.abs(logits[j]![c]! - want);
            worst = Math.max(worst, diff);
            expect(diff, `row ${i + j} (${JSON.stringify(r.text).slice(0, 60)}) class ${c}`).toBeLessThanOrEqual(1e-4);
          });
        });
      }
      expect(worst).toBeLessThanOrEqual(1e-4);
    });

    it('gives valid predictions for awkward texts, in input order', async () => {
      const texts = AWKWARD.map(([, t]) => t);
      const { predictions, timings } = await model.predict(texts);
      expect(predictions).toHaveLength(texts.length);
      predictions.forEach((p) => expectValid(p, model.info.labels));
      expect(timings.batchSize).toBe(texts.length);
      expect(timings.seqLen).toBe(model.info.maxLength); // the 10,000-char text is truncated
      // Same answers one by one: order is kept and results do not depend on batch neighbours.
      for (const [i, text] of texts.entries()) {
        const single = (await model.predict([text])).predictions[0]!;
        expect(single.label, AWKWARD[i]![0]).toBe(predictions[i]!.label);
        for (const l of model.info.labels) expect(single.probabilities[l]).toBeCloseTo(predictions[i]!.probabilities[l]!, 5);
      }
    });

    it('scores an empty text the same as whitespace and gives it one token (or just [CLS] [SEP])', async () => {
      const { predictions, timings } = await model.predict(['', '   ']);
      const tok = await loadTokenizer(model.info.dir, model.info.maxLength, 20_000);
      expect(timings.seqLen).toBe(Math.max(1, tok.prefix.length + tok.suffix.length));
      expect(predictions[0]).toEqual(predictions[1]);
    });

    it('gives the same results in a batch as one text at a time (padding invariance)', async () => {
      const texts = ['a great , funny movie', 'bad', 'the plot is thin and the acting is worse than i expected from such a cast', 'ok'];
      const batch = await model.predictLogits(texts);
      for (const [i, text] of texts.entries()) {
        const one = await model.predictLogits([text]);
        one.logits[0]!.forEach((v, c) => expect(Math.abs(v - batch.logits[i]![c]!)).toBeLessThanOrEqual(1e-5));
      }
    });

    it('shares a call between two sessions and gets the logits of one (sessions: 2)', async () => {
      const two = await loadModel(name, { ...base, sessions: 2 });
      try {
        // Enough rows for several runs (encode.ts SUB_BATCH), and one row alone (cut in two: nothing to cut).
        const texts = [...parity().map((r) => r.text), ...AWKWARD.map(([, t]) => t)];
        for (const call of [texts, texts.slice(0, 1), texts.slice(0, 3)]) {
          const [a, b] = await Promise.all([model.predictLogits(call), two.predictLogits(call)]);
          expect(b.logits).toHaveLength(call.length);
          a.logits.forEach((row, i) => row.forEach((v, c) => expect(Math.abs(v - b.logits[i]![c]!), `row ${i} class ${c}`).toBeLessThanOrEqual(1e-5)));
        }
      } finally {
        await two.close();
      }
    });

    it('queues concurrent calls and answers each in order', async () => {
      const texts = ['good', 'bad', 'fine', 'awful', 'superb'];
      const together = await Promise.all(texts.map((t) => model.predict([t])));
      const { predictions } = await model.predict(texts);
      together.forEach((r, i) => expect(r.predictions[0]!.label).toBe(predictions[i]!.label));
    });

    it('reports timings and answers an empty call without the worker', async () => {
      const { timings } = await model.predict(['good', 'bad']);
      expect(timings.tokenizeMs).toBeGreaterThanOrEqual(0);
      expect(timings.inferenceMs).toBeGreaterThan(0);
      expect(timings.totalMs).toBeGreaterThanOrEqual(timings.inferenceMs);
      expect(await model.predict([])).toMatchObject({ predictions: [] });
      await expect(model.predict([1 as unknown as string])).rejects.toThrow(TypeError);
    });
  });
}

describe('execution providers', () => {
  const name = shipped[0]!;
  const ortBin = path.join(path.dirname(createRequire(import.meta.url).resolve('onnxruntime-node')), '../../bin/napi-v6', process.platform, process.arch);
  const cudaInstalled = existsSync(path.join(ortBin, 'libonnxruntime_providers_cuda.so'));

  it('parses EXECUTION_PROVIDERS-style lists', () => {
    expect(parseProviders('CUDA, cpu,cpu')).toEqual(['cuda', 'cpu']);
    expect(() => parseProviders('tpu,cpu')).toThrow('unknown execution provider "tpu" (known: cuda, webgpu, cpu)');
    expect(() => parseProviders('')).toThrow('no execution provider given');
  });

  it('falls back from cuda to cpu with exactly one warning when cuda cannot start', async () => {
    const warnings: string[] = [];
    const model = await loadModel(name, { ...base, executionProviders: ['cuda', 'cpu'], onWarning: (w) => warnings.push(w) });
    try {
      if (cudaInstalled) {
        expect(model.info.provider).toBe('cuda');
        expect(warnings).toEqual([]);
      } else {
        expect(model.info.provider).toBe('cpu');
        expect(warnings).toHaveLength(1);
        expect(warnings[0]).toMatch(/execution provider cuda could not start, using cpu \(cuda: /);
      }
      expectValid((await model.predict(['fine'])).predictions[0]!, model.info.labels);
    } finally {
      await model.close();
    }
  });

  it('uses webgpu if it starts here and agrees with cpu, else falls back with one warning', async () => {
    const warnings: string[] = [];
    const model = await loadModel(name, { ...base, executionProviders: 'webgpu,cpu', onWarning: (w) => warnings.push(w) });
    try {
      const texts = ['a wonderful film', 'a dreadful film'];
      const got = (await model.predictLogits(texts)).logits;
      if (model.info.provider === 'webgpu') {
        expect(warnings).toEqual([]);
        const cpu = await loadModel(name, base);
        const want = (await cpu.predictLogits(texts)).logits;
        await cpu.close();
        got.flat().forEach((v, i) => expect(Math.abs(v - want.flat()[i]!)).toBeLessThan(1e-3));
      } else {
        expect(model.info.provider).toBe('cpu');
        expect(warnings).toHaveLength(1);
        expect(warnings[0]).toContain('webgpu');
      }
    } finally {
      await model.close();
    }
  });

  it('rejects with one clear error when no listed provider starts', async () => {
    if (cudaInstalled) return;
    await expect(loadModel(name, { ...base, executionProviders: ['cuda'] })).rejects.toThrow(/: no execution provider could start: cuda: /);
  });
});

describe('loadModel on broken folders', () => {
  const name = shipped[0]!;
  const tmp = mkdtempSync(path.join(tmpdir(), 'broken-model-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  function copy(tag: string): string {
    const dir = path.join(tmp, tag);
    cpSync(path.join(modelsDir!, name), dir, { recursive: true });
    return dir;
  }

  it('rejects a folder whose model.onnx does not match its sha256', async () => {
    const dir = copy('sha');
    writeFileSync(path.join(dir, 'model.onnx'), 'garbage');
    await expect(loadModel(dir, base)).rejects.toThrow(`model folder ${dir}: sha256 of model.onnx is`);
  });

  it('rejects a folder whose tokenizer.json is broken', async () => {
    const dir = copy('tok');
    writeFileSync(path.join(dir, 'tokenizer.json'), '{"model": {"type": "Nope"}}');
    await expect(loadModel(dir, base)).rejects.toThrow(`model folder ${dir}: tokenizer.json / tokenizer_config.json could not be loaded by @xenova/transformers: `);
  });

  it('rejects a folder whose config lists a different number of labels than the model outputs', async () => {
    const dir = copy('labels');
    const config = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')) as { labels: string[] };
    config.labels = [...config.labels, 'extra'];
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
    await expect(loadModel(dir, base)).rejects.toThrow(/returned logits of shape \[2, \d+\], expected \[2, \d+\]/);
  });

  it('rejects a missing model name with the folder it looked in', async () => {
    await expect(loadModel('no-such-model', base)).rejects.toThrow(/model folder .*no-such-model: does not exist/);
  });
});

describe('after close', () => {
  it('finishes calls already made, then rejects new ones', async () => {
    const model = await loadModel(shipped[0]!, base);
    const inflight = model.predict(['still answered']);
    const closed = model.close();
    expect((await inflight).predictions).toHaveLength(1);
    await closed;
    await expect(model.predict(['late'])).rejects.toThrow(/is closed/);
    await model.close(); // idempotent
  });
});
