import { describe, expect, it } from 'vitest';
import { imageRuntimeEnv } from './image.js';

describe('imageRuntimeEnv', () => {
  it("reads the runtime stage's process settings from the shipped Dockerfile", () => {
    expect(imageRuntimeEnv().NODE_OPTIONS).toMatch(/--max-semi-space-size=\d+/);
  });

  it('takes the last stage only, and only the settings that change the process', () => {
    const text = [
      'FROM node:24-slim AS build',
      'ENV NODE_OPTIONS=--max-old-space-size=4096',
      'FROM node:24-slim AS runtime',
      'ENV NODE_ENV=production \\',
      '    HOME=/tmp \\',
      '    NODE_OPTIONS="--max-semi-space-size=4"',
      'ENV MALLOC_ARENA_MAX=2',
    ].join('\n');
    expect(imageRuntimeEnv(text)).toEqual({ NODE_OPTIONS: '--max-semi-space-size=4', MALLOC_ARENA_MAX: '2' });
  });

  it('is empty for an image that sets none of them', () => {
    expect(imageRuntimeEnv('FROM node:24-slim\nENV HOME=/tmp\n')).toEqual({});
  });
});
