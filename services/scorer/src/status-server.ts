import Fastify, { type FastifyInstance } from 'fastify';
import type { Registry } from '@sentiment-stream/metrics';

export interface ScorerStatus {
  ready: boolean;
  live: boolean;
  model: { name: string; version: string; provider: string } | null;
  delivery: string;
  groupId: string;
  assignment: { topic: string; partitions: number[] }[];
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
  await app.listen({ host, port });
  return app;
}
