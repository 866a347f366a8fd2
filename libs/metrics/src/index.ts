export { Registry } from 'prom-client';
export { createScorerMetrics, type ScorerMetrics } from './scorer-metrics.js';
