/**
 * A session thread: one more ONNX Runtime session of a worker's model, on a thread of its own, so a
 * call's runs go through two sessions at once (inference-worker.ts). onnxruntime-node's
 * `session.run` holds its thread for the whole run, so a second session needs a second thread.
 *
 * Why sessions rather than intra-op threads: one session with 2 intra-op threads meets its pool at a
 * barrier on every LSTM step, and a step waits whenever either thread is preempted by the Kafka
 * thread or the broker; two single-threaded sessions only meet at the end of a call. Raw ONNX
 * Runtime on 2 cores, batches of 256 (docs/performance.md, "Two sessions of one thread"):
 * 5,145-5,304 texts/s with one session of 2 threads, 5,738-6,087 with two of 1; with 0.7 of a core
 * taken by other work, 2,623-2,817 against 3,244-3,585.
 *
 * The main thread starts it beside its worker (supervisor.ts `startSessionThreads`) and it talks to
 * the worker over a MessageChannel: runs arrive packed, logits go back in the order of the runs.
 * When the worker is gone (its end of the channel closes, or the main thread says `close`), it ends
 * after the run in progress, from JavaScript: terminating it inside a run would abort the process.
 */
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import type { FromSessionThread, SessionThreadInit, ToSessionThread, ToSessionThreadControl } from './protocol.js';
import { createSession, firstLine, runPacked } from './session.js';

const init = workerData as SessionThreadInit;
const port = init.port;
const post = (msg: FromSessionThread, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);

// Calls arrive one share at a time and are answered in order; ending waits for the run in progress.
let chain: Promise<void> = Promise.resolve();
const end = () => {
  chain = chain.then(() => process.exit(0));
};
parentPort!.on('message', (msg: ToSessionThreadControl) => {
  if (msg.type === 'close') end();
});
port.on('close', end);

async function main(): Promise<void> {
  // The worker's nice value: this thread is started by the main thread, so it does not inherit it.
  if (init.nice > 0) {
    try {
      setPriority(0, init.nice);
    } catch {
      // The worker could not lower its own priority either, and said so (onWarning).
    }
  }
  let session;
  try {
    ({ session } = await createSession({ modelPath: init.modelPath, providers: ['cpu'], intraOpThreads: init.intraOpThreads, ortLogLevel: init.ortLogLevel }));
  } catch (err) {
    post({ type: 'fatal', error: firstLine(err) });
    return;
  }
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
