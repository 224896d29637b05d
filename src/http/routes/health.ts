import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { sql } from 'kysely';
import type { Container } from '../../container.ts';

export const healthRoutes: FastifyPluginAsyncTypebox<{ container: Container }> = async (app, { container }) => {
  app.get('/health', {
    config: { auth: false, rateLimit: false },
    schema: { tags: ['Operations'], summary: 'Liveness and database check', response: { 200: Type.Object({ status: Type.String(), database: Type.String() }) } },
  }, async () => {
    await sql`select 1`.execute(container.storage.db);
    return { status: 'ok', database: container.storage.kind };
  });
};
