// The OpenTelemetry SDK, loaded only when tracing is on (index.ts imports this module lazily).
import { diag, type DiagLogger } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { defaultResource, detectResources, envDetector, hostDetector, resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type Sampler,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import { startBatchTrace, type BatchTracerOptions } from './messaging.js';
import type { EnabledTracing } from './settings.js';
import type { Tracing } from './types.js';

export interface TracingLogger {
  warn(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

function sampler(s: EnabledTracing['sampler']): Sampler {
  const root = s.kind === 'always_on' ? new AlwaysOnSampler() : s.kind === 'always_off' ? new AlwaysOffSampler() : new TraceIdRatioBasedSampler(s.ratio);
  // The process span is always a root (it links to its producers), so parent-based and plain
  // samplers decide alike for it; its children follow it.
  return s.parentBased ? new ParentBasedSampler({ root }) : root;
}

/** Export failures (a collector away) go to the service's log, not to stderr; the stream goes on. */
function diagLogger(logger: TracingLogger): DiagLogger {
  return {
    error: (message, ...args) => logger.warn({ detail: args.map(String).join(' ') }, `tracing: ${message}`),
    warn: (message, ...args) => logger.warn({ detail: args.map(String).join(' ') }, `tracing: ${message}`),
    info: () => undefined,
    debug: () => undefined,
    verbose: () => undefined,
  };
}

export function startOtelTracing(
  settings: EnabledTracing,
  o: BatchTracerOptions & { serviceName: string; logger: TracingLogger },
  /** What spans go through: batched to the OTLP/HTTP exporter, unless a test passes its own. */
  processor: SpanProcessor = new BatchSpanProcessor({ exporter: new OTLPTraceExporter(), ...settings.batch }),
): Tracing {
  diag.setLogger(diagLogger(o.logger), { suppressOverrideMessage: true });
  // Precedence, lowest first: the SDK's defaults, our service name, then OTEL_RESOURCE_ATTRIBUTES
  // and OTEL_SERVICE_NAME (the environment decides what it sets), and the host name.
  const resource = defaultResource()
    .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: o.serviceName }))
    .merge(detectResources({ detectors: [hostDetector, envDetector] }));
  const provider = new TracerProvider({
    resource,
    sampler: sampler(settings.sampler),
    spanLimits: { linkCountLimit: settings.linkLimit },
    spanProcessors: [processor],
  });
  const tracer = provider.getTracer('@sentiment-stream/tracing');
  let stopped: Promise<void> | undefined;
  const shutdown = async (timeoutMs: number) => {
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    try {
      const outcome = await Promise.race([provider.shutdown().then(() => 'done' as const), gaveUp]);
      if (outcome === 'timeout') o.logger.warn({ timeoutMs }, 'tracing: spans not all exported before the stop deadline; the rest are dropped');
    } catch (err) {
      o.logger.warn({ err: (err as Error).message }, 'tracing: the last spans could not be exported');
    } finally {
      clearTimeout(timer);
      diag.disable();
    }
  };
  return {
    enabled: true,
    batch: (records) => startBatchTrace(tracer, o, records),
    shutdown: (timeoutMs) => (stopped ??= shutdown(timeoutMs)),
  };
}
