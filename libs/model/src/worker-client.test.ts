import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { WorkerClient } from './worker-client.js';

// Real workers running a few lines of JavaScript: the bookkeeping, not ONNX Runtime.
function echoWorker(onMessage: string): WorkerClient<unknown> {
  const w = new Worker(`const { parentPort } = require('node:worker_threads'); parentPort.on('message', (m) => { ${onMessage} });`, { eval: true });
  const c = new WorkerClient<unknown>(w, 'test model');
  w.on('message', (m: { id: number; value: unknown }) => c.resolve(m.id, m.value));
  return c;
}

describe('WorkerClient', () => {
  it('matches responses to requests by id', async () => {
    const c = echoWorker('parentPort.postMessage({ id: m.id, value: m.x * 2 });');
    const results = await Promise.all([1, 2, 3].map((x) => c.request((id) => ({ message: { id, x } }))));
    expect(results).toEqual([2, 4, 6]);
    expect(c.pendingCount).toBe(0);
    await c.worker.terminate();
  });

  it('rejects pending and later requests when the worker throws', async () => {
    const c = echoWorker("if (m.x === 2) throw new Error('boom'); setTimeout(() => parentPort.postMessage({ id: m.id, value: m.x }), 1000);");
    const first = c.request((id) => ({ message: { id, x: 1 } }));
    const second = c.request((id) => ({ message: { id, x: 2 } }));
    await expect(first).rejects.toThrow('test model: worker failed: boom');
    await expect(second).rejects.toThrow('test model: worker failed: boom');
    await expect(c.request((id) => ({ message: { id, x: 3 } }))).rejects.toThrow('worker failed: boom');
    await c.whenExited();
  });

  it('rejects pending requests when the worker exits', async () => {
    const c = echoWorker('process.exit(3);');
    await expect(c.request((id) => ({ message: { id } }))).rejects.toThrow('test model: worker exited (code 3)');
  });
});
