export { Registry } from 'prom-client';
export { createScorerMetrics, type ScorerMetrics } from './scorer-metrics.js';
export { SIDECAR_DEFAULT_METRICS_PREFIX, createSidecarMetrics, type SidecarMetrics } from './sidecar-metrics.js';
