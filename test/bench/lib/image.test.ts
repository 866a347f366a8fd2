import { describe, expect, it } from 'vitest';
import { imageRuntime } from './image.js';

describe('imageRuntime', () => {
  it("reads the node flags of the shipped Dockerfile's ENTRYPOINT", () => {
    const { nodeArgs } = imageRuntime();
    expect(nodeArgs).toContain('--max-semi-space-size=8');
    expect(nodeArgs).toContain('--heap-growing-percent=50');
  });

  it('takes the last stage only, and only the settings that change the process', () => {
    const text = [
      'FROM node:24-slim AS build',
      'ENV NODE_OPTIONS=--max-old-space-size=4096',
      'ENTRYPOINT ["node", "--inspect", "build.js"]',
      'FROM node:24-slim AS runtime',
      'ENV NODE_ENV=production \\',
      '    HOME=/tmp \\',
      '    NODE_OPTIONS="--max-semi-space-size=4"',
      'ENV MALLOC_ARENA_MAX=2',
      'ENTRYPOINT ["tini", "--", "node", "--max-semi-space-size=8", "--heap-growing-percent=50", "main.js", "--not-a-node-flag"]',
    ].join('\n');
    expect(imageRuntime(text)).toEqual({
      env: { NODE_OPTIONS: '--max-semi-space-size=4', MALLOC_ARENA_MAX: '2' },
      nodeArgs: ['--max-semi-space-size=8', '--heap-growing-percent=50'],
    });
  });

  it('is empty for an image that sets none of them', () => {
    expect(imageRuntime('FROM node:24-slim\nENV HOME=/tmp\nENTRYPOINT ["node", "main.js"]\n')).toEqual({ env: {}, nodeArgs: [] });
  });

  it('refuses a shell-form ENTRYPOINT, whose flags it cannot read safely', () => {
    expect(() => imageRuntime('FROM node:24-slim\nENTRYPOINT node --foo main.js\n')).toThrow(/exec form/);
  });
});
