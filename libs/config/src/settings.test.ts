import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, boolean, describeSchema, integer, list, loadConfig, oneOf, optionalString, string } from './index.js';

const schema = {
  NAME: string({ doc: 'a name' }),
  SIZE: integer({ doc: 'a size', default: 8, min: 1, max: 64 }),
  MODE: oneOf(['a', 'b'] as const, { doc: 'a mode', default: 'a' }),
  ON: boolean({ doc: 'a switch', default: false }),
  ITEMS: list({ doc: 'items', default: ['x'] }),
  PICKS: list({ doc: 'picks', default: ['cpu'], values: ['cuda', 'cpu'] as const }),
  PASSWORD: optionalString({ doc: 'a secret', secret: true }),
};

describe('loadConfig', () => {
  it('applies defaults and parses typed values', () => {
    const c = loadConfig(schema, { NAME: 'n', SIZE: '16', ON: 'yes', ITEMS: ' a, b ,,c', PICKS: 'cuda,cpu' });
    expect(c).toEqual({ NAME: 'n', SIZE: 16, MODE: 'a', ON: true, ITEMS: ['a', 'b', 'c'], PICKS: ['cuda', 'cpu'], PASSWORD: undefined });
  });

  it.each([
    [{}, 'NAME is required: a non-empty string'],
    [{ NAME: 'n', SIZE: '0' }, 'SIZE must be an integer from 1 to 64 (got "0")'],
    [{ NAME: 'n', SIZE: '1.5' }, 'SIZE must be an integer from 1 to 64 (got "1.5")'],
    [{ NAME: 'n', MODE: 'c' }, 'MODE must be one of a, b (got "c")'],
    [{ NAME: 'n', ON: 'maybe' }, 'ON must be true or false (got "maybe")'],
    [{ NAME: 'n', PICKS: 'tpu' }, 'PICKS must be a comma-separated list of cuda, cpu (got "tpu")'],
    [{ NAME: '' }, 'NAME is set but empty: give a non-empty string, or unset it'],
    [{ NAME: 'n', ITEMS: ' ' }, 'ITEMS is set but empty: give a comma-separated list of non-empty names, or unset it for the default (x)'],
    [{ NAME: 'n', SIZE: '' }, 'SIZE is set but empty: give an integer from 1 to 64, or unset it for the default (8)'],
    [{ NAME: 'n', PASSWORD: '' }, 'PASSWORD is set but empty: give a non-empty string, or unset it'],
  ])('rejects %j with one line naming the variable', (env, message) => {
    expect(() => loadConfig(schema, env)).toThrow(ConfigError);
    try {
      loadConfig(schema, env);
    } catch (err) {
      expect((err as Error).message).toBe(message);
      expect((err as Error).message).not.toContain('\n');
    }
  });

  it('reads secrets from <NAME>_FILE and never echoes them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    writeFileSync(join(dir, 'pw'), 's3cret\n');
    expect(loadConfig(schema, { NAME: 'n', PASSWORD_FILE: join(dir, 'pw') }).PASSWORD).toBe('s3cret');
    expect(() => loadConfig(schema, { NAME: 'n', PASSWORD_FILE: join(dir, 'missing') })).toThrow(
      'PASSWORD_FILE names a file that cannot be read (ENOENT)',
    );
  });

  it('describes the schema as a Markdown table', () => {
    const table = describeSchema(schema);
    expect(table).toContain('| `SIZE` | `8` | a size |');
    expect(table).toContain('| `NAME` | (required) | a name |');
    expect(table).toContain('Also `PASSWORD_FILE`.');
  });
});
