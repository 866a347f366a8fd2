import type { Worker } from 'node:worker_threads';

/**
 * Request/response bookkeeping over one worker: ids, pending promises, and failure. When the
 * worker dies (uncaught error, exit), every pending request and every later one is rejected with
 * an error naming `label` and the cause. The worker is ref'ed only while requests are pending, so
 * an idle model never keeps the process alive.
 */
export class WorkerClient<Res> {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: Res) => void; reject: (e: Error) => void }>();
  private failure: Error | null = null;
  private readonly exited: Promise<number>;

  constructor(
    readonly worker: Worker,
    private readonly label: string,
  ) {
    worker.unref();
    worker.on('error', (err) => this.fail(`${label}: worker failed: ${err.message}`));
    this.exited = new Promise((resolve) => {
      worker.once('exit', (code) => {
        this.fail(`${label}: worker exited (code ${code})`);
        resolve(code);
      });
    });
  }

  /** Sends a request; `build` gets the id and returns the message and what to transfer. */
  request(build: (id: number) => { message: unknown; transfer?: ArrayBuffer[] }): Promise<Res> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    const { message, transfer } = build(id);
    return new Promise<Res>((resolve, reject) => {
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage(message, transfer ?? []);
    });
  }

  resolve(id: number, value: Res): void {
    this.settle(id)?.resolve(value);
  }

  reject(id: number, error: Error): void {
    this.settle(id)?.reject(error);
  }

  /** Rejects everything pending and later with `message` (first cause wins). */
  fail(message: string): void {
    if (!this.failure) this.failure = new Error(message);
    const pending = [...this.pending.values()];
    this.pending.clear();
    this.worker.unref();
    for (const p of pending) p.reject(this.failure);
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /** Resolves with the exit code once the worker has exited. */
  whenExited(): Promise<number> {
    return this.exited;
  }

  private settle(id: number) {
    const p = this.pending.get(id);
    if (!p) return undefined;
    this.pending.delete(id);
    if (this.pending.size === 0) this.worker.unref();
    return p;
  }
}
