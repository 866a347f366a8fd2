import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readModelFolder, resolveModelDir } from './model-folder.js';

const root = mkdtempSync(path.join(tmpdir(), 'model-folder-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const onnxBytes = Buffer.from('not really onnx');
const sha = createHash('sha256').update(onnxBytes).digest('hex');
const goodConfig = { name: 'm', version: '1', labels: ['negative', 'positive'], max_length: 64, dataset: 'sst2', sha256: sha };

let n = 0;
function folder(files: Record<string, string | Buffer | null>): string {
  const dir = path.join(root, `m${n++}`);
  mkdirSync(dir);
  const all: Record<string, string | Buffer | null> = {
    'model.onnx': onnxBytes,
    'tokenizer.json': '{}',
    'tokenizer_config.json': '{}',
    'config.json': JSON.stringify(goodConfig),
    ...files,
  };
  for (const [name, content] of Object.entries(all)) if (content !== null) writeFileSync(path.join(dir, name), content);
  return dir;
}

describe('resolveModelDir', () => {
  it('looks a bare name up under modelsDir and keeps paths as paths', () => {
    expect(resolveModelDir('sst2-bilstm', { modelsDir: '/srv/models' })).toBe('/srv/models/sst2-bilstm');
    expect(resolveModelDir('./x/y', { modelsDir: '/srv/models' })).toBe(path.resolve('x/y'));
    expect(resolveModelDir('/abs/m', { modelsDir: '/srv/models' })).toBe('/abs/m');
  });

  it('finds the repository models/ folder by default', () => {
    expect(resolveModelDir('some-model')).toBe(path.resolve(import.meta.dirname, '../../../models/some-model'));
  });
});

describe('readModelFolder', () => {
  it('accepts a valid folder', async () => {
    const dir = folder({});
    const f = await readModelFolder(dir);
    expect(f.config).toMatchObject({ name: 'm', labels: ['negative', 'positive'], maxLength: 64, dataset: 'sst2' });
    expect(f.modelPath).toBe(path.join(dir, 'model.onnx'));
  });

  it('reads window_stride (long texts in windows), null when absent', async () => {
    expect((await readModelFolder(folder({}))).config.windowStride).toBeNull();
    const dir = folder({ 'config.json': JSON.stringify({ ...goodConfig, window_stride: 48 }) });
    expect((await readModelFolder(dir)).config.windowStride).toBe(48);
  });

  const cases: [string, Record<string, string | Buffer | null>, RegExp][] = [
    ['a missing file', { 'tokenizer.json': null }, /missing tokenizer\.json/],
    ['config.json that is not JSON', { 'config.json': '{nope' }, /config\.json is not valid JSON/],
    ['labels missing', { 'config.json': JSON.stringify({ ...goodConfig, labels: undefined }) }, /"labels" must be/],
    ['duplicate labels', { 'config.json': JSON.stringify({ ...goodConfig, labels: ['a', 'a'] }) }, /duplicates/],
    ['bad max_length', { 'config.json': JSON.stringify({ ...goodConfig, max_length: 0 }) }, /"max_length"/],
    ['bad sha256', { 'config.json': JSON.stringify({ ...goodConfig, sha256: 'abc' }) }, /"sha256" must be 64 hex/],
    ['sha256 mismatch', { 'model.onnx': Buffer.from('other bytes') }, /sha256 of model\.onnx is [0-9a-f]{64}, config\.json says/],
    ['a window_stride of 0', { 'config.json': JSON.stringify({ ...goodConfig, window_stride: 0 }) }, /"window_stride" must be a positive integer below max_length, got 0/],
    ['a window_stride not below max_length', { 'config.json': JSON.stringify({ ...goodConfig, window_stride: 64 }) }, /"window_stride" must be/],
  ];
  for (const [what, files, message] of cases) {
    it(`rejects ${what} with one line naming the folder`, async () => {
      const dir = folder(files);
      const err = (await readModelFolder(dir).catch((e: unknown) => e)) as Error;
      expect(err).toBeInstanceOf(Error);
      expect(err.message).toMatch(message);
      expect(err.message).toContain(dir);
      expect(err.message).not.toContain('\n');
    });
  }

  it('rejects a folder that does not exist', async () => {
    await expect(readModelFolder('no-such-model', { modelsDir: root })).rejects.toThrow(`model folder ${path.join(root, 'no-such-model')}: does not exist`);
  });
});
