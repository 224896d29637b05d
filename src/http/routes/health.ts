import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Container } from '../../container.ts';
import { ErrorEnvelope } from '../envelope.ts';
import { sendUnavailable } from '../plugins/errors.ts';

const Ready = Type.Object({
  status: Type.String(),
  database: Type.String({ description: 'The store: pglite or postgres' }),
  jobs: Type.String({ description: 'ok: the job queue (pg-boss) answers; off: this process runs no job queue' }),
});

/**
 * Probes for load balancers and orchestrators, without authentication or rate limit: `live` says
 * the process runs (restart it if not), `ready` that it can serve now (send it traffic): the
 * database answers and so does the job queue, which requests use too (a mass issue, the
 * personalization flush are queued). A process that runs no job queue (`jobs: off`, as in tests
 * and command-line containers) is ready when its database answers. `/health` is `ready` under
 * its older name.
 */
export const healthRoutes: FastifyPluginAsyncTypebox<{ container: Container }> = async (app, { container }) => {
  const config = { auth: false } as const;
  const ready = async (request: { log: { warn: (o: object, m: string) => void } }, reply: Parameters<typeof sendUnavailable>[0]) => {
    // Bounded (each check waits two seconds at most): a probe answers promptly, whatever the store does.
    const [database, jobs] = await Promise.all([container.ready(), container.jobsReady()]);
    if (!database || jobs === false) {
      request.log.warn({ database: database ? 'ok' : 'unavailable', jobs: jobs === false ? 'unavailable' : jobs === undefined ? 'off' : 'ok' }, 'not ready');
      return sendUnavailable(reply);
    }
    return { status: 'ok', database: container.storage.kind, jobs: jobs === undefined ? 'off' : 'ok' };
  };

  app.get('/health/live', {
    config,
    schema: { operationId: 'healthLive', tags: ['Operations'], summary: 'Liveness: the process runs (no database check)', response: { 200: Type.Object({ status: Type.String() }) } },
  }, async () => ({ status: 'ok' }));

  app.get('/health/ready', {
    config,
    schema: { operationId: 'healthReady', tags: ['Operations'], summary: 'Readiness: the database and the job queue answer within two seconds', response: { 200: Ready, 503: ErrorEnvelope } },
  }, ready);

  app.get('/health', {
    config,
    schema: { operationId: 'health', tags: ['Operations'], summary: 'Readiness (older name of /health/ready)', response: { 200: Ready, 503: ErrorEnvelope } },
  }, ready);
};
