import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { sendRefusal, serviceUnavailable } from '../plugins/errors.ts';
import { refusalResponses } from '../refusals.ts';

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
export interface HealthRoutesOptions {
  /** Whether the database answers now (bounded: a couple of seconds at most); never throws. */
  ready: () => Promise<boolean>;
  /** Whether the job queue answers now (bounded); undefined when this process runs none. Never throws. */
  jobsReady: () => Promise<boolean | undefined>;
  /** Which store this process serves from, as the probe reports it. */
  store: 'pglite' | 'postgres';
}

export const healthRoutes: FastifyPluginAsyncTypebox<HealthRoutesOptions> = async (app, options) => {
  const config = { auth: false } as const;
  const ready = async (request: FastifyRequest, reply: FastifyReply) => {
    // Bounded (each check waits two seconds at most): a probe answers promptly, whatever the store does.
    const [database, jobs] = await Promise.all([options.ready(), options.jobsReady()]);
    if (!database || jobs === false) {
      request.log.warn({ database: database ? 'ok' : 'unavailable', jobs: jobs === false ? 'unavailable' : jobs === undefined ? 'off' : 'ok' }, 'not ready');
      return sendRefusal(reply, serviceUnavailable());
    }
    return { status: 'ok', database: options.store, jobs: jobs === undefined ? 'off' : 'ok' };
  };

  app.get('/health/live', {
    config,
    schema: { operationId: 'healthLive', tags: ['Operations'], summary: 'Liveness: the process runs (no database check)', response: { 200: Type.Object({ status: Type.String() }) } },
  }, async () => ({ status: 'ok' }));

  app.get('/health/ready', {
    config,
    schema: { operationId: 'healthReady', tags: ['Operations'], summary: 'Readiness: the database and the job queue answer within two seconds', response: { 200: Ready, ...refusalResponses('unavailable') } },
  }, ready);

  app.get('/health', {
    config,
    schema: { operationId: 'health', tags: ['Operations'], summary: 'Readiness (older name of /health/ready)', response: { 200: Ready, ...refusalResponses('unavailable') } },
  }, ready);
};
