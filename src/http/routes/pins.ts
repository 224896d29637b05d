import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Container } from '../../container.ts';

/** PIN and security-value endpoints (issue 5). */
export const pinRoutes: FastifyPluginAsyncTypebox<{ container: Container }> = async (_app, { container: _container }) => {
};
