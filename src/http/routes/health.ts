import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Container } from '../../container.ts';
import { ErrorEnvelope } from '../envelope.ts';
import { sendUnavailable } from '../plugins/errors.ts';

const Ready = Type.Object({ status: Type.String(), database: Type.String() });

/**
 * Probes for load balancers and orchestrators, without authentication or rate limit: `live` says
 * the process runs (restart it if not), `ready` that it can serve now (the database answers; send
 * it traffic). `/health` is `ready` under its older name.
 */
export const healthRoutes: FastifyPluginAsyncTypebox<{ container: Container }> = async (app, { container }) => {
  const config = { auth: false } as const;
  const ready = async (_request: unknown, reply: Parameters<typeof sendUnavailable>[0]) => {
    // Bounded (container.ready waits two seconds at most): a probe answers promptly, whatever the store does.
    if (!(await container.ready())) return sendUnavailable(reply);
    return { status: 'ok', database: container.storage.kind };
  };

  app.get('/health/live', {
    config,
    schema: { tags: ['Operations'], summary: 'Liveness: the process runs (no database check)', response: { 200: Type.Object({ status: Type.String() }) } },
  }, async () => ({ status: 'ok' }));

  app.get('/health/ready', {
    config,
    schema: { tags: ['Operations'], summary: 'Readiness: the database answers within two seconds', response: { 200: Ready, 503: ErrorEnvelope } },
  }, ready);

  app.get('/health', {
    config,
    schema: { tags: ['Operations'], summary: 'Readiness (older name of /health/ready)', response: { 200: Ready, 503: ErrorEnvelope } },
  }, ready);
};
