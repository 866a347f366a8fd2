import { ConfigError } from '@sentiment-stream/config';

/**
 * The standard OpenTelemetry SDK variables the scorer honours, read here because
 * `@opentelemetry/sdk-trace` 2.x reads none of them itself (its README: "sdk-trace-base with any
 * reading of environment variables removed"). The OTLP exporter still reads its own
 * (OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT, _HEADERS, _TIMEOUT, _COMPRESSION, _CERTIFICATE, ...), and
 * the resource detector OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES. docs/tracing.md lists them.
 */
export type TracingSettings = { enabled: false; why: string } | EnabledTracing;

export interface EnabledTracing {
  enabled: true;
  /** Where spans go (for the start-up log line; the exporter reads the variable itself). */
  endpoint: string;
  sampler: { kind: 'always_on' | 'always_off' | 'traceidratio'; ratio: number; parentBased: boolean };
  /** Links per span (OTEL_SPAN_LINK_COUNT_LIMIT): a batch links at most this many producer contexts. */
  linkLimit: number;
  batch: { scheduledDelayMillis: number; exportTimeoutMillis: number; maxQueueSize: number; maxExportBatchSize: number };
}

/** The specification's defaults (opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables). */
export const TRACING_DEFAULTS = {
  linkLimit: 128,
  scheduledDelayMillis: 5_000,
  exportTimeoutMillis: 30_000,
  maxQueueSize: 2_048,
  maxExportBatchSize: 512,
} as const;

const SAMPLERS = ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'] as const;

/** Unset or blank reads as unset, as the SDK's own getStringFromEnv does. */
function read(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || !Number.isSafeInteger(Number(raw))) {
    throw new ConfigError(name, `must be a whole number >= ${min} (got "${raw}")`);
  }
  return Number(raw);
}

/**
 * Tracing is on when an OTLP endpoint is set (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else
 * OTEL_EXPORTER_OTLP_ENDPOINT) and neither OTEL_SDK_DISABLED=true nor OTEL_TRACES_EXPORTER=none
 * turns it off. Throws a ConfigError (one line, naming the variable) for a value it cannot use.
 */
export function tracingSettings(env: NodeJS.ProcessEnv): TracingSettings {
  if (read(env, 'OTEL_SDK_DISABLED')?.toLowerCase() === 'true') return { enabled: false, why: 'OTEL_SDK_DISABLED=true' };

  const exporters = (read(env, 'OTEL_TRACES_EXPORTER') ?? 'otlp').split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const e of exporters) {
    if (e !== 'otlp' && e !== 'none') throw new ConfigError('OTEL_TRACES_EXPORTER', `must be otlp or none (got "${e}"): the scorer exports traces over OTLP/HTTP only`);
  }
  if (!exporters.includes('otlp')) return { enabled: false, why: 'OTEL_TRACES_EXPORTER=none' };

  const endpointVar = read(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') !== undefined ? 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' : 'OTEL_EXPORTER_OTLP_ENDPOINT';
  const endpoint = read(env, endpointVar);
  if (endpoint === undefined) return { enabled: false, why: 'no OTEL_EXPORTER_OTLP_ENDPOINT' };
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new ConfigError(endpointVar, `must be an http:// or https:// URL (got "${endpoint}")`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(endpointVar, `must be an http:// or https:// URL (got "${endpoint}")`);

  const protocolVar = read(env, 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') !== undefined ? 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL' : 'OTEL_EXPORTER_OTLP_PROTOCOL';
  const protocol = read(env, protocolVar);
  // The exporter sends OTLP/HTTP with JSON bodies. Collectors serve both encodings on the HTTP port
  // (4318), so http/protobuf, the specification's default that platforms often set for every pod,
  // is accepted; gRPC is another port and another transport, so it would fail on every export.
  if (protocol !== undefined && protocol !== 'http/json' && protocol !== 'http/protobuf') {
    throw new ConfigError(protocolVar, `must be http/json or http/protobuf (got "${protocol}"): the scorer exports OTLP over HTTP with JSON bodies; point the endpoint at the collector's HTTP port (4318)`);
  }

  const samplerName = read(env, 'OTEL_TRACES_SAMPLER') ?? 'parentbased_always_on';
  if (!(SAMPLERS as readonly string[]).includes(samplerName)) throw new ConfigError('OTEL_TRACES_SAMPLER', `must be one of ${SAMPLERS.join(', ')} (got "${samplerName}")`);
  const parentBased = samplerName.startsWith('parentbased_');
  const kind = samplerName.replace('parentbased_', '') as EnabledTracing['sampler']['kind'];
  let ratio = 1;
  const arg = read(env, 'OTEL_TRACES_SAMPLER_ARG');
  if (kind === 'traceidratio' && arg !== undefined) {
    ratio = Number(arg);
    if (!Number.isFinite(ratio) || ratio < 0 || ratio > 1) throw new ConfigError('OTEL_TRACES_SAMPLER_ARG', `must be a number from 0 to 1 for ${samplerName} (got "${arg}")`);
  }

  return {
    enabled: true,
    endpoint: url.href,
    sampler: { kind, ratio, parentBased },
    linkLimit: integer(env, 'OTEL_SPAN_LINK_COUNT_LIMIT', TRACING_DEFAULTS.linkLimit, 0),
    batch: {
      scheduledDelayMillis: integer(env, 'OTEL_BSP_SCHEDULE_DELAY', TRACING_DEFAULTS.scheduledDelayMillis, 0),
      exportTimeoutMillis: integer(env, 'OTEL_BSP_EXPORT_TIMEOUT', TRACING_DEFAULTS.exportTimeoutMillis, 1),
      maxQueueSize: integer(env, 'OTEL_BSP_MAX_QUEUE_SIZE', TRACING_DEFAULTS.maxQueueSize, 1),
      maxExportBatchSize: integer(env, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', TRACING_DEFAULTS.maxExportBatchSize, 1),
    },
  };
}
