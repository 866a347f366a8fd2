import type { SourceRecord } from '@sentiment-stream/events';
import type { BatchTracerOptions } from './messaging.js';
import type { TracingLogger } from './otel.js';
import type { TracingSettings } from './settings.js';
import type { BatchTrace, Tracing } from './types.js';

export { TRACING_DEFAULTS, tracingSettings, type EnabledTracing, type TracingSettings } from './settings.js';
export type { BatchTrace, Tracing } from './types.js';
export type { TracingLogger } from './otel.js';

const untraced: BatchTrace = {
  score: (work) => work(),
  publish: (outputs, send) => send(outputs),
  fail: () => undefined,
};

/** Tracing off: every batch runs as it would without tracing, and the SDK is never loaded. */
export const noTracing: Tracing = {
  enabled: false,
  batch: (_records: readonly SourceRecord[]) => untraced,
  shutdown: async (_timeoutMs: number) => undefined,
};

/**
 * Tracing as the environment asks (tracingSettings): off unless an OTLP endpoint is set. The SDK
 * is imported only when it is on, so an untraced scorer pays nothing for it.
 */
export async function startTracing(
  settings: TracingSettings,
  o: BatchTracerOptions & { serviceName: string; logger: TracingLogger },
): Promise<Tracing> {
  if (!settings.enabled) return noTracing;
  const { startOtelTracing } = await import('./otel.js');
  return startOtelTracing(settings, o);
}

