export interface BatcherOptions {
  maxSize: number;
  maxWaitMs: number;
}

/**
 * Collects items from every partition into batches for one consumer (the inference stage), which
 * runs one batch at a time. A batch is cut when it is full, or when its oldest item has waited
 * `maxWaitMs`; while the consumer is busy, items queue up, so under load batches fill by themselves.
 * A consumer that throws never stops the batcher: the throw goes to `crashed` with its batch, and
 * the next batch is cut as usual.
 */
export class Batcher<T> {
  private items: T[] = [];
  private arrivals: number[] = [];
  private busy = false;
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
    if (!this.busy && this.items.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private schedule(): void {
    if (this.busy) return;
    if (this.items.length === 0) {
      for (const w of this.idleWaiters.splice(0)) w();
      return;
    }
    const waited = this.now() - this.arrivals[0]!;
    if (this.items.length >= this.opts.maxSize || waited >= this.opts.maxWaitMs) {
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
    this.busy = true;
    const batch = this.items.splice(0, this.opts.maxSize);
    this.arrivals.splice(0, batch.length);
    try {
      await this.consume(batch);
    } catch (err) {
      try {
        this.crashed(err, batch);
      } catch {
        // The report of a crash must not become one.
      }
    } finally {
      this.busy = false;
      this.schedule();
    }
  }
}
