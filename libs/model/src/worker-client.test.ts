import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WorkerClient, type WorkerClientOptions } from './worker-client.js';

// Real workers running a few lines of JavaScript: the bookkeeping, not ONNX Runtime.
function echoWorker(onMessage: string, options?: WorkerClientOptions): WorkerClient<unknown> {
  const w = new Worker(`const { parentPort } = require('node:worker_threads'); parentPort.on('message', (m) => { ${onMessage} });`, { eval: true });
  const c = new WorkerClient<unknown>(w, options);
  w.on('message', (m: { id: number; value: unknown }) => c.resolve(m.id, m.value));
  return c;
}

/** A worker that holds each request until told `{ release: id }`, then answers it. */
const HOLDING = "if (m.release) parentPort.postMessage({ id: m.release, value: 'done' });";

describe('WorkerClient', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('matches responses to requests by id', async () => {
    const c = echoWorker('parentPort.postMessage({ id: m.id, value: m.x * 2 });');
    const results = await Promise.all([1, 2, 3].map((x) => c.request((id) => ({ message: { id, x } }))));
    expect(results).toEqual([2, 4, 6]);
    expect(c.pendingCount).toBe(0);
    await c.worker.terminate();
  });

  it('fail() rejects each pending request with its own error and later ones with the first', async () => {
    const c = echoWorker(HOLDING);
    const first = c.request((id) => ({ message: { id } }));
    const second = c.request((id) => ({ message: { id } }));
    c.fail((id) => new Error(`gone (request ${id})`));
    await expect(first).rejects.toThrow('gone (request 1)');
    await expect(second).rejects.toThrow('gone (request 2)');
    await expect(c.request((id) => ({ message: { id } }))).rejects.toThrow('gone (request 0)');
    expect(c.failed).toBe(true);
    expect(c.pendingCount).toBe(0);
    await c.worker.terminate();
  });

  it('times the oldest request from when the worker could start it, not from when it was sent', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const timedOut: number[] = [];
    const c = echoWorker(HOLDING, { timeoutMs: 1_000, onTimeout: (id) => timedOut.push(id) });
    const first = c.request((id) => ({ message: { id } }));
    const second = c.request((id) => ({ message: { id } }));
    vi.advanceTimersByTime(900);
    expect(timedOut).toEqual([]);
    c.worker.postMessage({ release: 1 });
    await expect(first).resolves.toBe('done');
    // 1,800 ms after it was sent, but only 900 ms after the worker was free to start it.
    vi.advanceTimersByTime(900);
    expect(timedOut).toEqual([]);
    vi.advanceTimersByTime(100);
    expect(timedOut).toEqual([2]);
    // The client does not reject by itself: its owner decides (the supervisor replaces the worker).
    expect(c.pendingCount).toBe(1);
    c.fail(new Error('replaced'));
    await expect(second).rejects.toThrow('replaced');
    await c.worker.terminate();
  });

  it('keeps no watchdog while idle, and none without a limit', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const c = echoWorker('parentPort.postMessage({ id: m.id, value: 1 });', { timeoutMs: 1_000, onTimeout: () => undefined });
    await c.request((id) => ({ message: { id } }));
    expect(vi.getTimerCount()).toBe(0);
    const unlimited = echoWorker(HOLDING);
    void unlimited.request((id) => ({ message: { id } })).catch(() => undefined);
    expect(vi.getTimerCount()).toBe(0);
    unlimited.fail(new Error('done'));
    await Promise.all([c.worker.terminate(), unlimited.worker.terminate()]);
  });
});
