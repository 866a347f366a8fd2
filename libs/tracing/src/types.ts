import type { OutboundMessage, SourceRecord } from '@sentiment-stream/events';

/** The spans of one input batch; with tracing off, each member just runs what it is given. */
export interface BatchTrace {
  /** Runs the scoring of the batch's records (the pipeline) as the `score` span. */
  score(work: () => Promise<OutboundMessage[]>): Promise<OutboundMessage[]>;
  /**
   * Hands the outputs to `send` (the transport's ack: publish and commit) as the `send` span, with
   * that span's context in their traceparent when it is recorded, then ends the batch's spans.
   */
  publish(outputs: OutboundMessage[], send: (outputs: OutboundMessage[]) => Promise<void>): Promise<void>;
  /** The batch will not be published (released for re-delivery): ends its spans as failed. */
  fail(err: Error): void;
}

export interface Tracing {
  readonly enabled: boolean;
  /** Starts the spans of one input batch. */
  batch(records: readonly SourceRecord[]): BatchTrace;
  /**
   * Exports the spans still buffered and stops, giving up after `timeoutMs` (spans are best effort:
   * a collector that is away must not hold up a shutdown whose records are already committed).
   * Never rejects; safe to call twice.
   */
  shutdown(timeoutMs: number): Promise<void>;
}
