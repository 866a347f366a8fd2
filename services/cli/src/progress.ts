import type { Io } from './io.js';

/**
 * Progress on stderr: on a TTY, one line rewritten at most 4 times a second (from a quarter
 * second in) and cleared at the end; otherwise a line every `everyLines` texts (so small runs print nothing).
 */
export function progress(io: Io, what: string, total?: number, everyLines = 50_000) {
  const tty = io.stderr.isTTY === true;
  const start = performance.now();
  let last = start; // nothing for runs shorter than a quarter second
  let lastReported = 0;
  let shown = false;
  const line = (done: number) => {
    const secs = (performance.now() - start) / 1000;
    const rate = secs > 0 ? Math.round(done / secs) : 0;
    return `${what}: ${done}${total !== undefined ? `/${total}` : ''} texts, ${rate} texts/s`;
  };
  return {
    update(done: number): void {
      const now = performance.now();
      if (tty) {
        if (now - last < 250) return;
        last = now;
        shown = true;
        io.stderr.write(`\r${line(done)}\x1b[K`);
      } else if (done - lastReported >= everyLines) {
        lastReported = done - (done % everyLines);
        io.stderr.write(`${line(done)}\n`);
      }
    },
    done(): void {
      if (tty && shown) io.stderr.write('\r\x1b[K');
    },
  };
}
