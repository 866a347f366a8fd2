/**
 * Test-only entry of the inference worker (LoadOptions.faultInjection): it hooks ONNX Runtime's
 * `InferenceSession.run` and the worker's port, then runs inference-worker.ts unchanged. A call
 * whose texts include a fault text (protocol.ts `faultText`) fails the way its kind says when the
 * worker's ONNX Runtime run reaches that call, so the fault hits that call (as a poison text would),
 * not the one the worker happened to be running when the message arrived.
 */
import { readFileSync } from 'node:fs';
import { parentPort, workerData, type TransferListItem } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { FAULT_KINDS, FAULT_PREFIX, type FaultKind, type FromWorker, type ToWorker, type WorkerInit } from './protocol.js';

type Fault = { kind: FaultKind; arg: string };

const init = workerData as WorkerInit;
const port = parentPort!;
/** One flag per `-once` kind, shared by every worker of the model (so a replacement does not fault again). */
const onceFlags = new Int32Array(init.faultState ?? new SharedArrayBuffer(8));
const ONCE_INDEX: Partial<Record<FaultKind, number>> = { 'exit-once': 0, 'hang-once': 1 };
/** Calls received and not answered yet, in order: the worker answers them in that order, so the first is the one running. */
const unanswered: { id: number; fault: Fault | null }[] = [];

function faultOf(texts: readonly string[]): Fault | null {
  for (const text of texts) {
    if (!text.startsWith(FAULT_PREFIX)) continue;
    const [kind = '', ...arg] = text.slice(FAULT_PREFIX.length).split(' ');
    if ((FAULT_KINDS as readonly string[]).includes(kind)) return { kind: kind as FaultKind, arg: arg.join(' ') };
  }
  return null;
}

// Registered before inference-worker.ts adds its own listener, so this one sees every call first.
port.on('message', (msg: ToWorker) => {
  if (msg.type === 'run') unanswered.push({ id: msg.id, fault: faultOf(msg.texts) });
});
const post = port.postMessage.bind(port);
port.postMessage = (msg: FromWorker, transfer?: readonly TransferListItem[]) => {
  if (msg.type === 'result' || msg.type === 'error') {
    const i = unanswered.findIndex((u) => u.id === msg.id);
    if (i >= 0) unanswered.splice(i, 1);
  }
  post(msg, transfer);
};

const blockForever = () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);

/** Returns normally when the run should go ahead (a `-once` fault already spent, or `block` released). */
function inject({ kind, arg }: Fault): void {
  const once = ONCE_INDEX[kind];
  if (once !== undefined && Atomics.compareExchange(onceFlags, once, 0, 1) !== 0) return;
  if (kind === 'exit' || kind === 'exit-once') process.exit(86);
  if (kind === 'hang' || kind === 'hang-once') blockForever();
  if (kind === 'error') throw new Error('injected inference error');
  if (kind === 'block') readFileSync(arg);
  if (kind === 'throw') {
    process.nextTick(() => {
      throw new Error('injected uncaught error');
    });
    throw new NeverSettles();
  }
}

/** Thrown by `throw` so the hooked run returns a promise that never settles: the uncaught error ends the worker first. */
class NeverSettles extends Error {}

// onnxruntime-common's InferenceSession is a class; its typings describe only the factory.
const proto = (ort.InferenceSession as unknown as { prototype: ort.InferenceSession }).prototype;
const realRun = proto.run;
proto.run = function (this: ort.InferenceSession, ...args: Parameters<typeof realRun>) {
  const fault = unanswered[0]?.fault;
  if (fault) {
    try {
      inject(fault);
    } catch (err) {
      if (err instanceof NeverSettles) return new Promise(() => undefined);
      throw err;
    }
  }
  return realRun.apply(this, args);
} as typeof realRun;

await import('./inference-worker.js');
