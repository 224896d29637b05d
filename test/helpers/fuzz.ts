import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import { after, before, describe as describeSuite } from 'node:test';
import { sql } from 'kysely';
import type { LightMyRequestResponse } from 'fastify';
import {
  addAccount, addCard, addCustomer, cardholderApp, cardsOnly, clientEncryptPan, clientPinBlock, clientReadPinBlock, noscope, other, tester,
  startHarness, type Harness, type TestClient,
} from './harness.ts';
import type { Backend } from './storage.ts';
import { apiRoutes, type ApiRoute, type JsonSchema, type Parameter } from './routes.ts';
import type { Settings } from '../../src/config/env.ts';

/**
 * A property-based fuzz of every route of the API, generated from each route's own schema (its
 * OpenAPI document): requests that are valid or nearly so, and the same with one hostile value put
 * in one place (a field, a query parameter, a header), the body text itself broken, or sent by
 * another client or without a valid signature. Every answer is checked: never a 5xx, always JSON,
 * the envelope for every refusal, and a refused request (4xx) changes no table but those that
 * record refusals by design (see REFUSALS_WRITE).
 *
 * Used by test/http/fuzz.test.ts (about ten thousand requests a store) and `npm run bench -- fuzz`.
 */

// --- what refused requests may write ---------------------------------------------------------

/**
 * The tables a refused request may change, and why. Any other table changed by a 4xx is a
 * finding. Each is a deliberate record of the refusal itself, never of its effect:
 */
export const REFUSALS_WRITE: Record<string, string> = {
  idempotency_keys: 'a refused request\'s answer is kept under its request id, so that a retry gets the same answer (README: Exactly-once requests)',
  client_signatures: 'a signature is spent once it authenticated a request, whatever the answer: sent again it is a replay',
  rate_counters: 'every request counts against its client\'s rate, refused or not',
};
/** And a business refusal (422) may change these as well. */
export const BUSINESS_REFUSALS_WRITE: Record<string, string> = {
  audit_events: 'a business refusal concerning a known record is audited (who tried what, and the code)',
  card_daily_limits: 'a PIN or CVV2 check counts against the card\'s daily cap, right or wrong',
};
/** Routes whose 422 counts a wrong value on the card (tries, blocking at the logo's maximum). */
const COUNTING_ROUTES = new Set(['POST /cards/pin/validation', 'PUT /cards/pin/pin-change', 'POST /cards/cvv2/verification']);

// --- hostile values --------------------------------------------------------------------------------

/** A value written into the JSON text as is (JSON.stringify cannot write 1e400, -0 or 8,800 brackets). */
const RAW = '\uE000RAW:';
const raw = (text: string) => `${RAW}${text}\uE000`;
const unraw = (json: string) => json.replace(/"\uE000RAW:([^\uE000]*)\uE000"/g, (_m, t: string) => t.replace(/\\"/g, '"').replace(/\\\\/g, '\\'));

const nest = (levels: number, inner = '"x"', open = '{"n":', close = '}') => `${open.repeat(levels)}${inner}${close.repeat(levels)}`;

/** Texts that must never reach a column as they are (or must come back as a clean refusal). */
export const HOSTILE_TEXT: string[] = [
  'Infinity', '-Infinity', 'NaN', '1e400', '-1e400', '9'.repeat(400), '-0', '007', '0x1F', '1e2', ' 1', '1 ', '+1', '', ' ', '1.0',
  '2147483647', '2147483648', '-2147483649', '9007199254740993', '99999999999999999999', '0.000001',
  '0000-01-01', '0000-00-00', '1899-12-31', '2200-01-01', '2024-02-30', '99999-01-01', '-2024-01-01', '2024-1-1', '1900-01-01', '2199-12-31',
  'A\u0000B', '\ud800', 'x\udc00', '\udfff\ud800', 'A\nB', 'A\r\nB', '\r', '\t', 'TAB\tX', '\u0007', '\u007f', '\u0085', '\u009b31m', '\u001b[2J', '\u2028',
  'JOSÉ MUÑOZ', '東京', '\ud83d\ude00'.repeat(20), 'x'.repeat(41), 'x'.repeat(5000), '\' OR 1=1 --', '%00', '${7*7}', '__proto__', 'constructor',
];

/** JSON values (other than texts) put where a field goes. */
export const HOSTILE_VALUES: unknown[] = [
  null, true, false, 0, -1, 1.5, 2147483647, 2147483648, -2147483649, 2 ** 53, 2 ** 53 + 2, 1e308, -1e308, 5e-324,
  [], {}, [1, 2], ['x'], { a: 1 }, { __proto__: { polluted: 1 } }, { constructor: { prototype: { polluted: 1 } } },
  raw('1e400'), raw('-1e400'), raw('-0'), raw('1E2'), raw('0.1e1'), raw(`1${'0'.repeat(400)}`), raw('100000000000000000000000'),
  raw(nest(9)), raw(nest(33)), raw(nest(40, '1', '[', ']')), raw(nest(8800, '"\\u0041"', '[', ']')), raw(nest(5000)),
  Object.fromEntries(Array.from({ length: 600 }, (_, i) => [`f${i}`, i])),
  'x'.repeat(17_000),
];

/** Whole-body texts (with a content type of application/json unless said). */
const HOSTILE_BODIES: Array<{ body: string; note: string }> = [
  { body: '', note: 'empty' }, { body: 'null', note: 'null' }, { body: '[]', note: 'array' }, { body: '"x"', note: 'string' },
  { body: '1', note: 'number' }, { body: 'true', note: 'boolean' }, { body: '{', note: 'truncated' }, { body: '{"a":1} x', note: 'trailing text' },
  { body: '{"a":1,}', note: 'trailing comma' }, { body: "{'a':1}", note: 'single quotes' }, { body: '\ufeff{}', note: 'BOM' },
  { body: '{"a":NaN}', note: 'NaN literal' }, { body: '{"a":Infinity}', note: 'Infinity literal' }, { body: '{"a":1e400}', note: '1e400' },
  { body: nest(33), note: 'depth 33' }, { body: nest(8800, '"\\u0041"', '[', ']'), note: 'depth 8800 with an escape' },
  { body: `{"a":"${'x'.repeat(70_000)}"}`, note: 'over the body limit' }, { body: '{"\\u0000":1}', note: 'NUL key' },
  { body: '{"a":"\\ud800"}', note: 'lone surrogate' }, { body: '{"a":"\u0085"}', note: 'raw C1' }, { body: '{"a":"\u007f"}', note: 'raw DEL' },
  { body: '{"a":"\u0001"}', note: 'raw C0 (invalid JSON)' }, { body: '{"__proto__":{"x":1}}', note: '__proto__ key' },
];

const CONTENT_TYPES: Array<string | null> = [
  null, 'text/plain', 'application/x-www-form-urlencoded', 'application/xml', 'multipart/form-data; boundary=x',
  'application/json; charset=latin1', 'application/json-patch+json', 'APPLICATION/JSON', 'application/json;', 'application/octet-stream',
];

// --- requests --------------------------------------------------------------------------------------

export type ClientKind = 'tester' | 'cardsonly' | 'app' | 'other' | 'noscope' | 'anonymous' | 'badsig';
const CLIENTS: Record<string, TestClient> = { tester, cardsonly: cardsOnly, app: cardholderApp, other, noscope };

export interface FuzzRequest {
  route: string;
  method: string;
  url: string;
  /** The body text (already raw-expanded), or undefined for none. */
  body?: string | undefined;
  /** null: no content-type header; undefined: JSON when there is a body. */
  contentType?: string | null | undefined;
  headers?: Record<string, string>;
  client: ClientKind;
  /** Whether the route takes a signed request (all but the token and health routes). */
  signed: boolean;
  /** What was done to the request, for a finding's report. */
  note: string;
}

/** A card of the pools, with what a client needs to use it (its PIN, read once through the API). */
export interface PoolCard { pan: string; token: string; account: string; customer: string; expiry: string; pin: string }

/**
 * The records a fuzz run aims at (a fuzz of only unknown numbers would stop at "not found"). The
 * arrays grow during a run (`refreshPools`): fuzzed requests block, close and replace cards, and
 * new ones keep the valid requests reaching their handlers.
 */
export interface Pools {
  customers: string[];
  accounts: string[];
  cards: PoolCard[];
  /** An account without cards, for block codes (a blocked account would refuse its cards' requests). */
  blockAccount: string;
}

async function poolCard(h: Harness, logo: number): Promise<PoolCard> {
  const card = await addCard(h, {}, logo);
  const row = await h.container.storage.db.selectFrom('cards').select(['expiry']).where('pan_token', '=', card.token).executeTakeFirstOrThrow();
  const values = await h.call('POST', '/cards/pin/security-codes', { organizationNumber: 100, cardNumber: card.pan, channel: 'A', keyAssociation: 'IYY' });
  const pinBlock = values.statusCode === 200 ? (values.json().pinEncrypt as string) : '';
  return { ...card, expiry: row.expiry, pin: pinBlock ? clientReadPinBlock(pinBlock, card.pan) : '1234' };
}

/** Customers, accounts and cards to aim at, and a mass issue request to inquire about. */
export async function makePools(h: Harness): Promise<Pools> {
  const pools: Pools = { customers: [], accounts: [], cards: [], blockAccount: '' };
  await refreshPools(h, pools);
  await refreshPools(h, pools, 2);
  const customer = await addCustomer(h);
  pools.customers.push(customer);
  pools.blockAccount = await addAccount(h, customer);
  pools.customers.push(await addCustomer(h, 200, other));
  const mass = await h.call('POST', '/cards/mass-card-issue-L8V3', { organizationNumber: 100, logo: 1, cardType: 1, functionType: 'A', quantityToCreate: 5, customerNumber: customer });
  if (mass.statusCode !== 200) throw new Error(`mass issue: ${mass.statusCode} ${mass.body}`);
  return pools;
}

/** One more card (with its customer and account) in the pools. */
export async function refreshPools(h: Harness, pools: Pools, logo = 1): Promise<void> {
  const card = await poolCard(h, logo);
  pools.cards.push(card);
  pools.customers.push(card.customer);
  pools.accounts.push(card.account);
}

/** One of a pool array as it is when the value is drawn (the arrays grow during a run). */
const live = <T>(list: T[]) => fc.nat().map((i) => list[i % list.length]!);
/** The newest cards are the likeliest to be usable (older ones may be closed or blocked by now). */
const recent = (pools: Pools) => fc.nat({ max: 3 }).map((i) => pools.cards[Math.max(0, pools.cards.length - 1 - i)]!);

/** Values by field name: what makes a generated request reach past "not found". */
function hinted(name: string, pools: Pools): fc.Arbitrary<unknown> | undefined {
  const cardNumber = recent(pools).chain((c) => fc.constantFrom(c.pan, c.pan.padStart(19, '0'), c.token));
  switch (name) {
    case 'organizationNumber': case 'organization': case 'organization-number':
      return fc.oneof({ weight: 12, arbitrary: fc.constant(100) }, fc.constant('100'), fc.constantFrom(200, 1, 998));
    case 'logo': return fc.constantFrom(1, 2, 1, 3);
    case 'customerNumber': case 'customernumber': return fc.oneof({ weight: 4, arbitrary: live(pools.customers) }, fc.constantFrom('', '1234', '0'.repeat(19)));
    case 'customerAccountCardNumber': return fc.oneof(live(pools.customers), live(pools.accounts));
    case 'accountNumber': case 'postToAccount': case 'account-number': return fc.oneof({ weight: 4, arbitrary: live(pools.accounts) }, fc.constantFrom('', '1234'));
    case 'cardNumber': case 'card-number': return fc.oneof({ weight: 4, arbitrary: cardNumber }, recent(pools).map((c) => clientEncryptPan(c.pan)), fc.constantFrom('', '4111111111111111'));
    case 'currentPinBlock': case 'currPinBlock': case 'reqdPinBlock':
      return recent(pools).chain((c) => fc.constantFrom(clientPinBlock(0, c.pin, c.pan), clientPinBlock(4, c.pin, c.pan), clientPinBlock(0, '0000', c.pan)));
    case 'keyAssociation': case 'keyAssociationNumber': return fc.constantFrom('IYY', 'IY4', 'XXX', '');
    case 'channel': case 'channelIndicator': return fc.constantFrom('A', 'I', 'W', ' ');
    case 'functionType': return fc.constantFrom('P', 'C', 'A', 'M');
    case 'serviceType': return fc.constantFrom('S', 'A', 1);
    case 'functionCode': return fc.constantFrom('', ' ', 'N', 'P', 'F', 'B', 'U');
    case 'numberType': return fc.constantFrom('1', '0', ' ');
    case 'accountCreateFlag': return fc.constantFrom('Y', 'N');
    case 'disableDCVV2': case 'serviceFunctionCode': return fc.constantFrom('Y', 'N', 'B', 'U');
    default: return undefined;
  }
}

const isType = (s: JsonSchema, t: string) => s.type === t;

/** A value after the schema: valid, or near it (boundaries, numbers as canonical text). */
export function valueArb(schema: JsonSchema, name: string, pools: Pools, depth = 0): fc.Arbitrary<unknown> {
  const hint = hinted(name, pools);
  if (hint && !isType(schema, 'object')) return fc.oneof({ weight: 5, arbitrary: hint }, schemaArb(schema, name, pools, depth));
  return schemaArb(schema, name, pools, depth);
}

function schemaArb(s: JsonSchema, name: string, pools: Pools, depth: number): fc.Arbitrary<unknown> {
  if (s.const !== undefined) return fc.constant(s.const);
  if (Array.isArray(s.enum)) return fc.constantFrom(...(s.enum as unknown[]));
  const branches = (s.anyOf ?? s.oneOf) as JsonSchema[] | undefined;
  if (branches) return fc.oneof(...branches.map((b) => schemaArb(b, name, pools, depth)));
  if (isType(s, 'integer')) {
    const min = (s.minimum as number | undefined) ?? -2147483648;
    const max = (s.maximum as number | undefined) ?? 2147483647;
    const n = fc.oneof(fc.integer({ min, max }), fc.constantFrom(min, max));
    return fc.oneof({ weight: 4, arbitrary: n }, n.map(String));
  }
  if (isType(s, 'number')) {
    const min = (s.minimum as number | undefined) ?? -1e15;
    const max = (s.maximum as number | undefined) ?? 1e15;
    const n = fc.oneof(fc.double({ min, max, noNaN: true, noDefaultInfinity: true }), fc.integer({ min: Math.ceil(Math.max(min, -1e9)), max: Math.floor(Math.min(max, 1e9)) }), fc.constantFrom(min, max));
    return fc.oneof({ weight: 4, arbitrary: n }, fc.integer({ min: 0, max: 99999 }).map((c) => (c / 100).toFixed(2)));
  }
  if (isType(s, 'boolean')) return fc.boolean();
  if (isType(s, 'string')) {
    const maxLength = (s.maxLength as number | undefined) ?? 64;
    if (s.format === 'date') {
      return fc.date({ min: new Date('1900-01-01T00:00:00Z'), max: new Date('2199-12-31T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10));
    }
    if (typeof s.pattern === 'string') {
      return fc.stringMatching(new RegExp(s.pattern)).filter((t) => t.length <= maxLength && t.length >= ((s.minLength as number | undefined) ?? 0));
    }
    const min = (s.minLength as number | undefined) ?? 0;
    return fc.oneof(
      { weight: 4, arbitrary: fc.string({ minLength: min, maxLength, unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789'.split('')) }) },
      fc.string({ minLength: min, maxLength, unit: 'grapheme-ascii' }),
      fc.string({ minLength: min, maxLength: Math.max(min, Math.floor(maxLength / 2)), unit: 'grapheme' }),
    );
  }
  if (isType(s, 'array')) {
    const items = (s.items as JsonSchema | undefined) ?? {};
    return fc.array(schemaArb(items, name, pools, depth + 1), { maxLength: 3 });
  }
  if (isType(s, 'object') || s.properties) {
    const properties = (s.properties ?? {}) as Record<string, JsonSchema>;
    const required = new Set((s.required ?? []) as string[]);
    const model: Record<string, fc.Arbitrary<unknown>> = {};
    for (const [k, v] of Object.entries(properties)) model[k] = valueArb(v, k, pools, depth + 1);
    const record = fc.record(model, { requiredKeys: Object.keys(properties).filter((k) => required.has(k)) });
    if (s.additionalProperties === false || depth > 4) return record;
    // Fields the schema does not model, kept as sent where it keeps them.
    const extra = fc.dictionary(fc.stringMatching(/^[a-z][A-Za-z0-9]{0,15}$/), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 });
    return fc.tuple(record, fc.option(extra, { freq: 4 })).map(([r, e]) => (e ? { ...e, ...r } : r));
  }
  return fc.jsonValue({ maxDepth: 2 });
}

/** Every place of a body schema a value can go: property paths, nested objects included. */
export function bodyPaths(schema: JsonSchema | undefined): string[][] {
  const out: string[][] = [];
  if (!schema) return out;
  const stack: Array<[string[], JsonSchema]> = [[[], schema]];
  while (stack.length > 0) {
    const [path, s] = stack.pop()!;
    for (const [k, v] of Object.entries((s.properties ?? {}) as Record<string, JsonSchema>)) {
      out.push([...path, k]);
      if (v.properties) stack.push([[...path, k], v]);
    }
  }
  return out.sort((a, b) => a.join('/').localeCompare(b.join('/')));
}

/** The object paths of a body schema that keep fields they do not model. */
function openPaths(schema: JsonSchema | undefined): string[][] {
  if (!schema) return [];
  const out: string[][] = [];
  const stack: Array<[string[], JsonSchema]> = [[[], schema]];
  while (stack.length > 0) {
    const [path, s] = stack.pop()!;
    if (s.additionalProperties !== false) out.push(path);
    for (const [k, v] of Object.entries((s.properties ?? {}) as Record<string, JsonSchema>)) if (v.properties) stack.push([[...path, k], v]);
  }
  return out;
}

function schemaAt(schema: JsonSchema | undefined, path: string[]): JsonSchema | undefined {
  let s = schema;
  for (const k of path) s = (s?.properties as Record<string, JsonSchema> | undefined)?.[k];
  return s;
}

const NUMERIC_HOSTILE: unknown[] = ['Infinity', '-Infinity', 'NaN', '1e400', '9'.repeat(400), '2147483648', '-2147483649', '9007199254740993', '-0', '007', ' 1', '1e2', '', '1.5', raw('1e400'), raw('-0'), 2147483648, -1, 1.5, true, null];
const DATE_HOSTILE: unknown[] = ['0000-01-01', '0001-01-01', '1899-12-31', '2200-01-01', '2024-02-30', '99999-01-01', '+02024-01-01', '2024-01-01T00:00:00Z', 20240101];
const TEXT_HOSTILE: unknown[] = ['A\u0000B', '\ud800', 'A\r\nB', '\u007f', '\u0085', '\u001b[2J', 12345, null, ['x']];
const OBJECT_HOSTILE: unknown[] = [raw(nest(9)), raw(nest(33)), raw(nest(5000)), 'x', [], null, Object.fromEntries(Array.from({ length: 600 }, (_, i) => [`f${i}`, i]))];
const EXTRA_HOSTILE: unknown[] = [raw(nest(9)), raw(nest(5000)), 'x'.repeat(17_000), Object.fromEntries(Array.from({ length: 600 }, (_, i) => [`f${i}`, i])), 'A\r\nB', '\u0085', raw('1e400'), 2 ** 53 + 2];

/** The hostile values that matter for a field of this schema (its type decides). */
export function hostileFor(s: JsonSchema | undefined): unknown[] {
  if (!s) return EXTRA_HOSTILE;
  const types = new Set<unknown>([s.type, ...(((s.anyOf ?? s.oneOf) as JsonSchema[] | undefined) ?? []).map((b) => (b.const !== undefined ? 'number' : b.type))]);
  const out: unknown[] = [];
  if (s.properties) out.push(...OBJECT_HOSTILE);
  if (types.has('integer') || types.has('number')) out.push(...NUMERIC_HOSTILE);
  if (s.format === 'date') out.push(...DATE_HOSTILE);
  if (types.has('string')) out.push(...TEXT_HOSTILE, 'x'.repeat(((s.maxLength as number | undefined) ?? 64) + 1));
  return out.length ? out : [...TEXT_HOSTILE, ...NUMERIC_HOSTILE];
}

/** The value with `path` set to `v` (parents made as objects where missing or not objects). */
function setPath(value: unknown, path: string[], v: unknown): unknown {
  const root: Record<string, unknown> = typeof value === 'object' && value !== null && !Array.isArray(value) ? structuredClone(value) as Record<string, unknown> : {};
  let at = root;
  for (const [i, key] of path.entries()) {
    if (i === path.length - 1) {
      Object.defineProperty(at, key, { value: v, enumerable: true, writable: true, configurable: true });
    } else {
      const next = at[key];
      at[key] = typeof next === 'object' && next !== null && !Array.isArray(next) ? next : {};
      at = at[key] as Record<string, unknown>;
    }
  }
  return root;
}

/** Percent-encoding that also carries a lone surrogate (encodeURIComponent throws on one). */
function encode(text: string): string {
  try {
    return encodeURIComponent(text);
  } catch {
    return [...text].map((c) => (/[\ud800-\udfff]/.test(c) ? '%ED%A0%80' : encodeURIComponent(c))).join('');
  }
}

const queryOf = (params: Array<[string, unknown]>) => params.map(([k, v]) => `${encode(k)}=${encode(String(v))}`).join('&');

/** Texts that can be sent in a header (no CR, LF or NUL: HTTP itself refuses those). */
const headerSafe = (t: unknown): t is string => typeof t === 'string' && !/[\r\n\0]/.test(t) && !/[\ud800-\udfff]/.test(t) && [...t].every((c) => c.charCodeAt(0) <= 0xff) && t.length < 8000;

/** The JSON text of a body, hostile raw values written as they are. */
export const bodyText = (value: unknown) => unraw(JSON.stringify(value));

interface Parts { body: unknown; query: Array<[string, unknown]>; headers: Record<string, string>; client: ClientKind }

function partsArb(route: ApiRoute, pools: Pools): fc.Arbitrary<Parts> {
  const body = route.body ? valueArb(route.body, '', pools) : fc.constant(undefined);
  const params = (list: Parameter[]) => fc.tuple(...list.map((p) => (p.required
    ? valueArb(p.schema, p.name, pools).map((v) => [p.name, v] as [string, unknown])
    : fc.option(valueArb(p.schema, p.name, pools).map((v) => [p.name, v] as [string, unknown]), { freq: 2 }))));
  const query = route.query.length ? params(route.query).map((l) => l.filter((x): x is [string, unknown] => x !== null)) : fc.constant([] as Array<[string, unknown]>);
  const headers = route.headers.length
    ? params(route.headers).map((l) => Object.fromEntries(l.filter((x): x is [string, unknown] => x !== null).map(([k, v]) => [k, String(v)])))
    : fc.constant({} as Record<string, string>);
  return fc.record({ body, query, headers, client: route.signed ? clientArb : fc.constant('tester' as const) });
}

const routeName = (r: ApiRoute) => `${r.method} ${r.url}`;

/**
 * A request of each route that its handler accepts (or answers with a business code) when sent
 * as is, made from the pools as they are now: the base the systematic corpus puts one hostile
 * value in, so that the value is the one thing wrong with the request.
 */
export function goodParts(route: ApiRoute, pools: Pools): Parts {
  const card = pools.cards[pools.cards.length - 1]!;
  const customer = card.customer;
  const b = (body: unknown, client: ClientKind = 'tester'): Parts => ({ body, query: [], headers: {}, client });
  const pin = (p: string) => clientPinBlock(0, p, card.pan);
  switch (routeName(route)) {
    case 'POST /token': return b({ grant_type: 'client_credentials' });
    case 'POST /customer/l8v2': return b({
      customerData: {
        customerKeyData: { organizationNumber: 100, customerNumber: '' },
        customerMiscellaneousData: { vipStatus: 0, sicCode: 1234 },
        ownerCoOwnerData: { ownerData: { firstName: 'Ada', lastName: 'Lovelace', nameLine1: 'ADA LOVELACE', dateOfBirth: '1985-12-10', genderCode: 2, city: 'LONDON', countryCode: 'GBR', email: 'ada@example.org' } },
      },
    });
    case 'POST /customer/demographicData-l8v2': return b({ organizationNumber: 100, customerAccountCardNumber: customer, numberType: '1' });
    case 'PUT /customer/': return b({ organizationNumber: 100, customerNumber: customer, numberType: '1', nameLine1: 'ADA KING', city: 'LONDON', dateOfBirth: '1985-12-10', vipStatus: 1, status: 0 });
    case 'POST /customer/accountNumber': return b({ organizationNumber: 100, customerNumber: customer, functionCode: '' });
    case 'POST /account/add-L8V3': return b({ accountData: { organization: 100, logo: 1, customerNumber: customer, creditLimit: 1000, billingCycle: 10, dateOpened: '2024-01-15', shortName: 'ADA' } });
    case 'GET /account/v2/accounts': return { body: undefined, query: [], headers: { 'organization-number': '100', 'account-number': card.account }, client: 'tester' };
    case 'PUT /account/block-code': return b({ organizationNumber: 100, accountNumber: pools.blockAccount, functionCode: 'B', blockCode: 'L', blockCodeIndicator: 0, foreignUse: '0' });
    case 'POST /cards/embosser/l8vf': return b({
      organizationNumber: 100, postToAccount: card.account, cardNumber: '', embossedName1: 'ADA LOVELACE', addressLine1: '12 ST JAMES SQ', city: 'LONDON',
      expirationDate: '2031-07-31', posServiceCode: 201, deliveryOption: 1, atmCashAmount: 100.5, atmCashNumber: 3,
    });
    case 'POST /cards/embosser/card-pan-l8v2': case 'POST /cards/embosser/card-pan':
      return b({ organizationNumber: 100, cardNumber: clientEncryptPan(card.pan), functionType: 'P' });
    case 'POST /cards/v2/embosser/details': return b({ organizationNumber: '100', cardNumber: card.pan, cardSequence: '1', foreignUse: '0' });
    case 'GET /customer/v3/cards/details': return { body: undefined, query: [['organizationNumber', 100], ['functionCode', 'F']], headers: { customernumber: customer }, client: 'tester' };
    case 'POST /account/v2/instantCard': return b({
      organizationNumber: 100, logo: 1, customerNumber: customer, accountCreateFlag: 'Y',
      accountData: { creditLimit: 1500, billingCycle: 5, shortName: 'ADA', dateOpened: '2024-01-15' },
      embosserData: { embossedName1: 'ADA LOVELACE', digitalCardFlag: 1, expirationDate: '2031-07-31' },
    });
    case 'PUT /cards/status-L8V1': return b({ organizationNumber: 100, cardStatus: 1, cardNumber: card.token, representativeId: 'ABC' });
    case 'PUT /cards/activation': return b({ organizationNumber: 100, cardNumber: card.token, serviceType: 'S' });
    case 'PUT /cards/embosser/cardAction-L8V2': return b({ organizationNumber: 100, cardNumber: card.token, cardAction: 0, randomPin: 0, numberCardsRequested: 0, userData: { userDate: '2024-01-15', userAmount: 1.5, userCode: 7 } });
    case 'POST /cards/pin/security-codes': return b({ organizationNumber: 100, cardNumber: card.pan, channel: 'A', keyAssociation: 'IYY' });
    case 'POST /cards/v1/pin/codes': return b({ organizationNumber: 100, cardNumber: card.pan, channelIndicator: 'A', keyAssociation: 'IYY' });
    case 'POST /cards/pin/validation': return b({ organizationNumber: 100, cardNumber: card.pan, currentPinBlock: pin(card.pin), channel: 'A', keyAssociation: 'IYY', pinBlockFormat: 0 });
    case 'POST /cards/pin/invalid-attempts': return b({ organizationNumber: 100, cardNumber: card.pan, cardSequenceNumber: 1 });
    case 'POST /cards/pin/dynamic-values': return b({ organizationNumber: 100, cardNumber: card.pan, channel: 'W', keyAssociation: 'IYY', disableDCVV2: 'Y' }, 'app');
    case 'POST /cards/cvv2/verification': return b({ organizationNumber: 100, cardNumber: card.pan, expirationDate: card.expiry, cvv2: '123' });
    case 'PUT /cards/pin/pin-change': return b({ organizationNumber: 100, cardNumber: card.pan, currPinBlock: pin(card.pin), reqdPinBlock: pin(card.pin), channel: 'W', keyAssociationNumber: 'IYY', pinOffset: 0 });
    case 'PUT /cards/pin/status': return b({ organizationNumber: 100, cardNumber: card.pan, cardSequenceNumber: 1, serviceFunctionCode: 'U', channel: 'A' });
    case 'POST /cards/mass-card-issue-L8V3': return b({ organizationNumber: 100, logo: 1, cardType: 1, functionType: 'M', quantityToCreate: 6, customerNumber: pools.customers[0], expiryDate: '2031-07-31', creditLimit: 100 });
    case 'GET /cards/mass-card-issue-L8V3': return { body: undefined, query: [['organizationNumber', 100], ['logo', 1], ['serviceType', 1], ['page', 1], ['pageSize', 50]], headers: {}, client: 'tester' };
    default: return { body: undefined, query: [], headers: {}, client: 'tester' };
  }
}

function request(route: ApiRoute, parts: Parts, note: string, over: Partial<FuzzRequest> = {}): FuzzRequest {
  const query = queryOf(parts.query);
  return {
    route: routeName(route), method: route.method, url: query ? `${route.url}?${query}` : route.url,
    body: parts.body === undefined ? undefined : bodyText(parts.body),
    headers: parts.headers, client: parts.client, signed: route.signed, note, ...over,
  };
}

const clientArb: fc.Arbitrary<ClientKind> = fc.oneof(
  { weight: 40, arbitrary: fc.constant('tester' as const) },
  { weight: 3, arbitrary: fc.constantFrom('cardsonly' as const, 'app' as const, 'other' as const, 'noscope' as const) },
  { weight: 1, arbitrary: fc.constantFrom('anonymous' as const, 'badsig' as const) },
);

const anyHostile = fc.oneof(fc.constantFrom(...HOSTILE_TEXT), fc.constantFrom(...HOSTILE_VALUES), fc.string({ maxLength: 8, unit: 'binary' }));

/** A request of one route: valid or near it (from the pools or the schema), or with one hostile change. */
export function routeRequestArb(route: ApiRoute, pools: Pools): fc.Arbitrary<FuzzRequest> {
  const paths = bodyPaths(route.body);
  const open = openPaths(route.body);
  const good = fc.constant(null).map(() => goodParts(route, pools));
  const base = fc.oneof({ weight: 2, arbitrary: good }, partsArb(route, pools), fc.tuple(good, clientArb).map(([p, c]) => ({ ...p, client: route.signed ? c : p.client })));
  const kinds: Array<{ weight: number; arbitrary: fc.Arbitrary<FuzzRequest> }> = [
    { weight: 3, arbitrary: base.map((p) => request(route, p, 'valid or near it')) },
  ];
  if (paths.length) {
    const typed = (path: string[]) => fc.constantFrom(...hostileFor(schemaAt(route.body, path)));
    kinds.push({
      weight: 6,
      arbitrary: fc.tuple(base, fc.constantFrom(...paths)).chain(([p, path]) => fc.tuple(fc.constant(p), fc.constant(path), fc.oneof(typed(path), anyHostile)))
        .map(([p, path, v]) => request(route, { ...p, body: setPath(p.body, path, v) }, `body/${path.join('/')} := ${describe(v)}`)),
    });
  }
  if (open.length) {
    kinds.push({
      weight: 2,
      arbitrary: fc.tuple(base, fc.constantFrom(...open), fc.constantFrom(...EXTRA_HOSTILE), fc.constantFrom('zz9Extra', 'A\u0085B', 'k\nk', '\u0000'))
        .map(([p, path, v, key]) => request(route, { ...p, body: setPath(p.body, [...path, key], v) }, `body/${[...path, key].join('/')} (extra) := ${describe(v)}`)),
    });
  }
  if (route.query.length || route.method === 'GET') {
    const names = [...route.query.map((q) => q.name), 'unknownParam'];
    kinds.push({
      weight: 4,
      arbitrary: fc.tuple(base, fc.constantFrom(...names), fc.oneof(fc.constantFrom(...HOSTILE_TEXT), fc.constantFrom(...NUMERIC_HOSTILE.filter((v) => typeof v === 'string')), fc.string({ maxLength: 6 })), fc.boolean())
        .map(([p, name, v, repeat]) => {
          const query = repeat ? [...p.query, [name, v] as [string, unknown]] : [...p.query.filter(([k]) => k !== name), [name, v] as [string, unknown]];
          return request(route, { ...p, query }, `query ${name}${repeat ? ' (again)' : ''} := ${describe(v)}`);
        }),
    });
  }
  if (route.headers.length) {
    kinds.push({
      weight: 3,
      arbitrary: fc.tuple(base, fc.constantFrom(...route.headers.map((x) => x.name)), fc.constantFrom(...[...HOSTILE_TEXT, ...NUMERIC_HOSTILE].filter(headerSafe)))
        .map(([p, name, v]) => request(route, { ...p, headers: { ...p.headers, [name]: v } }, `header ${name} := ${describe(v)}`)),
    });
  }
  if (route.method !== 'GET') {
    kinds.push({
      weight: 2,
      arbitrary: fc.tuple(base, fc.constantFrom(...HOSTILE_BODIES)).map(([p, b]) => request(route, p, `body text: ${b.note}`, { body: b.body })),
    });
    kinds.push({
      weight: 1,
      arbitrary: fc.tuple(base, fc.constantFrom(...CONTENT_TYPES)).map(([p, ct]) => request(route, p, `content-type ${ct}`, { contentType: ct, body: p.body === undefined ? 'a=1' : bodyText(p.body) })),
    });
  }
  return fc.oneof(...kinds);
}

const describe = (v: unknown): string => {
  const text = typeof v === 'string' ? (v.startsWith(RAW) ? `raw ${v.slice(RAW.length, -1)}` : JSON.stringify(v)) : JSON.stringify(v) ?? String(v);
  return text.length > 60 ? `${text.slice(0, 57)}… (${text.length} chars)` : text;
};

/** Requests off the API: unknown routes, other methods. */
const strayArb: fc.Arbitrary<FuzzRequest> = fc.constantFrom<FuzzRequest>(
  { route: 'stray', signed: true, method: 'POST', url: '/no/such/route', body: '{}', client: 'tester', note: 'unknown route' },
  { route: 'stray', signed: true, method: 'DELETE', url: '/customer/l8v2', client: 'tester', note: 'DELETE' },
  { route: 'stray', signed: true, method: 'PATCH', url: '/cards/status-L8V1', body: '{}', client: 'tester', note: 'PATCH' },
  { route: 'stray', signed: true, method: 'GET', url: '/customer/l8v2', client: 'tester', note: 'GET on a POST route' },
  { route: 'stray', signed: true, method: 'POST', url: '/customer/l8v2/', body: '{}', client: 'tester', note: 'trailing slash' },
  { route: 'stray', signed: true, method: 'GET', url: `/${'a'.repeat(5000)}`, client: 'tester', note: 'long path' },
  { route: 'stray', signed: true, method: 'GET', url: '/%ZZ', client: 'tester', note: 'bad percent-encoding' },
  { route: 'stray', signed: false, method: 'GET', url: '/health/live?x=%00', client: 'anonymous', note: 'NUL in a health query' },
  { route: 'stray', signed: true, method: 'POST', url: '/cards/pin/invalid-attempts', body: '{"cardNumber":"4111111111111111"}', headers: { 'x-request-id': 'a\tb' }, client: 'tester', note: 'TAB in the request id' },
  { route: 'stray', signed: true, method: 'POST', url: '/cards/pin/invalid-attempts', body: '{"cardNumber":"4111111111111111"}', headers: { 'x-request-id': 'a\u0085b' }, client: 'tester', note: 'C1 in the request id' },
);

/** Any request of any route (each route equally likely), or a stray one. */
export function anyRequestArb(routes: ApiRoute[], pools: Pools): fc.Arbitrary<FuzzRequest> {
  return fc.oneof({ weight: 60, arbitrary: fc.oneof(...routes.map((r) => routeRequestArb(r, pools))) }, { weight: 1, arbitrary: strayArb });
}

/**
 * The systematic part, made lazily (the pools change as it runs): for every route, its good
 * request as is, then with each hostile value its type calls for at each field (one at a time,
 * the rest of the request valid), each hostile extra field at each place that keeps them, each
 * hostile text at each query parameter and header, each hostile body text and content type.
 */
export function* corpus(routes: ApiRoute[], pools: Pools): Generator<FuzzRequest> {
  for (const route of routes) {
    const good = () => goodParts(route, pools);
    yield request(route, good(), 'valid');
    for (const path of bodyPaths(route.body)) {
      for (const v of hostileFor(schemaAt(route.body, path))) {
        const p = good();
        yield request(route, { ...p, body: setPath(p.body, path, v) }, `body/${path.join('/')} := ${describe(v)}`);
      }
    }
    for (const path of openPaths(route.body)) {
      for (const v of EXTRA_HOSTILE) {
        const p = good();
        yield request(route, { ...p, body: setPath(p.body, [...path, 'zz9Extra'], v) }, `body/${[...path, 'zz9Extra'].join('/')} (extra) := ${describe(v)}`);
      }
    }
    for (const q of [...route.query, ...(route.method === 'GET' ? [{ name: 'page' }] : [])]) {
      for (const v of [...HOSTILE_TEXT, ...NUMERIC_HOSTILE.filter((x) => typeof x === 'string')]) {
        const p = good();
        yield request(route, { ...p, query: [...p.query.filter(([k]) => k !== q.name), [q.name, v]] }, `query ${q.name} := ${describe(v)}`);
      }
    }
    for (const hd of route.headers) {
      for (const v of [...HOSTILE_TEXT, ...NUMERIC_HOSTILE].filter(headerSafe)) {
        const p = good();
        yield request(route, { ...p, headers: { ...p.headers, [hd.name]: v } }, `header ${hd.name} := ${describe(v)}`);
      }
    }
    if (route.method !== 'GET') {
      for (const bt of HOSTILE_BODIES) yield request(route, good(), `body text: ${bt.note}`, { body: bt.body });
      for (const ct of CONTENT_TYPES) {
        const p = good();
        yield request(route, p, `content-type ${ct}`, { contentType: ct, body: p.body === undefined ? 'a=1' : bodyText(p.body) });
      }
    }
    if (routeName(route) === 'POST /token') {
      // Credentials as form fields or JSON, without Basic auth: each hostile text in each field.
      for (const v of HOSTILE_TEXT) {
        for (const field of ['grant_type', 'client_id', 'client_secret']) {
          const fields: Record<string, string> = { grant_type: 'client_credentials', client_id: tester.clientId, client_secret: tester.secret, [field]: v };
          yield request(route, { ...good(), client: 'anonymous' }, `form ${field} := ${describe(v)}`, {
            contentType: 'application/x-www-form-urlencoded', body: Object.entries(fields).map(([k, x]) => `${k}=${encode(x)}`).join('&'),
          });
          yield request(route, { ...good(), client: 'anonymous', body: fields }, `JSON ${field} := ${describe(v)}`);
        }
      }
    }
    for (const client of ['cardsonly', 'app', 'other', 'noscope', 'anonymous', 'badsig'] as const) {
      if (route.signed) yield request(route, { ...good(), client }, `client ${client}`);
    }
  }
}

// --- sending and checking -------------------------------------------------------------------------

export interface Finding { request: FuzzRequest; status: number; problem: string; body: string; /** For a 5xx: the error the app logged. */ cause?: string }

export interface FuzzStats {
  requests: number;
  byStatus: Map<number, number>;
  byCode: Map<string, number>;
  findings: Finding[];
  /** Requests the test side could not send (a header value HTTP refuses). */
  unsendable: number;
  digestChecks: number;
  /** Refusals (4xx) that wrote to a table allowed to record them, by table and status. */
  allowedWrites: Map<string, number>;
  /** Milliseconds spent answering, counting changed rows, and digesting tables. */
  ms: { answer: number; count: number; digest: number };
}

const ALLOWED_STATUS = new Set([200, 400, 401, 403, 404, 409, 413, 415, 422]);

/** What is wrong with an answer, if anything: never a 5xx, JSON always, the envelope on refusals. */
export function answerProblem(req: FuzzRequest, res: LightMyRequestResponse): string | undefined {
  if (res.statusCode >= 500) return `status ${res.statusCode}`;
  if (!ALLOWED_STATUS.has(res.statusCode)) return `unexpected status ${res.statusCode}`;
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(res.body) as Record<string, unknown>;
  } catch {
    return 'answer is not JSON';
  }
  if (!String(res.headers['content-type'] ?? '').startsWith('application/json')) return `content-type ${res.headers['content-type']}`;
  if (res.statusCode === 200) {
    if (req.url.startsWith('/token')) return typeof body.access_token === 'string' ? undefined : 'token answer without access_token';
    if (req.url.startsWith('/health')) return body.status === 'ok' ? undefined : 'health answer without status';
    // Success is the bare response object, as upstream documents it: never the envelope.
    return body.hasError === undefined && body.errors === undefined ? undefined : '200 in the envelope';
  }
  const errors = body.errors as Array<Record<string, unknown>> | undefined;
  if (body.hasError !== true || !Array.isArray(errors) || errors.length === 0) return 'refusal without the envelope';
  if (!errors.every((e) => typeof e.code === 'string' && /^[A-Z0-9]{5,12}$/.test(e.code) && typeof e.description === 'string')) return 'refusal with a malformed error item';
  if (typeof body.data !== 'object' || body.data === null || Array.isArray(body.data)) return 'refusal without a data object';
  return undefined;
}

/**
 * Which tables each request wrote (test only), from a trigger on every table of the test store,
 * without a digest of every table (`tableDigests` cross-checks it now and then). `written()` after
 * a request: the tables written since the last call; `reset()` after writes of the test's own.
 *
 * On PGlite the trigger sends the table's name as a notification: PGlite reads it with the answer
 * of the statement that committed it, before the request goes on, so nothing is asked after the
 * request (a query there was a fifth of the fuzz's time). On PostgreSQL notifications come
 * on their own time, so the trigger counts rows in a table that is read after each request.
 * Either way a rolled-back write is not seen, as it changed nothing.
 */
interface ChangeWatch { tables: string[]; reset(): Promise<void>; written(): Promise<string[]> }

async function watchChanges(h: Harness): Promise<ChangeWatch> {
  const storage = h.container.storage;
  const db = storage.db;
  const tables = await appTables(h);
  const install = async (action: string) => {
    await sql`create or replace function fuzz_count_change() returns trigger language plpgsql as $$
      begin ${sql.raw(action)}; return null; end $$`.execute(db);
    for (const t of tables) {
      await sql`drop trigger if exists fuzz_changes on ${sql.table(t)}`.execute(db);
      await sql`create trigger fuzz_changes after insert or update or delete on ${sql.table(t)} for each row execute function fuzz_count_change()`.execute(db);
    }
  };
  if (storage.listen) {
    const seen = new Set<string>();
    await storage.listen('fuzz_changes', (table) => seen.add(table));
    await install(`perform pg_notify('fuzz_changes', TG_TABLE_NAME)`);
    const written = async () => { const names = [...seen]; seen.clear(); return names; };
    return { tables, reset: async () => { seen.clear(); }, written };
  }
  await sql`create table if not exists fuzz_row_changes (tbl text primary key, n bigint not null)`.execute(db);
  await install('insert into fuzz_row_changes as c (tbl, n) values (TG_TABLE_NAME, 1) on conflict (tbl) do update set n = c.n + 1');
  const counts = async () => new Map((await sql<{ tbl: string; n: string }>`select tbl, n from fuzz_row_changes`.execute(db)).rows.map((x) => [x.tbl, Number(x.n)]));
  let before = await counts();
  return {
    tables,
    reset: async () => { before = await counts(); },
    written: async () => {
      const now = await counts();
      const changed = [...now].filter(([t, n]) => n !== (before.get(t) ?? 0)).map(([t]) => t);
      before = now;
      return changed;
    },
  };
}

async function appTables(h: Harness): Promise<string[]> {
  const r = await sql<{ t: string }>`select table_name as t from information_schema.tables
    where table_schema = current_schema() and table_type = 'BASE TABLE' and table_name <> 'fuzz_row_changes' order by 1`.execute(h.container.storage.db);
  return r.rows.map((x) => x.t);
}

/** The counter columns a wrong PIN or CVV2 moves on a card (and the row's updated_at with them). */
const COUNTER_COLUMNS = ['pin_tries', 'pin_last_invalid', 'pin_blocked', 'cvv2_tries', 'cvv2_last_invalid', 'cvv2_blocked', 'updated_at'];

/**
 * An md5 of every row of every table (ordered by their text), per table; the cards table also
 * without its try counters. The tables refusals may write are left out.
 */
export async function tableDigests(h: Harness, tables: string[]): Promise<Map<string, string>> {
  const parts = tables.filter((t) => !(t in REFUSALS_WRITE)).map((t) => sql`select ${t} as t, md5(coalesce(string_agg(x::text, '|' order by x::text), '')) as d from ${sql.table(t)} x`);
  if (tables.includes('cards')) {
    const minus = sql.raw(COUNTER_COLUMNS.map((c) => ` - '${c}'`).join(''));
    parts.push(sql`select 'cards without counters' as t, md5(coalesce(string_agg((to_jsonb(x)${minus})::text, '|' order by (to_jsonb(x)${minus})::text), '')) as d from cards x`);
  }
  const r = await sql<{ t: string; d: string }>`${sql.join(parts, sql` union all `)}`.execute(h.container.storage.db);
  return new Map(r.rows.map((x) => [x.t, x.d]));
}

/** The tables a refusal with this status may change on this route. */
function mayChange(req: FuzzRequest, status: number): (table: string) => boolean {
  return (t) => t in REFUSALS_WRITE
    || (status === 422 && (t in BUSINESS_REFUSALS_WRITE || (t === 'cards' && COUNTING_ROUTES.has(req.route))));
}

/**
 * Settings of a fuzzed app: limits on rates and per-card counts far above what the fuzz sends,
 * so that its requests reach the handlers instead of a 429 (which is an envelope too, but says
 * nothing about the input).
 */
export const FUZZ_SETTINGS = {
  RATE_LIMIT_PER_MINUTE: 1_000_000_000,
  EMBOSS_AUTH_FAILURES_PER_MINUTE: 1_000_000_000,
  EMBOSS_TOKENS_PER_MINUTE: 1_000_000_000,
  EMBOSS_TOKEN_LOCKOUT_FAILURES: 1_000_000_000,
  EMBOSS_VERIFICATIONS_PER_CARD_PER_DAY: 1_000_000,
  EMBOSS_UNBLOCKS_PER_CARD_PER_DAY: 1_000_000,
} as Record<string, number> as Partial<Settings>;

export interface Fuzzer {
  routes: ApiRoute[];
  pools: Pools;
  stats: FuzzStats;
  send(req: FuzzRequest): Promise<void>;
}

/**
 * Sets a harness up for fuzzing (records to aim at, change counters) and answers a sender that
 * checks each answer and what it changed. `digestEvery`: one request in so many is also checked
 * with full table digests before and after.
 */
export async function startFuzzer(h: Harness, options: { digestEvery?: number } = {}): Promise<Fuzzer> {
  const routes = apiRoutes(h.app);
  const pools = await makePools(h);
  // Tokens are issued before counting starts: the harness fetches one at a client's first call.
  for (const client of Object.values(CLIENTS)) await h.token(client);
  const changes = await watchChanges(h);
  const tables = changes.tables;
  const stats: FuzzStats = { requests: 0, byStatus: new Map(), byCode: new Map(), findings: [], unsendable: 0, digestChecks: 0, allowedWrites: new Map(), ms: { answer: 0, count: 0, digest: 0 } };
  const digestEvery = options.digestEvery ?? 100;
  let sent = 0;

  async function inject(req: FuzzRequest): Promise<LightMyRequestResponse> {
    const headers: Record<string, string | undefined> = { ...req.headers };
    if (req.contentType !== undefined) headers['content-type'] = req.contentType ?? undefined;
    const known = CLIENTS[req.client];
    if (req.signed && known && (req.method === 'GET' || req.method === 'POST' || req.method === 'PUT')) {
      return h.call(req.method, req.url, req.body, { client: known, headers });
    }
    if (req.signed && req.client === 'badsig') return h.call(req.method as 'POST', req.url, req.body, { headers, signature: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=' });
    // Unsigned: the token and health routes, anonymous callers, other methods.
    const plain: Record<string, string> = {};
    for (const [k, v] of Object.entries(headers)) if (v !== undefined) plain[k] = v;
    if (req.body !== undefined && !('content-type' in headers)) plain['content-type'] = 'application/json';
    if (req.url.startsWith('/token') && known) plain.authorization = `Basic ${Buffer.from(`${tester.clientId}:${tester.secret}`).toString('base64')}`;
    return h.app.inject({ method: req.method as 'POST', url: req.url, headers: { 'x-request-id': randomUUID(), ...plain }, ...(req.body !== undefined ? { payload: req.body } : {}) });
  }

  async function send(req: FuzzRequest): Promise<void> {
    sent++;
    if (sent % 1500 === 0) {
      await refreshPools(h, pools);
      await changes.reset();
    }
    // A test clock that stands still: moved a second every thousand requests, so that signing
    // timestamps (one a millisecond) stay within the window.
    if (sent % 1000 === 0) h.clock.advance(1000);
    const digest = sent % digestEvery === 0;
    let t = performance.now();
    const before = digest ? await tableDigests(h, tables) : undefined;
    stats.ms.digest += performance.now() - t;
    let res: LightMyRequestResponse;
    t = performance.now();
    try {
      res = await inject(req);
      stats.ms.answer += performance.now() - t;
    } catch (err) {
      // A header value HTTP itself cannot carry: not sent, so not a finding of the server.
      if (err instanceof TypeError && /header/i.test(err.message)) { stats.unsendable++; return; }
      throw err;
    }
    stats.requests++;
    stats.byStatus.set(res.statusCode, (stats.byStatus.get(res.statusCode) ?? 0) + 1);
    const report = (problem: string) => stats.findings.push({
      request: req, status: res.statusCode, problem, body: res.body.slice(0, 300), ...(res.statusCode >= 500 ? { cause: loggedCause(h, res) } : {}),
    });
    const problem = answerProblem(req, res);
    if (problem) report(problem);
    else if (res.statusCode !== 200) {
      const code = (JSON.parse(res.body) as { errors: Array<{ code: string }> }).errors[0]!.code;
      stats.byCode.set(code, (stats.byCode.get(code) ?? 0) + 1);
    }
    t = performance.now();
    const written = await changes.written();
    stats.ms.count += performance.now() - t;
    if (res.statusCode >= 400 && res.statusCode < 500) {
      const allowed = mayChange(req, res.statusCode);
      for (const t of written.filter(allowed)) stats.allowedWrites.set(`${t} ${res.statusCode}`, (stats.allowedWrites.get(`${t} ${res.statusCode}`) ?? 0) + 1);
      const changed = written.filter((t) => !allowed(t));
      if (changed.length) report(`a refusal wrote to ${changed.join(', ')}`);
      if (before) {
        stats.digestChecks++;
        t = performance.now();
        const after = await tableDigests(h, tables);
        stats.ms.digest += performance.now() - t;
        // 'cards without counters' is never allowed to change: a counting route moves the counters only.
        const left = [...after].filter(([t, d]) => before.get(t) !== d).map(([t]) => t).filter((t) => !allowed(t));
        if (left.length) report(`a refusal changed the digest of ${left.join(', ')}`);
      }
    }
  }

  return { routes, pools, stats, send };
}

/** The message of the error a 5xx was logged with (found by its trace id). */
function loggedCause(h: Harness, res: LightMyRequestResponse): string {
  const traceId = /"traceId":"([^"]+)"/.exec(res.body)?.[1];
  const line = traceId && [...h.logs].reverse().find((l) => l.includes(traceId) && l.includes('"err"'));
  if (!line) return 'no logged error';
  const err = (JSON.parse(line) as { err?: { type?: string; message?: string } }).err;
  return `${err?.type ?? 'Error'}: ${err?.message ?? ''}`.slice(0, 160);
}

/** C0, DEL and C1 control characters, NUL included, and unpaired surrogates. */
const UNCLEAN = /[\u0000-\u001F\u007F-\u009F]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Text stored with a control character (or NUL, or an unpaired surrogate) anywhere: every row of
 * every table, read as JSON (JSON columns included, parsed again), every string and key walked.
 * Answers "table: value" for each found, at most `limit`.
 */
export async function uncleanStoredText(h: Harness, limit = 10): Promise<string[]> {
  const found: string[] = [];
  for (const t of await appTables(h)) {
    const r = await sql<{ row: string }>`select to_jsonb(x)::text as row from ${sql.table(t)} x`.execute(h.container.storage.db);
    for (const { row } of r.rows) {
      const stack: unknown[] = [JSON.parse(row)];
      while (stack.length > 0 && found.length < limit) {
        const v = stack.pop();
        if (typeof v === 'string') {
          if (UNCLEAN.test(v)) found.push(`${t}: ${JSON.stringify(v).slice(0, 80)}`);
          else if (/^[[{]/.test(v)) { try { stack.push(JSON.parse(v)); } catch { /* text, not JSON */ } }
        } else if (Array.isArray(v)) stack.push(...v);
        else if (typeof v === 'object' && v !== null) for (const [k, item] of Object.entries(v)) { if (UNCLEAN.test(k)) found.push(`${t}: key ${JSON.stringify(k)}`); stack.push(item); }
      }
    }
  }
  return found;
}

/**
 * A fuzz suite on a store of its own: a harness set up for fuzzing before its tests (records to
 * aim at, change counters), and a summary of what was sent after them. The fuzz is split in two
 * files (test/http/fuzz.test.ts, fuzz-random.test.ts) so that its halves run side by side.
 */
export function describeFuzz(title: string, backend: Backend, part: string, body: (suite: () => { h: Harness; fuzz: Fuzzer }) => void): void {
  describeSuite(title, () => {
    let h: Harness | undefined;
    let fuzz: Fuzzer | undefined;
    let started = 0;
    before(async () => {
      started = Date.now();
      h = await startHarness(backend, { settings: FUZZ_SETTINGS });
      fuzz = await startFuzzer(h);
    });
    after(async () => {
      if (fuzz) process.stdout.write(`# ${summary(fuzz.stats, (Date.now() - started) / 1000, `fuzz ${part} ${backend}`)}\n`);
      await h?.close();
    });
    body(() => {
      if (!h || !fuzz) throw new Error('the fuzz suite did not start');
      return { h, fuzz };
    });
  });
}

/** A table of the counts for a report: status → requests, and the refusal codes seen. */
export function summary(stats: FuzzStats, seconds: number, label: string): string {
  const statuses = [...stats.byStatus].sort(([a], [b]) => a - b).map(([s, n]) => `${s}: ${n.toLocaleString('en-US')}`).join(', ');
  const codes = [...stats.byCode].sort(([, a], [, b]) => b - a).map(([c, n]) => `${c} ${n}`).join(', ');
  return `${label}: ${stats.requests.toLocaleString('en-US')} requests in ${seconds.toFixed(1)} s (${Math.round(stats.requests / seconds)}/s); `
    + `status ${statuses}; ${stats.digestChecks} digest checks; ${stats.unsendable} unsendable; findings ${stats.findings.length}\n`
    + `  refusals that wrote where allowed (table status: requests): ${[...stats.allowedWrites].sort().map(([k, n]) => `${k}: ${n}`).join(', ') || 'none'}\n`
    + `  time: answers ${(stats.ms.answer / 1000).toFixed(1)} s, change counts ${(stats.ms.count / 1000).toFixed(1)} s, digests ${(stats.ms.digest / 1000).toFixed(1)} s\n  codes: ${codes}`;
}

/** The findings, grouped by route and problem, with one example each. */
export function findingsReport(findings: Finding[]): string {
  const groups = new Map<string, Finding[]>();
  for (const f of findings) {
    const key = `${f.request.route} — ${f.problem}${f.cause ? ` — ${f.cause}` : ''}`;
    groups.set(key, [...(groups.get(key) ?? []), f]);
  }
  return [...groups].map(([key, list]) => `${key} (${list.length}×), e.g. ${list[0]!.request.note} [${list[0]!.request.client}] → ${list[0]!.status} ${list[0]!.body}`).join('\n');
}
