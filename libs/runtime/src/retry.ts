/**
 * Backoff and retry, written once for every library and service that waits on something that may
 * come back (a broker, a coordinator, a restarted model worker).
 */
export interface BackoffOptions {
  /** First delay. */
  initialMs: number;
  /** Delays never exceed this. */
  maxMs: number;
  /** Growth per attempt (default 2). */
  factor?: number;
  /**
   * Fraction of each delay drawn at random (default 0.2: 80-100 % of the nominal delay), so that
   * replicas restarted together do not retry in lock step against the same broker.
   */
  jitter?: number;
  /** Randomness for the jitter; tests pass a fixed one. */
  random?: () => number;
}

/** Delay before attempt `attempt + 1` (attempt counts from 1). */
export function backoffDelay(attempt: number, o: BackoffOptions): number {
  const nominal = Math.min(o.maxMs, o.initialMs * (o.factor ?? 2) ** Math.max(0, attempt - 1));
  const jitter = o.jitter ?? 0.2;
  return Math.round(nominal * (1 - jitter * (o.random ?? Math.random)()));
}

export interface RetryOptions extends BackoffOptions {
  /** Stop after this many attempts (default: never). */
  maxAttempts?: number;
  /** A failure this says no to is thrown at once (default: every failure is retried). */
  retriable?: (err: unknown) => boolean;
  /** Told about each failure that will be retried, and the delay before the next attempt. */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  /** Stops the retries: the last failure (or an AbortError) is thrown, the pending wait ends at once. */
  signal?: AbortSignal;
}

/** Runs `attempt` until it resolves, waiting with backoff between failures. */
export async function retry<T>(attempt: (n: number) => Promise<T>, o: RetryOptions): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (err) {
      if (o.signal?.aborted || (o.retriable && !o.retriable(err)) || (o.maxAttempts !== undefined && n >= o.maxAttempts)) throw err;
      const delay = backoffDelay(n, o);
      o.onRetry?.(err, n, delay);
      await sleep(delay, o.signal);
      if (o.signal?.aborted) throw err;
    }
  }
}

/** Resolves after `ms`, or at once when `signal` aborts; never keeps the process alive. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    timer.unref();
    signal?.addEventListener('abort', done, { once: true });
  });
}
