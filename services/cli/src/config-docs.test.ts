import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderConfigDoc } from './config-docs.js';

describe('docs/configuration.md', () => {
  it('holds the tables generated from the scorer and sidecar schemas (make docs regenerates them)', () => {
    const doc = readFileSync(new URL('../../../docs/configuration.md', import.meta.url), 'utf8');
    expect(doc).toBe(renderConfigDoc(doc));
  });
});
