import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import formbody from '@fastify/formbody';
import type { ClientsService } from '../../modules/clients/index.ts';
import { invalidInput, notAuthenticated } from '../../shared/errors.ts';
import { hasUnstorableText } from '../../shared/storable-text.ts';
import { HttpCodes } from '../codes.ts';
import { header, rateLimited } from '../plugins/auth.ts';
import { refusalResponses } from '../refusals.ts';

/** The form or JSON fields (read by the route itself: the body may be absent when Basic auth is used). */
interface TokenFields { grant_type?: string | undefined; client_id?: string | undefined; client_secret?: string | undefined }

/** The token response as FirstVision's gateway (Apigee) gives it: numbers as strings, status "approved". */
const TokenResponse = Type.Object({
  token_type: Type.String(),
  access_token: Type.String(),
  expires_in: Type.String({ description: 'Seconds the token stays valid.' }),
  issued_at: Type.String({ description: 'Epoch milliseconds.' }),
  client_id: Type.String(),
  status: Type.String(),
});

export const tokenRoutes: FastifyPluginAsyncTypebox<{ clients: ClientsService }> = async (app, { clients }) => {
  // Form bodies are read here only: every other route is signed, and a signature covers a JSON
  // body exactly as sent, so a signed route takes JSON alone (415 for anything else).
  await app.register(formbody);
  app.post('/token', {
    config: { auth: false },
    schema: {
      operationId: 'tokenCreate', tags: ['Authentication'],
      summary: 'Client credentials grant: Basic auth or form fields client_id / client_secret',
      security: [],
      response: { 200: TokenResponse, ...refusalResponses('invalid-input', 'not-authenticated', 'too-many-requests') },
    },
  }, async (request) => {
    // The body is optional (credentials may come by Basic auth) and form or JSON; its fields are read as text.
    const raw = (request.body ?? {}) as Record<string, unknown>;
    const text = (v: unknown) => (typeof v === 'string' && v.length <= 256 ? v : undefined);
    const body: TokenFields = { grant_type: text(raw.grant_type), client_id: text(raw.client_id), client_secret: text(raw.client_secret) };
    if (body.grant_type !== undefined && body.grant_type !== 'client_credentials') throw invalidInput(...HttpCodes.badGrant);
    let id = body.client_id;
    let secret = body.client_secret;
    const basic = /^Basic ([A-Za-z0-9+/=]+)$/.exec(header(request, 'authorization') ?? '');
    if (basic) {
      const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0) { id = decoded.slice(0, colon); secret = decoded.slice(colon + 1); }
    }
    // Credentials no client can have (Base64 may carry a NUL) are refused before any look-up.
    if (!id || !secret || hasUnstorableText(id) || hasUnstorableText(secret)) {
      await clients.countFailure(request.ip);
      throw notAuthenticated(...HttpCodes.badCredentials);
    }
    const wait = await clients.tokenRequestRefused(request.ip, id);
    if (wait > 0) throw rateLimited(wait);
    const client = await clients.authenticate(id, secret);
    if (!client) {
      await clients.countTokenFailure(request.ip, id);
      throw notAuthenticated(...HttpCodes.badCredentials);
    }
    const issueWait = await clients.tokenIssueRefused(client);
    if (issueWait > 0) throw rateLimited(issueWait);
    const token = await clients.issueToken(client);
    return {
      token_type: 'BearerToken',
      access_token: token.accessToken,
      expires_in: String(token.expiresIn),
      issued_at: String(token.issuedAt.getTime()),
      client_id: client.clientId,
      status: 'approved',
    };
  });
};
