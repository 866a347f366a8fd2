import type { Worker } from 'node:worker_threads';

export interface WorkerClientOptions {
  /**
   * Time limit per request, counted from when the worker could start it: the worker handles
   * requests one at a time in the order sent, so the clock of a request starts when it was sent or
   * when the request before it was answered, whichever is later. Waiting behind earlier requests is
   * not counted. 0 or undefined: no limit.
   */
  timeoutMs?: number;
  /** Called once when the oldest pending request has run past `timeoutMs` (it stays pending: the caller decides). */
  onTimeout?: (id: number) => void;
}

interface Pending<Res> {
  resolve: (r: Res) => void;
  reject: (e: Error) => void;
}

/**
 * Request/response bookkeeping over one worker: ids, pending promises in the order sent, a watchdog
 * on the oldest one, and failure. The worker is ref'ed only while requests are pending, so an idle
 * model never keeps the process alive. What a dead or hung worker means is the owner's business
 * (supervisor.ts): it calls `fail`.
 */
export class WorkerClient<Res> {
  private nextId = 1;
  /** Insertion order is the order sent, which is the order the worker answers in. */
  private readonly pending = new Map<number, Pending<Res>>();
  private failure: Error | null = null;
  private watchdog: NodeJS.Timeout | null = null;
  /** performance.now() when the oldest pending request could start. */
  private headSince = 0;

  constructor(
    readonly worker: Worker,
    private readonly options: WorkerClientOptions = {},
  ) {
    worker.unref();
  }

  /** Sends a request; `build` gets the id and returns the message and what to transfer. */
  request(build: (id: number) => { message: unknown; transfer?: ArrayBuffer[] }): Promise<Res> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    const { message, transfer } = build(id);
    return new Promise<Res>((resolve, reject) => {
      const first = this.pending.size === 0;
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage(message, transfer ?? []);
      if (first) {
        this.worker.ref();
        this.headSince = performance.now();
        this.arm();
      }
    });
  }

  resolve(id: number, value: Res): void {
    this.settle(id)?.resolve(value);
  }

  reject(id: number, error: Error): void {
    this.settle(id)?.reject(error);
  }

  /**
   * Rejects every pending request, each with `error` or `error(id)`, and every later one with the
   * first failure's error (for a function: its error for id 0). Only the first call has effect.
   */
  fail(error: Error | ((id: number) => Error)): void {
    if (this.failure) return;
    const errorFor = typeof error === 'function' ? error : () => error;
    this.failure = errorFor(0);
    this.disarm();
    const pending = [...this.pending.entries()];
    this.pending.clear();
    this.worker.unref();
    for (const [id, p] of pending) p.reject(errorFor(id));
  }

  get failed(): boolean {
    return this.failure !== null;
  }

  /** The oldest request not answered yet: the one the worker is running. */
  get headId(): number | undefined {
    return this.pending.keys().next().value;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  private settle(id: number): Pending<Res> | undefined {
    const p = this.pending.get(id);
    if (!p) return undefined;
    const wasHead = this.pending.keys().next().value === id;
    this.pending.delete(id);
    if (this.pending.size === 0) {
      this.disarm();
      this.worker.unref();
    } else if (wasHead) {
      this.headSince = performance.now();
      this.arm();
    }
    return p;
  }

  private arm(): void {
    this.disarm();
    const limit = this.options.timeoutMs;
    const head = this.pending.keys().next().value;
    if (!limit || head === undefined) return;
    const delay = Math.max(0, this.headSince + limit - performance.now());
    // Unref'd: a pending request already keeps the process alive through the ref'ed worker.
    this.watchdog = setTimeout(() => {
      this.watchdog = null;
      if (this.pending.keys().next().value === head) this.options.onTimeout?.(head);
    }, delay).unref();
  }

  private disarm(): void {
    if (this.watchdog) clearTimeout(this.watchdog);
    this.watchdog = null;
  }
}
