/**
 * A session thread: one more ONNX Runtime session of the worker's model, on a thread of its own, so
 * a call's pieces run on two sessions at once (inference-worker.ts). onnxruntime-node's
 * `session.run` holds its thread for the whole run, so a second session needs a second thread.
 *
 * Why sessions rather than intra-op threads: one session with 2 intra-op threads meets its pool at a
 * barrier on every LSTM step, and a step waits whenever either thread is preempted by the Kafka
 * thread or the broker; two single-threaded sessions only meet at the end of a call. Raw ONNX
 * Runtime on 2 cores, batches of 256 (docs/performance.md, "Two sessions"): 5,145-5,304 texts/s
 * with one session of 2 threads, 5,738-6,087 with two of 1; with 0.7 of a core taken by other
 * work, 2,623-2,817 against 3,244-3,585.
 *
 * It inherits the worker's nice value (Linux's nice is per thread, and a thread starts with its
 * creator's). Runs arrive packed by the worker; logits go back in the order of the runs.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { FromSessionThread, SessionThreadInit, ToSessionThread } from './protocol.js';
import { createSession, firstLine, runPacked } from './session.js';

const init = workerData as SessionThreadInit;
const port = parentPort!;
const post = (msg: FromSessionThread, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);

async function main(): Promise<void> {
  let session;
  try {
    ({ session } = await createSession({ modelPath: init.modelPath, providers: [init.provider], intraOpThreads: init.intraOpThreads, ortLogLevel: init.ortLogLevel }));
  } catch (err) {
    post({ type: 'fatal', error: firstLine(err) });
    return;
  }
  // Calls arrive one share at a time and are answered in order.
  let chain: Promise<void> = Promise.resolve();
  port.on('message', (msg: ToSessionThread) => {
    chain = chain.then(async () => {
      try {
        const logits: Float32Array[] = [];
        for (const run of msg.runs) logits.push((await runPacked(session, run, init.classes)).slice());
        post({ type: 'logits', id: msg.id, logits }, logits.map((l) => l.buffer as ArrayBuffer));
      } catch (err) {
        post({ type: 'error', id: msg.id, error: firstLine(err) });
      }
    });
  });
  post({ type: 'ready' });
}

await main();
