import { readFileSync } from 'node:fs';
import { describeSchema } from '@sentiment-stream/config';
import { describe, expect, it } from 'vitest';
import { scorerSettings } from './config.js';

describe('docs/configuration.md', () => {
  it('holds the table generated from the scorer schema, so docs and code cannot drift', () => {
    const doc = readFileSync(new URL('../../../docs/configuration.md', import.meta.url), 'utf8');
    const section = doc.split('<!-- scorer:begin -->\n')[1]?.split('\n<!-- scorer:end -->')[0];
    expect(section).toBe(describeSchema(scorerSettings));
  });
});
