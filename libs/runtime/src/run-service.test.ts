// The process-wide policy, in real child processes: how each kind of failure ends the process.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const DIST = fileURLToPath(new URL('../dist/index.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'run-service-'));

/** Runs a service whose start and run are `body` (JavaScript, with `runService` and `createServer` in scope). */
async function run(name: string, body: string, signalWhenStarted = false): Promise<{ code: number | null; ms: number; lines: Record<string, unknown>[]; stderr: string }> {
  if (!existsSync(DIST)) throw new Error('libs/runtime is not built: run `npx tsc -b` first (make test-unit does)');
  const file = join(dir, `${name}.mjs`);
  writeFileSync(
    file,
    `import { createServer } from 'node:net';\nimport { runService } from ${JSON.stringify(DIST)};\n${body}\n`,
  );
  const began = Date.now();
  const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (signalWhenStarted && out.includes('"msg":"test started"')) {
      signalWhenStarted = false;
      child.kill('SIGTERM');
    }
  });
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  const lines = out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { code, ms: Date.now() - began, lines, stderr: err };
}

const service = (start: string, extra = '') => `
let stopped = false;
const code = await runService({
  name: 'test',
  loadConfig: () => ({}),
  logLevel: () => 'info',
  start: async () => { ${start} },
  describe: () => ({}),
  stopTimeoutMs: () => 5000,
}, process.env);
process.exitCode = code;
${extra}`;

describe('runService: the one place that exits the process', () => {
  it('an unhandled rejection anywhere: logged with its stack, the service stopped gracefully, exit 1', async () => {
    const r = await run(
      'rejection',
      service(`
        setTimeout(() => { Promise.reject(new Error('boom from nowhere')); }, 50);
        return { stop: async () => { console.log(JSON.stringify({ msg: 'service stop called' })); } };`),
    );
    expect(r.code).toBe(1);
    const fatal = r.lines.find((l) => l.msg === 'test failed; stopping');
    expect(fatal).toMatchObject({ origin: 'unhandled rejection', err: 'boom from nowhere' });
    expect(String(fatal?.stack)).toContain('boom from nowhere');
    expect(r.lines.map((l) => l.msg)).toEqual(expect.arrayContaining(['service stop called', 'stopped after a failure']));
  });

  it('an uncaught exception: the same', async () => {
    const r = await run(
      'exception',
      service(`
        setTimeout(() => { throw new RangeError('Invalid time value'); }, 50);
        return { stop: async () => undefined };`),
    );
    expect(r.code).toBe(1);
    expect(r.lines.find((l) => l.msg === 'test failed; stopping')).toMatchObject({ origin: 'uncaught exception', err: 'Invalid time value' });
  });

  it('a service that fails on its own (its done promise rejects): stopped, exit 1', async () => {
    const r = await run(
      'done',
      service(`
        let fail;
        const done = new Promise((_, reject) => (fail = reject));
        setTimeout(() => fail(new Error('the model gave up')), 50);
        return { done, stop: async () => undefined };`),
    );
    expect(r.code).toBe(1);
    expect(r.lines.find((l) => l.msg === 'test failed; stopping')).toMatchObject({ origin: 'service', err: 'the model gave up' });
  });

  it('a start-up failure exits 1 within a second even when start-up left a server listening', async () => {
    const r = await run(
      'start',
      service(`
        await new Promise((resolve) => createServer().listen(0, '127.0.0.1', resolve));
        throw new Error('topic "out" not found on the cluster');`),
    );
    expect(r.code).toBe(1);
    expect(r.lines.filter((l) => l.level === 60)).toEqual([expect.objectContaining({ msg: 'test could not start', err: 'topic "out" not found on the cluster' })]);
    // The failure itself is immediate; what is measured is that the open server did not hold the process.
    expect(r.ms).toBeLessThan(5_000);
  });

  it('SIGTERM: stopped cleanly, exit 0', async () => {
    // A service holds something open (a server, a client), or there would be nothing to wait for.
    const r = await run(
      'signal',
      service(`
        const server = createServer();
        await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
        return { stop: () => new Promise((resolve) => server.close(resolve)) };`),
      true,
    );
    expect(r.code).toBe(0);
    expect(r.lines.map((l) => l.msg)).toEqual(expect.arrayContaining(['draining', 'stopped cleanly']));
  });
});
