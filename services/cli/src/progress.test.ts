import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { progress } from './progress.js';

function io(isTTY: boolean) {
  const stderr = Object.assign(new PassThrough(), { isTTY });
  let text = '';
  stderr.on('data', (c: Buffer) => (text += c.toString()));
  return { io: { stdin: Readable.from([]), stdout: new PassThrough(), stderr, env: {} }, text: () => text };
}

describe('progress', () => {
  it('off a terminal, prints a line only every `everyLines` texts', () => {
    const { io: x, text } = io(false);
    const bar = progress(x, 'scored', 250, 100);
    for (const done of [50, 99, 100, 150, 256]) bar.update(done);
    bar.done();
    expect(text().split('\n').filter(Boolean).map((l) => l.replace(/, \d+ texts\/s$/, ''))).toEqual(['scored: 100/250 texts', 'scored: 256/250 texts']);
  });

  it('on a terminal, prints nothing for a quick run', () => {
    const { io: x, text } = io(true);
    const bar = progress(x, 'scored');
    bar.update(10);
    bar.done();
    expect(text()).toBe('');
  });
});
