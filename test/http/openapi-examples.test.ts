import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { backends } from '../helpers/storage.ts';
import {
  addAccount, addCard, addCustomer, cardholderApp, clientPinBlock, clientReadPinBlock, startHarness, type Harness, type TestClient,
} from '../helpers/harness.ts';

/**
 * The OpenAPI document (app.swagger(), what /openapi.json and the docs page serve): version 3.1,
 * an operationId on every operation (upstream's, made an identifier, where upstream has the
 * operation), the authentication headers declared, and a request example on each seed operation
 * that the server accepts: the example is read from the document, its customer, account, card
 * and PIN block replaced with real ones made here, and sent (200).
 */

type Doc = {
  openapi: string;
  paths: Record<string, Record<string, { operationId?: string; parameters?: Array<Record<string, unknown>>; security?: unknown[]; requestBody?: { content: Record<string, { example?: unknown; examples?: Record<string, { value: unknown }>; schema: { examples?: unknown[] } }> } }>>;
  components: { parameters?: Record<string, { name: string; in: string; description: string }> };
};

/** The seed operations (with customer add and account add). */
const SEED: Array<[method: 'POST' | 'PUT', path: string]> = [
  ['POST', '/customer/l8v2'], ['POST', '/account/add-L8V3'],
  ['POST', '/cards/embosser/l8vf'], ['POST', '/cards/embosser/card-pan-l8v2'], ['POST', '/cards/mass-card-issue-L8V3'],
  ['PUT', '/cards/embosser/cardAction-L8V2'], ['POST', '/account/v2/instantCard'],
  ['POST', '/cards/pin/security-codes'], ['POST', '/cards/pin/dynamic-values'], ['POST', '/cards/pin/invalid-attempts'], ['POST', '/cards/pin/validation'],
];

/** The example of an operation's request body, as the document gives it. */
function exampleOf(doc: Doc, method: string, path: string): Record<string, unknown> {
  const media = doc.paths[path]?.[method.toLowerCase()]?.requestBody?.content['application/json'];
  const example = media?.example ?? Object.values(media?.examples ?? {})[0]?.value ?? media?.schema.examples?.[0];
  assert.ok(example && typeof example === 'object', `${method} ${path}: no request example`);
  return structuredClone(example) as Record<string, unknown>;
}

/** The example with each non-empty identifier field set to the value given for its name (at any depth). */
function withIds(value: unknown, ids: Record<string, string>): unknown {
  if (Array.isArray(value)) return value.map((v) => withIds(v, ids));
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, typeof v === 'string' && v !== '' && k in ids ? ids[k] : withIds(v, ids)]));
}

/** Upstream's operationId made an identifier: "Card Or PAN Token Inquiry" → cardOrPanTokenInquiry; one already so (securityCodesDetailsV2) kept. */
const identifier = (id: string) => (/^[A-Za-z][A-Za-z0-9]*$/.test(id) ? id[0]!.toLowerCase() + id.slice(1) : id.split(/[^A-Za-z0-9]+/).filter(Boolean)
  .map((w, i) => (i === 0 ? w.toLowerCase() : w[0]!.toUpperCase() + w.slice(1).toLowerCase())).join(''));

for (const backend of backends) {
  describe(`the OpenAPI document and its examples (${backend})`, () => {
    let h: Harness;
    let doc: Doc;
    before(async () => {
      h = await startHarness(backend);
      doc = h.app.swagger() as unknown as Doc;
    });
    after(async () => { await h.close(); });

    test('OpenAPI 3.1 with a server, a unique operationId on every operation, and the authentication headers', () => {
      assert.equal(doc.openapi, '3.1.0');
      const ids = Object.values(doc.paths).flatMap((ms) => Object.values(ms).map((op) => op.operationId));
      assert.ok(ids.length >= 28, `${ids.length} operations`);
      for (const [path, ms] of Object.entries(doc.paths)) {
        for (const [method, op] of Object.entries(ms)) assert.match(op.operationId ?? '', /^[a-z][A-Za-z0-9]*$/, `${method.toUpperCase()} ${path}`);
      }
      assert.equal(new Set(ids).size, ids.length, 'operationIds are unique');

      const params = doc.components.parameters ?? {};
      const names = Object.values(params).map((p) => `${p.in} ${p.name}`).sort();
      assert.deepEqual(names, ['header X-ClientID', 'header x-hmac-signature', 'header x-request-id', 'header x-timestamp']);
      for (const p of Object.values(params)) assert.match(p.description, /`(signed|upstream)` profile/);
      for (const [path, ms] of Object.entries(doc.paths)) {
        for (const [method, op] of Object.entries(ms)) {
          const refs = (op.parameters ?? []).map((p) => p.$ref).filter(Boolean);
          const open = Array.isArray(op.security) && op.security.length === 0;
          assert.equal(refs.length, open ? 0 : 4, `${method} ${path}: ${refs.length} header references`);
          if (path === '/token' || path.startsWith('/health')) assert.ok(open, `${method} ${path} is without authentication`);
        }
      }
    });

    test('operations upstream documents carry its operationId, as an identifier', () => {
      // emboss's copy of the upstream contract (npm run contract) holds upstream's operationIds.
      const upstream = JSON.parse(readFileSync(new URL('../contract/upstream.json', import.meta.url), 'utf8')) as Record<string, { method: string; path: string; operationId: string | null }>;
      let compared = 0;
      for (const op of Object.values(upstream)) {
        if (!op.operationId) continue;
        const ours = doc.paths[op.path]?.[op.method.toLowerCase()]?.operationId;
        assert.equal(ours, identifier(op.operationId), `${op.method} ${op.path} (upstream: "${op.operationId}")`);
        compared++;
      }
      assert.ok(compared >= 20, `${compared} operations compared`);
    });

    test('each seed operation\'s example, with real numbers, is accepted', async () => {
      for (const [method, path] of SEED) {
        const example = exampleOf(doc, method, path);
        const customer = await addCustomer(h);
        const account = await addAccount(h, customer);
        const card = await addCard(h);
        // The PIN the card got, read as a PCI client reads it: its format 0 PIN block under the IYY key.
        const codes = await h.call('POST', '/cards/pin/security-codes', { organizationNumber: 100, cardNumber: card.token, channel: 'A', keyAssociation: 'IYY' });
        assert.equal(codes.statusCode, 200, codes.body);
        const pin = clientReadPinBlock(codes.json().pinEncrypt, card.pan);
        const ids = {
          customerNumber: customer, postToAccount: account, accountNumber: account, cardNumber: card.token,
          currentPinBlock: clientPinBlock(0, pin, card.pan),
        };
        const body = withIds(example, ids);
        // Dynamic CVV2 is the cardholder app's duty (scope dcvv2); the tester client holds the others.
        const client: TestClient | undefined = path === '/cards/pin/dynamic-values' ? cardholderApp : undefined;
        const res = await h.call(method, path, body, client ? { client } : {});
        assert.equal(res.statusCode, 200, `${method} ${path} ${JSON.stringify(body)}: ${res.body}`);
      }
    });
  });
}
