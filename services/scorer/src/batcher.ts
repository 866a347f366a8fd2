export interface BatcherOptions {
  maxSize: number;
  maxWaitMs: number;
  /**
   * Batches handed to the consumer at once (default 1). Beyond the first, a batch is cut only when
   * full: the consumer prepares it while the one before runs, and at lower load the next batch keeps
   * growing until the running one ends, so batches stay as large as with one at a time.
   */
  concurrency?: number;
}

/**
 * Collects items from every partition into batches for one consumer (the inference stage). A batch
 * is cut when it is full, or when its oldest item has waited `maxWaitMs` and no batch is running;
 * while the consumer is busy, items queue up, so under load batches fill by themselves.
 * A consumer that throws never stops the batcher: the throw goes to `crashed` with its batch, and
 * the next batch is cut as usual.
 */
export class Batcher<T> {
  private items: T[] = [];
  private arrivals: number[] = [];
  private running = 0;
  private timer: NodeJS.Timeout | undefined;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly opts: BatcherOptions,
    private readonly consume: (batch: T[]) => Promise<void>,
    private readonly crashed: (err: unknown, batch: T[]) => void,
    private readonly now: () => number = Date.now,
  ) {}

  get queued(): number {
    return this.items.length;
  }

  add(items: readonly T[]): void {
    const at = this.now();
    for (const item of items) {
      this.items.push(item);
      this.arrivals.push(at);
    }
    this.schedule();
  }

  /** Resolves once nothing is queued and no batch is running. */
  idle(): Promise<void> {
    if (this.running === 0 && this.items.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private schedule(): void {
    if (this.items.length === 0) {
      if (this.running === 0) for (const w of this.idleWaiters.splice(0)) w();
      return;
    }
    const full = this.items.length >= this.opts.maxSize;
    if (this.running > 0) {
      if (full && this.running < (this.opts.concurrency ?? 1)) void this.cut();
      return;
    }
    const waited = this.now() - this.arrivals[0]!;
    if (full || waited >= this.opts.maxWaitMs) {
      void this.cut();
      return;
    }
    if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.schedule();
      }, this.opts.maxWaitMs - waited);
    }
  }

  private async cut(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.running++;
    const batch = this.items.splice(0, this.opts.maxSize);
    this.arrivals.splice(0, batch.length);
    // The rest may already fill another batch (concurrency > 1).
    if (this.items.length > 0) queueMicrotask(() => this.schedule());
    try {
      await this.consume(batch);
    } catch (err) {
      try {
        this.crashed(err, batch);
      } catch {
        // The report of a crash must not become one.
      }
    } finally {
      this.running--;
      this.schedule();
    }
  }
}
