/**
 * The optional model folders under models/options/ (selected by path, e.g.
 * MODEL=models/options/sst2-bilstm-int8): the int8-LSTM variants of the shipped BiLSTMs
 * (training/int8-option.sh). ONNX Runtime's DynamicQuantizeLSTM quantizes activations per call
 * over the whole batch, so these folders are held to their parity logits text by text (1e-4) and
 * to config.json's quantization.batch_tolerance when batched; the default models in models/ are
 * held to 1e-5 by model.test.ts.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type Model } from './model.js';
import { defaultModelsDir } from './model-folder.js';

const optionsDir = path.join(process.env.MODELS_DIR ?? defaultModelsDir() ?? 'models', 'options');
const options = existsSync(optionsDir) ? readdirSync(optionsDir).filter((d) => existsSync(path.join(optionsDir, d, 'config.json'))).sort() : [];

it('ships the int8-LSTM options under models/options/', () => {
  expect(options.filter((o) => o.endsWith('-int8')), `no int8 option folder under ${optionsDir} (bash training/int8-option.sh MODEL)`).not.toEqual([]);
});

for (const name of options) {
  describe(`option ${name}`, () => {
    const dir = path.join(optionsDir, name);
    const config = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')) as { quantization?: { batch_tolerance: number } };
    const parity = readFileSync(path.join(dir, 'parity.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as { text: string; logits: number[] });
    let model: Model;
    beforeAll(async () => {
      model = await loadModel(dir, { intraOpThreads: 1 });
    });
    afterAll(async () => {
      await model?.close();
    });

    it('reproduces parity.jsonl text by text within 1e-4', async () => {
      for (const row of parity) {
        const got = (await model.predictLogits([row.text])).logits[0]!;
        row.logits.forEach((want, c) => expect(Math.abs(got[c]! - want), JSON.stringify(row.text).slice(0, 60)).toBeLessThanOrEqual(1e-4));
      }
    });

    it('stays within its recorded batch tolerance when the parity texts are scored together', async () => {
      const tol = config.quantization?.batch_tolerance;
      expect(tol, 'config.json quantization.batch_tolerance').toBeGreaterThan(0);
      const { logits } = await model.predictLogits(parity.map((r) => r.text));
      parity.forEach((row, i) => row.logits.forEach((want, c) => expect(Math.abs(logits[i]![c]! - want)).toBeLessThanOrEqual(tol!)));
    });
  });
}
