import Fastify, { type FastifyInstance } from 'fastify';
import type { Registry } from '@sentiment-stream/metrics';

export interface ScorerStatus {
  /** Scoring: the model answers and the consumer holds its group membership. Not ready: take it out of rotation. */
  ready: boolean;
  /** False once the model has given up (its worker kept failing): restart the container. */
  live: boolean;
  model: { name: string; version: string; provider: string; state: string; workerRestarts: number } | null;
  delivery: string;
  kafkaClient: string;
  groupId: string;
  assignment: { topic: string; partitions: number[] }[];
  inFlight: number;
  /** Partitions held at a record whose output the broker refuses (docs/reliability.md). */
  heldPartitions: { topic: string; partition: number; offset: string; code: string }[];
}

/**
 * The scorer's pod-local endpoint: `/metrics` for the sidecar to merge, `/status` for humans and
 * probes. It exposes state, never configuration, so no secret can leak through it.
 */
export async function startStatusServer(
  host: string,
  port: number,
  registry: Registry,
  status: () => ScorerStatus,
): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, bodyLimit: 1024, connectionTimeout: 10_000, requestTimeout: 10_000 });
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
  app.get('/status', async (_req, reply) => {
    const s = status();
    reply.code(s.ready ? 200 : 503);
    return s;
  });
  // Liveness alone: a scorer that is not ready (rebalancing, a broker away) is still alive.
  app.get('/live', async (_req, reply) => {
    const { live } = status();
    reply.code(live ? 200 : 503);
    return { live };
  });
  await app.listen({ host, port });
  return app;
}
