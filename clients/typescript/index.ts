/**
 * A typed emboss client on openapi-fetch: every path, body and answer typed from emboss's OpenAPI
 * document (schema.d.ts, `npm run client`), with emboss's authentication done for the caller —
 * a bearer token from POST /token (client credentials), fetched when first needed, renewed
 * before it expires and once more on a 401 that says the token is unknown or expired; and every
 * call signed as emboss's default profile asks (README "API conventions", docs/security.md).
 *
 *   const emboss = createEmbossClient({ baseUrl, clientId, secret, apikey });
 *   const { data, error } = await emboss.POST('/customer/l8v2', { body });
 *
 * A call may give its own request id (`headers: { 'x-request-id': id }`) to retry it
 * idempotently; otherwise each call gets a fresh one.
 */
import { createHmac, randomUUID } from 'node:crypto';
import createClient, { type Client, type Middleware } from 'openapi-fetch';
import type { paths } from './schema.d.ts';

export type { paths, components } from './schema.d.ts';
export * from './crypto.ts';

export interface EmbossClientOptions {
  /** Where emboss listens, e.g. http://127.0.0.1:3000 (the signed path is the URL's path and query). */
  baseUrl: string;
  clientId: string;
  secret: string;
  apikey: string;
  /** A fetch of your own (a proxy, a test double); default globalThis.fetch. */
  fetch?: typeof globalThis.fetch;
  /** Renew the token this many seconds before it expires (default 30, at most half its lifetime). */
  refreshMarginSeconds?: number;
  /** The clock that decides when the token is renewed (epoch ms; default Date.now). */
  now?: () => number;
}

export type EmbossClient = Client<paths> & {
  /** The bearer token in use (fetched or renewed when needed). */
  token(): Promise<string>;
};

/** emboss's answer to a refused call: the upstream error envelope. */
export interface EmbossError { hasError: true; errors: Array<{ code: string; description: string }>; data: unknown }

/** `Base64(HMAC-SHA256(secret, apikey + timestamp + body + path))`: body as sent ('' for none), path with its query string. */
export function signRequest(secret: string, apikey: string, timestamp: string, body: string, pathWithQuery: string): string {
  return createHmac('sha256', secret).update(apikey + timestamp + body + pathWithQuery).digest('base64');
}

/** 401 codes after which a new token is worth one retry: the token is unknown or expired. */
const TOKEN_REFUSED = new Set(['EMBA02E']);

export function createEmbossClient(options: EmbossClientOptions): EmbossClient {
  const baseFetch = options.fetch ?? globalThis.fetch;
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const margin = options.refreshMarginSeconds ?? 30;
  const now = options.now ?? Date.now;

  let current: { token: string; renewAt: number } | undefined;
  let pending: Promise<string> | undefined;

  const fetchToken = async (): Promise<string> => {
    const res = await baseFetch(`${baseUrl}/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${options.clientId}:${options.secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials',
    });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`emboss POST /token: ${res.status} ${text}`);
    const body = JSON.parse(text) as { access_token: string; expires_in: string | number };
    const lifetime = Number(body.expires_in);
    current = { token: body.access_token, renewAt: now() + Math.max(0, lifetime - Math.min(margin, lifetime / 2)) * 1000 };
    return body.access_token;
  };
  /** The token in use; one request to /token at a time, however many calls wait for it. */
  const token = (): Promise<string> => {
    if (current && now() < current.renewAt) return Promise.resolve(current.token);
    pending ??= fetchToken().finally(() => { pending = undefined; });
    return pending;
  };

  // A signature is accepted once, and two requests with the same body and path in the same
  // millisecond would be one signature: timestamps of this client never repeat.
  let lastTimestamp = 0;
  const timestamp = () => {
    lastTimestamp = Math.max(Date.now(), lastTimestamp + 1);
    return String(lastTimestamp);
  };

  /** The request, signed anew (token, timestamp, signature) with the body it will carry. */
  const signed = async (request: Request, body: string, requestId: string): Promise<Request> => {
    const url = new URL(request.url);
    const ts = timestamp();
    const headers = new Headers(request.headers);
    headers.set('authorization', `Bearer ${await token()}`);
    headers.set('apikey', options.apikey);
    headers.set('x-timestamp', ts);
    headers.set('x-request-id', requestId);
    headers.set('x-hmac-signature', signRequest(options.secret, options.apikey, ts, body, url.pathname + url.search));
    return new Request(request.url, { method: request.method, headers, ...(body !== '' ? { body } : {}), signal: request.signal });
  };

  /** Per call (openapi-fetch's id): what it sent, for a retry under a new token. */
  const sent = new Map<string, { body: string; requestId: string; retried: boolean }>();

  const auth: Middleware = {
    async onRequest({ request, id }) {
      // The body exactly as it will be sent: read once, signed, and sent as that text.
      const body = request.body === null ? '' : await request.text();
      const requestId = request.headers.get('x-request-id') ?? randomUUID();
      sent.set(id, { body, requestId, retried: false });
      return signed(request, body, requestId);
    },
    async onResponse({ request, response, id }) {
      const call = sent.get(id);
      sent.delete(id);
      if (response.status !== 401 || !call || call.retried) return undefined;
      let codes: string[] = [];
      try {
        codes = ((await response.clone().json()) as EmbossError).errors.map((e) => e.code);
      } catch { /* not the envelope: leave the answer as it is */ }
      if (!codes.some((c) => TOKEN_REFUSED.has(c))) return undefined;
      // The token is unknown or expired (revoked, or the clock ran ahead): one retry with a new one,
      // signed anew under the same request id (a refused request changed nothing).
      current = undefined;
      return baseFetch(await signed(request, call.body, call.requestId));
    },
    onError({ id }) {
      sent.delete(id);
      return undefined;
    },
  };

  const client = createClient<paths>({ baseUrl, fetch: baseFetch });
  client.use(auth);
  return Object.assign(client, { token });
}
