import { ConfigError } from '@sentiment-stream/config';
import { describe, expect, it } from 'vitest';
import { TRACING_DEFAULTS, tracingSettings } from './settings.js';

const on = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel-collector:4318' };

describe('tracing settings from the standard OTEL_* variables', () => {
  it('is off without an OTLP endpoint, and says why', () => {
    expect(tracingSettings({})).toEqual({ enabled: false, why: 'no OTEL_EXPORTER_OTLP_ENDPOINT' });
    expect(tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: '  ' }).enabled).toBe(false);
  });

  it('is on with either endpoint variable, the traces-specific one first', () => {
    expect(tracingSettings(on)).toMatchObject({ enabled: true, endpoint: 'http://otel-collector:4318/' });
    expect(tracingSettings({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://x.example/v1/traces', OTEL_EXPORTER_OTLP_ENDPOINT: 'nonsense' })).toMatchObject({
      enabled: true,
      endpoint: 'https://x.example/v1/traces',
    });
  });

  it('takes the specification defaults', () => {
    expect(tracingSettings(on)).toEqual({
      enabled: true,
      endpoint: 'http://otel-collector:4318/',
      sampler: { kind: 'always_on', ratio: 1, parentBased: true },
      linkLimit: TRACING_DEFAULTS.linkLimit,
      batch: { scheduledDelayMillis: 5_000, exportTimeoutMillis: 30_000, maxQueueSize: 2_048, maxExportBatchSize: 512 },
    });
  });

  it('is off when the SDK is disabled or the exporter is none', () => {
    expect(tracingSettings({ ...on, OTEL_SDK_DISABLED: 'TRUE' })).toEqual({ enabled: false, why: 'OTEL_SDK_DISABLED=true' });
    expect(tracingSettings({ ...on, OTEL_SDK_DISABLED: 'false' }).enabled).toBe(true);
    expect(tracingSettings({ ...on, OTEL_TRACES_EXPORTER: 'none' })).toEqual({ enabled: false, why: 'OTEL_TRACES_EXPORTER=none' });
  });

  it('reads the sampler, its ratio, the link limit and the batch processor settings', () => {
    const s = tracingSettings({
      ...on,
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.25',
      OTEL_SPAN_LINK_COUNT_LIMIT: '16',
      OTEL_BSP_SCHEDULE_DELAY: '200',
      OTEL_BSP_EXPORT_TIMEOUT: '1000',
      OTEL_BSP_MAX_QUEUE_SIZE: '100',
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '50',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
    });
    expect(s).toMatchObject({
      sampler: { kind: 'traceidratio', ratio: 0.25, parentBased: true },
      linkLimit: 16,
      batch: { scheduledDelayMillis: 200, exportTimeoutMillis: 1000, maxQueueSize: 100, maxExportBatchSize: 50 },
    });
  });

  it.each([
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'otel-collector:4318' }, 'OTEL_EXPORTER_OTLP_ENDPOINT must be an http:// or https:// URL'],
    [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'not a url' }, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT must be an http:// or https:// URL'],
    [{ ...on, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, 'OTEL_EXPORTER_OTLP_PROTOCOL must be http/json or http/protobuf (got "grpc")'],
    [{ ...on, OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'grpc' }, 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL must be'],
    [{ ...on, OTEL_TRACES_EXPORTER: 'zipkin' }, 'OTEL_TRACES_EXPORTER must be otlp or none (got "zipkin")'],
    [{ ...on, OTEL_TRACES_SAMPLER: 'jaeger_remote' }, 'OTEL_TRACES_SAMPLER must be one of always_on'],
    [{ ...on, OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '1.5' }, 'OTEL_TRACES_SAMPLER_ARG must be a number from 0 to 1'],
    [{ ...on, OTEL_SPAN_LINK_COUNT_LIMIT: '-1' }, 'OTEL_SPAN_LINK_COUNT_LIMIT must be a whole number >= 0 (got "-1")'],
    [{ ...on, OTEL_BSP_MAX_QUEUE_SIZE: '0' }, 'OTEL_BSP_MAX_QUEUE_SIZE must be a whole number >= 1'],
  ])('refuses %j with one line naming the variable', (env, message) => {
    let thrown: unknown;
    try {
      tracingSettings(env);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as Error).message).toContain(message);
    expect((thrown as Error).message).not.toContain('\n');
  });
});
