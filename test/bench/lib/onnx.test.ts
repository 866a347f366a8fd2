import { readFileSync } from 'node:fs';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { costTerms, matmulChainModel, matmulIntegerModel, readOnnxGraph, rowOps } from './onnx.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

describe('costTerms', () => {
  it('reads the shipped BiLSTM: the LSTM from its fp16 weights cast to fp32, and the head', () => {
    const g = readOnnxGraph(readFileSync(join(ROOT, 'models/sst2-bilstm/model.onnx')));
    const config = JSON.parse(readFileSync(join(ROOT, 'models/sst2-bilstm/config.json'), 'utf8')) as { hyperparameters: { hidden: number; emb_dim: number; lexicon_features: string[] } };
    const h = config.hyperparameters.hidden;
    const input = config.hyperparameters.emb_dim + config.hyperparameters.lexicon_features.length;
    const terms = costTerms(g);
    const proj = terms.find((t) => t.what.startsWith('LSTM input projection'))!;
    const rec = terms.find((t) => t.recurrent)!;
    expect(proj.perToken).toBe(2 * 2 * 4 * h * input);
    expect(rec.perToken).toBe(2 * 2 * 4 * h * h);
    expect(terms.filter((t) => t.op === 'Gemm').map((t) => t.perRow)).toEqual([2 * (4 * h + 6) * 2]);
    // 10 tokens: 10 x (projection + recurrence) + the head once.
    expect(rowOps(terms, 10)).toBe(10 * (proj.perToken + rec.perToken) + 2 * (4 * h + 6) * 2);
  });

  it('reads a transformer: weight MatMuls per token, attention per length squared', () => {
    const g = readOnnxGraph(readFileSync(join(ROOT, 'models/sst2-minilm/model.onnx')));
    const terms = costTerms(g);
    const weights = terms.filter((t) => t.perToken > 0);
    // 6 layers x (q, k, v, attention out: 384 x 384; intermediate 384 x 1536 and back).
    expect(weights.length).toBe(36);
    expect(weights.reduce((s, t) => s + t.perToken, 0)).toBe(6 * 2 * (4 * 384 * 384 + 2 * 384 * 1536));
    expect(terms.filter((t) => t.perTokenSquared > 0).length).toBe(12);
    expect(terms.every((t) => t.perTokenSquared === 0 || t.perTokenSquared === 2 * 384)).toBe(true);
  });
});

describe('the GEMM models it writes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-onnx-'));

  it('a MatMul chain that ONNX Runtime runs, with the product it should give', async () => {
    const [m, k, n, steps] = [3, 4, 5, 3];
    const bytes = matmulChainModel(m, k, n, steps);
    const g = readOnnxGraph(bytes);
    expect(g.nodes.map((x) => x.opType)).toEqual(['MatMul', 'MatMul', 'MatMul']);
    expect(g.inputs).toEqual(['X', 'W1', 'W2']);
    const file = join(dir, 'chain.onnx');
    writeFileSync(file, bytes);
    const session = await ort.InferenceSession.create(file);
    const out = await session.run({
      X: new ort.Tensor('float32', new Float32Array(m * k).fill(2), [m, k]),
      W1: new ort.Tensor('float32', new Float32Array(k * n).fill(1 / k), [k, n]),
      W2: new ort.Tensor('float32', new Float32Array(n * k).fill(1 / n), [n, k]),
    });
    // Each step averages: the 2s stay 2s; three steps end on [M, N].
    expect(out.Y!.dims).toEqual([m, n]);
    for (const v of out.Y!.data as Float32Array) expect(v).toBeCloseTo(2, 5);
    await session.release();
  });

  it('a MatMulInteger that ONNX Runtime runs', async () => {
    const file = join(dir, 'int8.onnx');
    writeFileSync(file, matmulIntegerModel(2, 3, 4));
    const session = await ort.InferenceSession.create(file);
    const out = await session.run({ A: new ort.Tensor('uint8', new Uint8Array(6).fill(2), [2, 3]), B: new ort.Tensor('int8', new Int8Array(12).fill(-1), [3, 4]) });
    expect([...(out.Y!.data as Int32Array)]).toEqual(new Array(8).fill(-6));
    await session.release();
  });
});
