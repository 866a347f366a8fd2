/**
 * The errors a model call can reject with, by what the caller should do about them:
 * - `retriable: true` (WorkerRestartedError, and its subclass InferenceTimeoutError): the worker
 *   died or hung while the call was in flight and has been replaced; the same texts may well
 *   succeed if sent again.
 * - `retriable: false`: InferenceError (the model itself failed on these texts: split the batch to
 *   find the text that fails alone), ModelFailedError (the supervisor gave up: stop using the
 *   model), ModelClosedError (close() was called).
 */
export abstract class ModelError extends Error {
  /** Whether sending the same texts again may succeed. */
  abstract readonly retriable: boolean;

  constructor(
    message: string,
    /** The model's name (config.json). */
    readonly model: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** The inference worker died or was replaced while this call was in flight; nothing was answered. */
export class WorkerRestartedError extends ModelError {
  readonly retriable = true;

  constructor(
    message: string,
    model: string,
    /** Why the worker was replaced: "worker exited (code 1)", "worker failed: <error>", "a call took longer than 500 ms". */
    readonly reason: string,
    /**
     * Whether the worker was running this call when it failed (the oldest call it had not
     * answered), or the call was only queued behind that one: a queued call cannot be the cause,
     * so a caller looking for a text that kills the worker retries it whole.
     */
    readonly running = true,
  ) {
    super(message, model);
  }
}

/**
 * This call got no answer within `inferenceTimeoutMs` of the worker starting it; the worker was
 * terminated and replaced (a subclass of WorkerRestartedError, so one `instanceof` covers both).
 */
export class InferenceTimeoutError extends WorkerRestartedError {
  constructor(
    message: string,
    model: string,
    readonly timeoutMs: number,
  ) {
    super(message, model, `a call took longer than ${timeoutMs} ms`);
  }
}

/** The model reported an error for these texts (tokenizer or ONNX Runtime); the worker is fine. */
export class InferenceError extends ModelError {
  readonly retriable = false;
}

/** The supervisor gave up replacing the worker (see LoadOptions.maxConsecutiveFailures); every call now rejects with this. */
export class ModelFailedError extends ModelError {
  readonly retriable = false;
}

/** The call was made after close(), or close() ended the worker before it answered. */
export class ModelClosedError extends ModelError {
  readonly retriable = false;
}

/** True for an error after which the same call may succeed (a replaced worker). */
export function isRetriable(err: unknown): boolean {
  return err instanceof ModelError && err.retriable;
}
