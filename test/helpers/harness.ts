import { createCipheriv, createDecipheriv, createHmac, randomBytes, randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import type { LightMyRequestResponse } from 'fastify';
import { createContainer, type Container, type ContainerOptions } from '../../src/container.ts';
import { buildApp, type App } from '../../src/http/app.ts';
import { loadSettings, type Settings } from '../../src/config/env.ts';
import { createLogger } from '../../src/shared/logger.ts';
import { ManualClock } from '../../src/shared/clock.ts';
import { openTestStore, type Backend, type TestStore } from './storage.ts';

/** Bootstrap used by the HTTP tests: two organizations and clients with different rights. */
export const TEST_SECRET = 'test-secret-0123456789-abcdef';
export const OTHER_SECRET = 'other-secret-0123456789-abcdef';
/** The card bureau's AES key in clear, so tests can decode personalization files. */
export const TEST_BUREAU_HEX = '00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF';
/** The tester client's card-number key in clear, so tests can play the client. */
export const TEST_ZEK_HEX = '0123456789ABCDEF1032547698BADCFE';
/** The tester client's zone PIN keys in clear (3DES for IYY, AES for IY4), so tests can play the client. */
export const TEST_ZPK_HEX = '89ABCDEF0123456776543210FEDCBA98';
export const TEST_ZPK_AES_HEX = '00112233445566778899AABBCCDDEEFF';
/** The test logos' card verification key (t.cvk) in clear, to compute the expected CVV values. */
export const TEST_CVK_HEX = '0123456789ABCDEFFEDCBA9876543210';
export const READONLY_SECRET = 'pci-less-secret-0123456789-abc';
export const CARDS_ONLY_SECRET = 'cards-only-secret-0123456789-ab';
export const APP_SECRET = 'cardholder-app-secret-0123456789';
export const UPSTREAM_SECRET = 'upstream-secret-0123456789-abcd';
export const ENVELOPED_SECRET = 'enveloped-secret-0123456789-abc';

export const testBootstrap = `
organizations:
  - number: 100
    name: Test Bank
    personalization: { bureauKey: t.bureau }
    logos:
      - number: 1
        description: Test Classic
        bin: "411111"
        panLength: 16
        serviceCode: "201"
        pin: { method: PVV }
        keys: { cvk: t.cvk, pvk: t.pvk }
      - number: 2
        description: Test Gold
        bin: "52000000"
        panLength: 19
        serviceCode: "221"
        pin: { method: IBM3624, length: 6 }
        keys: { cvk: t.cvk, pvk: t.pvk }
  - number: 200
    name: Other Bank
    logos:
      - number: 1
        bin: "422222"
        serviceCode: "101"
        pin: { method: PVV }
        keys: { cvk: t.cvk, pvk: t.pvk }
keys:
  - { name: t.bureau, type: BUR, algorithm: AES, components: ["${TEST_BUREAU_HEX}"] }
  - { name: t.cvk, type: CVK, components: ["${TEST_CVK_HEX}"] }
  - { name: t.pvk, type: PVK, generate: true }
  - { name: t.zpk, type: ZPK, components: ["${TEST_ZPK_HEX}"] }
  - { name: t.zpk4, type: ZPK, algorithm: AES, components: ["${TEST_ZPK_AES_HEX}"] }
  - { name: t.zek, type: ZEK, components: ["${TEST_ZEK_HEX}"] }
clients:
  - clientId: tester
    apikey: tester-apikey-0123456789
    secret: ${TEST_SECRET}
    organizations: [100]
    scopes: [cards, pci, pin-admin, events]
    keyAssociations: { IYY: t.zpk, IY4: t.zpk4 }
    cardNumberKey: t.zek
  - clientId: other
    apikey: other-apikey-0123456789
    secret: ${OTHER_SECRET}
    organizations: [200]
    scopes: [cards]
  - clientId: cardsonly
    apikey: cardsonly-apikey-0123456789
    secret: ${CARDS_ONLY_SECRET}
    organizations: [100]
    scopes: [cards]
    keyAssociations: { IYY: t.zpk, IY4: t.zpk4 }
    cardNumberKey: t.zek
  - clientId: cardholder-app
    apikey: cardholder-app-apikey-0123456789
    secret: ${APP_SECRET}
    organizations: [100]
    scopes: [cards, dcvv2]
    keyAssociations: { IYY: t.zpk }
    cardNumberKey: t.zek
  - clientId: noscope
    apikey: noscope-apikey-0123456789
    secret: ${READONLY_SECRET}
    organizations: [100]
    scopes: [admin]
  - clientId: upstream
    apikey: upstream-apikey-0123456789
    secret: ${UPSTREAM_SECRET}
    organizations: [100]
    scopes: [cards]
    authentication: upstream
  - clientId: enveloped
    apikey: enveloped-apikey-0123456789
    secret: ${ENVELOPED_SECRET}
    organizations: [100]
    scopes: [cards]
    successEnvelope: true
`;

export interface TestClient {
  clientId: string;
  apikey: string;
  secret: string;
}
export const tester: TestClient = { clientId: 'tester', apikey: 'tester-apikey-0123456789', secret: TEST_SECRET };
export const other: TestClient = { clientId: 'other', apikey: 'other-apikey-0123456789', secret: OTHER_SECRET };
export const cardsOnly: TestClient = { clientId: 'cardsonly', apikey: 'cardsonly-apikey-0123456789', secret: CARDS_ONLY_SECRET };
/** A cardholder-facing app's backend: cards and dynamic CVV2, nothing else. */
export const cardholderApp: TestClient = { clientId: 'cardholder-app', apikey: 'cardholder-app-apikey-0123456789', secret: APP_SECRET };
export const noscope: TestClient = { clientId: 'noscope', apikey: 'noscope-apikey-0123456789', secret: READONLY_SECRET };
/** A client with `authentication: upstream`: X-ClientID required, signature and request id optional. */
export const upstreamClient: TestClient = { clientId: 'upstream', apikey: 'upstream-apikey-0123456789', secret: UPSTREAM_SECRET };
/** A client with `successEnvelope: true` (signed, as the default). */
export const enveloped: TestClient = { clientId: 'enveloped', apikey: 'enveloped-apikey-0123456789', secret: ENVELOPED_SECRET };

export interface CallOptions {
  client?: TestClient;
  token?: string;
  headers?: Record<string, string | undefined>;
  requestId?: string;
  timestamp?: string;
  /** Sign something else than what is sent (to test refusals). */
  signature?: string;
  /** Header spelling set: FirstVision's x-… headers (default) or the older Timestamp/Signature ones. */
  spelling?: 'x' | 'legacy';
}

export interface Harness {
  backend: Backend;
  container: Container;
  app: App;
  clock: ManualClock;
  logs: string[];
  store: TestStore;
  token(client?: TestClient): Promise<string>;
  /** A new token, issued at the (test) clock's current time. */
  freshToken(client?: TestClient): Promise<string>;
  call(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown, options?: CallOptions): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

const usedTimestamps = new Set<number>();
let lastTimestamp = 0;
/**
 * The timestamp of a signed request: the clock's time, or the next millisecond not used yet by
 * this process. A signature is accepted once, so two requests with the same text in the same
 * millisecond would be one signature, and the second a replay. (With a test clock that stands
 * still, it runs ahead by a millisecond a request, well within the window.)
 */
export function signingTimestamp(nowMs: number): string {
  let t = lastTimestamp >= nowMs && lastTimestamp - nowMs < 60_000 ? lastTimestamp + 1 : nowMs;
  while (usedTimestamps.has(t)) t++;
  lastTimestamp = t;
  usedTimestamps.add(t);
  return String(t);
}

export function sign(secret: string, apikey: string, timestamp: string, body: string, path: string): string {
  return createHmac('sha256', secret).update(apikey + timestamp + body + path).digest('base64');
}

export async function startHarness(backend: Backend, options: { bootstrap?: string; settings?: Partial<Settings>; jobs?: boolean; cards?: ContainerOptions['cards'] } = {}): Promise<Harness> {
  const store = await openTestStore(backend);
  const logs: string[] = [];
  const destination = new Writable({ write(chunk, _enc, done) { logs.push(chunk.toString()); done(); } });
  const logger = createLogger({ level: 'info', destination });
  const clock = new ManualClock(new Date());
  const settings = { ...loadSettings({}), ...options.settings };
  const container = await createContainer({
    settings, logger, clock, storage: store.storage, bootstrapText: options.bootstrap ?? testBootstrap,
    jobs: options.jobs ?? false, jobSchema: store.jobSchema, migrate: false, env: {},
    ...(options.cards ? { cards: options.cards } : {}),
  });
  const app = await buildApp(container, { docs: true });
  await app.ready();
  const tokens = new Map<string, string>();

  const freshToken = async (client: TestClient = tester) => {
    const res = await app.inject({
      method: 'POST', url: '/token',
      headers: { authorization: `Basic ${Buffer.from(`${client.clientId}:${client.secret}`).toString('base64')}` },
      payload: { grant_type: 'client_credentials' },
    });
    if (res.statusCode !== 200) throw new Error(`token: ${res.statusCode} ${res.body}`);
    return res.json().access_token as string;
  };
  const token = async (client: TestClient = tester) => {
    const cached = tokens.get(client.clientId) ?? await freshToken(client);
    tokens.set(client.clientId, cached);
    return cached;
  };

  const call: Harness['call'] = async (method, url, body, o = {}) => {
    const client = o.client ?? tester;
    const raw = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
    const timestamp = o.timestamp ?? signingTimestamp(clock.now().getTime());
    const signature = o.signature ?? sign(client.secret, client.apikey, timestamp, raw, url);
    const names = o.spelling === 'legacy'
      ? { ts: 'Timestamp', id: 'X-Client-Request-Id', sig: 'Signature' }
      : { ts: 'x-timestamp', id: 'x-request-id', sig: 'x-hmac-signature' };
    const headers: Record<string, string> = {
      authorization: `Bearer ${o.token ?? (await token(client))}`,
      apikey: client.apikey,
      [names.ts]: timestamp,
      [names.id]: o.requestId ?? randomUUID(),
      [names.sig]: signature,
      ...(raw !== '' ? { 'content-type': 'application/json' } : {}),
    };
    for (const [k, v] of Object.entries(o.headers ?? {})) {
      if (v === undefined) delete headers[k]; else headers[k] = v;
    }
    return app.inject({ method, url, headers, ...(raw !== '' ? { payload: raw } : {}) });
  };

  return {
    backend, container, app, clock, logs, store, token, freshToken, call,
    async close() {
      await app.close();
      await container.close();
      await store.close();
    },
  };
}

/** A customer-add body for organization `org`. */
export function customerBody(org = 100, extra: Record<string, unknown> = {}, customerNumber = '') {
  return {
    customerData: {
      customerKeyData: { organizationNumber: org, customerNumber },
      ownerCoOwnerData: {
        ownerData: { firstName: 'Ada', lastName: 'Lovelace', nameLine1: 'ADA LOVELACE', dateOfBirth: '1985-12-10', countryCode: 'USA', ...extra },
      },
    },
  };
}

export async function addCustomer(h: Harness, org = 100, client: TestClient = tester): Promise<string> {
  const res = await h.call('POST', '/customer/l8v2', customerBody(org), { client });
  if (res.statusCode !== 200) throw new Error(`customer add: ${res.statusCode} ${res.body}`);
  return res.json().customerNumber;
}

export async function addAccount(h: Harness, customerNumber: string, org = 100, logo = 1, client: TestClient = tester): Promise<string> {
  const res = await h.call('POST', '/account/add-L8V3', { accountData: { organization: org, logo, customerNumber, creditLimit: 1000, billingCycle: 10 } }, { client });
  if (res.statusCode !== 200) throw new Error(`account add: ${res.statusCode} ${res.body}`);
  return res.json().accountNumber;
}

export const uuid = randomUUID;

/** A card-add body for an account. */
export function cardBody(accountNumber: string, extra: Record<string, unknown> = {}) {
  return { organizationNumber: 100, postToAccount: accountNumber, cardNumber: '', embossedName1: 'ADA LOVELACE', ...extra };
}

/**
 * Customer, account and card (organization 100, which has PAN tokens); returns the PAN token that
 * card add answers and the clear number, got as a PCI client gets it: through card-pan (`panOf`).
 */
export async function addCard(h: Harness, extra: Record<string, unknown> = {}, logo = 1): Promise<{ pan: string; token: string; account: string; customer: string }> {
  const customer = await addCustomer(h);
  const account = await addAccount(h, customer, 100, logo);
  const res = await h.call('POST', '/cards/embosser/l8vf', cardBody(account, extra));
  if (res.statusCode !== 200) throw new Error(`card add: ${res.statusCode} ${res.body}`);
  const token = res.json().cardNumber as string;
  return { pan: await panOf(h, token), token, account, customer };
}

/** The clear number of a card (named by token, number or encrypted number), through card-pan: under the client's card-number key, decrypted here. */
export async function panOf(h: Harness, cardNumber: string, org = 100, client: TestClient = tester): Promise<string> {
  const res = await h.call('POST', '/cards/embosser/card-pan-l8v2', { organizationNumber: org, cardNumber, functionType: 'C' }, { client });
  if (res.statusCode !== 200) throw new Error(`card-pan: ${res.statusCode} ${res.body}`);
  return clientDecryptPan(res.json().cardNumber);
}

/** The client side of the card-number encryption: PAN right-padded with F to 32 hex, 3DES-ECB under the ZEK. */
export function clientEncryptPan(pan: string, keyHex = TEST_ZEK_HEX): string {
  const c = createCipheriv('des-ede-ecb', Buffer.from(keyHex, 'hex'), null).setAutoPadding(false);
  return Buffer.concat([c.update(Buffer.from(pan.padEnd(32, 'F'), 'hex')), c.final()]).toString('hex').toUpperCase();
}

export function clientDecryptPan(hex: string, keyHex = TEST_ZEK_HEX): string {
  const d = createDecipheriv('des-ede-ecb', Buffer.from(keyHex, 'hex'), null).setAutoPadding(false);
  return Buffer.concat([d.update(Buffer.from(hex, 'hex')), d.final()]).toString('hex').toUpperCase().replace(/F+$/, '');
}

// --- the client side of PIN blocks and security values (plain node:crypto, no emboss code) ------

const tdesEcb = (keyHex: string, data: Buffer, decrypt = false) => {
  const c = (decrypt ? createDecipheriv : createCipheriv)('des-ede-ecb', Buffer.from(keyHex, 'hex'), null).setAutoPadding(false);
  return Buffer.concat([c.update(data), c.final()]);
};
const aesEcb = (keyHex: string, data: Buffer, decrypt = false) => {
  const key = Buffer.from(keyHex, 'hex');
  const c = (decrypt ? createDecipheriv : createCipheriv)(`aes-${key.length * 8}-ecb`, key, null).setAutoPadding(false);
  return Buffer.concat([c.update(data), c.final()]);
};
const xor = (a: Buffer, b: Buffer) => Buffer.from(a.map((x, i) => x ^ b[i]!));
const randomNibbles = (n: number, from: number, to: number) => [...randomBytes(n)].map((b) => (from + (b % (to - from + 1))).toString(16).toUpperCase()).join('');

/**
 * An ISO 9564-1 PIN block as a client makes it: formats 0, 1, 3 under the 3DES ZPK (16 hex
 * digits), format 4 under the AES ZPK (32 hex digits).
 */
export function clientPinBlock(format: 0 | 1 | 3 | 4, pin: string, pan: string, keyHex = format === 4 ? TEST_ZPK_AES_HEX : TEST_ZPK_HEX): string {
  const head = `${format}${pin.length.toString(16).toUpperCase()}${pin}`;
  if (format === 4) {
    const pinField = Buffer.from(head.padEnd(16, 'A') + randomNibbles(16, 0, 15), 'hex');
    const m = pan.length > 12 ? pan.length - 12 : 0;
    const panField = Buffer.from((String(m) + pan.padStart(12, '0')).padEnd(32, '0'), 'hex');
    return aesEcb(keyHex, xor(aesEcb(keyHex, pinField), panField)).toString('hex').toUpperCase();
  }
  const fill = 16 - head.length;
  const clearPin = Buffer.from(head + (format === 0 ? 'F'.repeat(fill) : format === 1 ? randomNibbles(fill, 0, 15) : randomNibbles(fill, 10, 15)), 'hex');
  const clear = format === 1 ? clearPin : xor(clearPin, Buffer.from(`0000${pan.slice(-13, -1)}`, 'hex'));
  return tdesEcb(keyHex, clear).toString('hex').toUpperCase();
}

/** The PIN in a format 0 PIN block under the 3DES ZPK (what the security-value endpoints return). */
export function clientReadPinBlock(hex: string, pan: string, keyHex = TEST_ZPK_HEX): string {
  const clear = xor(tdesEcb(keyHex, Buffer.from(hex, 'hex'), true), Buffer.from(`0000${pan.slice(-13, -1)}`, 'hex')).toString('hex').toUpperCase();
  if (clear[0] !== '0') throw new Error('not a format 0 PIN block');
  return clear.slice(2, 2 + parseInt(clear[1]!, 16));
}

/** A card security value (CVV, CVV2, iCVV, dCVV2) as the client decrypts it: 3DES-ECB, then the digits before the F padding. */
export function clientDecryptValue(hex: string, keyHex = TEST_ZPK_HEX): string {
  return tdesEcb(keyHex, Buffer.from(hex, 'hex'), true).toString('hex').toUpperCase().replace(/F+$/, '');
}
