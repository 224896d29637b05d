import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { backends } from '../helpers/storage.ts';
import {
  startHarness, addCard, addCustomer, addAccount, clientEncryptPan, clientPinBlock, clientReadPinBlock, type Harness,
} from '../helpers/harness.ts';
import { upstream, generateRequests, requestProblems, responseProblems, problems, fieldsPresent, type JsonSchema, type UpstreamOperation } from '../helpers/contract.ts';

/**
 * The upstream contract, checked the way an integrator's client would meet it: for every seed
 * operation, customer add and account add, 40 requests generated from the upstream request schema
 * (with the lengths and value lists upstream documents, see test/helpers/contract.ts), with real
 * identifiers put in. None may be refused by schema (400): a value valid in form but wrong in
 * meaning gets a 422. Every 200 body must validate against the upstream 200 schema with all of its
 * documented properties required, and against emboss's own OpenAPI document the same way (it
 * describes exactly what is sent).
 *
 * CONTRACT_REPORT=file writes the measured table (the README's "Wire compatibility").
 */
const PER_OPERATION = 40;

interface Card { pan: string; token: string; account: string; customer: string }

interface World {
  customer: string;
  account: string;
  /** Ten cards with their PINs known, shared by the operations that do not change a card. */
  pool: Card[];
  /** The PIN of each card, read from its security values as the client does. */
  pins: Map<string, string>;
}

type Fill = (request: Record<string, any>, i: number, world: World, h: Harness) => Promise<void> | void;

/** A card of the pool (operations that change a card get a new one each, see cardAction). */
const poolCard = (w: World, i: number) => w.pool[i % w.pool.length]!;

const pad19 = (s: string) => s.padStart(19, '0');

/** The identifiers a real client would send, put into a generated request; the rest stays as generated. */
const FILLS: Record<string, Fill> = {
  customerAdd(r, i) {
    const key = r.customerData.customerKeyData;
    key.organizationNumber = 100;
    // Every other request as a client adding a customer sends it: no number (emboss numbers the
    // customer) and no account yet; the rest as generated.
    if (i % 2 === 0) Object.assign(key, { customerNumber: '', accountNumber: '' });
  },
  accountAdd(r, i, w) {
    r.accountData = { ...r.accountData, organization: 100, logo: 1, customerNumber: w.customer };
    if (i % 2 === 1) return;
    // Every other request as a client opening an account sends it: 19 zeros for the number
    // (FirstVision's "none": emboss numbers it; upstream's length is exactly 19), no relationship,
    // a currency code, a billing cycle; the rest as generated.
    Object.assign(r.accountData, { accountNumber: '0'.repeat(19), relationshipNumber: '', billingCurrency: '840', billingCycle: 1 + (i % 28) });
    delete r.accountData.cardExpirationDate;
  },
  cardAdd(r, i, w) {
    Object.assign(r, { organizationNumber: 100, postToAccount: w.account });
    if (i % 2 === 0) r.cardNumber = '';
  },
  cardPan(r, i, w) {
    const c = poolCard(w, i);
    Object.assign(r, { organizationNumber: 100, cardSequence: 1, cardNumber: i % 2 === 0 ? c.token : clientEncryptPan(c.pan) });
  },
  massIssue(r, i, w) {
    Object.assign(r, { organizationNumber: 100, logo: 1, customerNumber: w.customer, quantityToCreate: 1 + (i % 3), minimumQuantity: 1 });
    // Every other request is one a client would send: values upstream takes in meaning (its 422 list
    // says which: function A or M, status 1 or 9, codes 0 or 1, letters…) and a future expiry; the
    // rest as generated (refused in meaning, 422).
    if (i % 2 === 0) {
      Object.assign(r, {
        functionType: 'A', status: 1, blockCode1: '', blockCode2: '', embosserCode: '', relationAMBS: '', prepaidCardFlag: 0, promoCode: '',
        scheme: 0, userCode1: 0, userCode2: 0, userCode3: 0, globalQualification: '', posServiceCode: String(i % 1000),
        expiryDate: `${new Date().getUTCFullYear() + 4}-06-30`,
      });
    }
  },
  async cardAction(r, _i, _w, h) {
    const c = await addCard(h);
    Object.assign(r, { organizationNumber: 100, cardNumber: c.token, cardSequence: 1 });
  },
  instantCard(r, i, w) {
    Object.assign(r, { organizationNumber: 100, logo: 1, customerNumber: w.customer });
    if (i % 2 === 1) {
      r.accountData = { billingCycle: 1, ...r.accountData, accountNumber: w.account };
      return;
    }
    // Every other request as a client issuing a card would send it: a new account, a cardholder
    // name, the flags' values; the rest of the account and embosser data as generated.
    Object.assign(r, { accountCreateFlag: 'Y', sameDayProcessingType: i % 4 === 0 ? 0 : 1, cardActionFlag: i % 4 === 0 ? 1 : 0 });
    // (Upstream requires billingCycle in accountData and digitalCardFlag in embosserData.)
    r.accountData = { billingCycle: 1, ...r.accountData, accountNumber: '' };
    r.embosserData = { digitalCardFlag: 0, ...r.embosserData, embossedName1: 'ADA LOVELACE', customerNumber: w.customer };
    delete r.embosserData.expirationDate;
  },
  securityCodes(r, i, w) {
    Object.assign(r, { organizationNumber: 100, cardNumber: poolCard(w, i).token, keyAssociation: 'IYY' });
  },
  dynamicValues(r, i, w) {
    Object.assign(r, { organizationNumber: 100, cardNumber: poolCard(w, i).token, keyAssociation: 'IYY' });
  },
  invalidAttempts(r, i, w) {
    Object.assign(r, { organizationNumber: 100, cardNumber: poolCard(w, i).token, cardSequenceNumber: 1 });
  },
  pinValidation(r, i, w) {
    const c = poolCard(w, i);
    // Every other request carries the right PIN, as a client's would; the rest what was generated.
    Object.assign(r, { organizationNumber: 100, cardNumber: i % 2 === 0 ? c.token : pad19(c.pan), keyAssociation: 'IYY' });
    if (i % 2 === 0) r.currentPinBlock = clientPinBlock(0, w.pins.get(c.token)!, c.pan);
  },
};

/** The objects whose identifiers a fill sets, present in every generated request (optional upstream). */
const PRESENT: Record<string, string[]> = {
  customerAdd: ['customerData.customerKeyData'],
  accountAdd: ['accountData'],
};

interface Measure { id: string; op: UpstreamOperation; sent: number; refused: string[]; statuses: Map<number, number>; codes: Map<string, number>; ok: number; problems: string[]; documented: number; present: number }

for (const backend of backends) {
  describe(`upstream contract (${backend})`, () => {
    let h: Harness;
    const world: World = { customer: '', account: '', pool: [], pins: new Map() };
    const measures: Measure[] = [];

    before(async () => {
      h = await startHarness(backend);
      world.customer = await addCustomer(h);
      world.account = await addAccount(h, world.customer);
      for (let i = 0; i < 10; i++) {
        const c = await addCard(h);
        world.pool.push(c);
        const codes = await h.call('POST', '/cards/pin/security-codes', { organizationNumber: 100, cardNumber: c.token, channel: 'I', keyAssociation: 'IYY' });
        assert.equal(codes.statusCode, 200, codes.body);
        world.pins.set(c.token, clientReadPinBlock(codes.json().pinEncrypt, c.pan));
      }
    });
    after(async () => {
      if (process.env.CONTRACT_REPORT && backend === 'pglite') writeFileSync(process.env.CONTRACT_REPORT, report(measures));
      await h.close();
    });

    const generated = Object.entries(upstream).filter(([, op]) => op.generate);
    test('the fixture holds the seed operations, customer add and account add', () => {
      assert.deepEqual(generated.map(([id]) => id).sort(), Object.keys(FILLS).sort());
    });

    // CONTRACT_ONLY=customerAdd,accountAdd narrows a run while working on some operations.
    const only = process.env.CONTRACT_ONLY?.split(',');
    for (const [id, op] of generated.filter(([id]) => !only || only.includes(id))) {
      test(`${op.method} ${op.path}: ${PER_OPERATION} upstream-valid requests, none refused by schema; every 200 body has every documented field`, async () => {
        const m: Measure = { id, op, sent: 0, refused: [], statuses: new Map(), codes: new Map(), ok: 0, problems: [], documented: 0, present: 0 };
        measures.push(m);
        const requests = generateRequests(op, PER_OPERATION, 1000 * (Object.keys(upstream).indexOf(id) + 1), PRESENT[id]);
        const own = ownResponseSchema(h, op);
        for (const [i, request] of requests.entries()) {
          await FILLS[id]!(request, i, world, h);
          // What is sent is upstream-valid, identifiers and all: the fill must not break that.
          assert.deepEqual(requestProblems(id, request), [], JSON.stringify(request).slice(0, 400));
          const res = await h.call(op.method, op.path, request);
          m.sent++;
          m.statuses.set(res.statusCode, (m.statuses.get(res.statusCode) ?? 0) + 1);
          assert.ok(res.statusCode < 500, `${res.statusCode} ${res.body}`);
          if (res.statusCode === 422) { const code = String(res.json().errors?.[0]?.code); m.codes.set(code, (m.codes.get(code) ?? 0) + 1); }
          if (res.statusCode === 400) m.refused.push(`${res.json().errors?.[0]?.description ?? res.body} ← ${JSON.stringify(request).slice(0, 400)}`);
          if (res.statusCode !== 200) continue;
          m.ok++;
          const body = res.json();
          m.problems.push(...responseProblems(id, body));
          m.problems.push(...problems(`emboss ${id}`, own, body).map((p) => `emboss's own document: ${p}`));
          const f = fieldsPresent(op.response!, body);
          m.documented = Math.max(m.documented, f.documented);
          m.present = Math.max(m.present, f.present);
        }
        assert.deepEqual(m.refused, [], `${m.refused.length} of ${m.sent} refused by schema`);
        assert.ok(m.ok > 0, `no request answered 200 (${JSON.stringify([...m.statuses])}; 422 codes ${JSON.stringify([...m.codes])})`);
        assert.deepEqual([...new Set(m.problems)], [], 'every 200 body validates against the upstream 200 schema, all properties required');
      });
    }
  });
}

/** The 200 schema emboss's own OpenAPI document gives the operation (what /openapi.json serves). */
function ownResponseSchema(h: Harness, op: UpstreamOperation): JsonSchema {
  const doc = h.app.swagger() as unknown as { paths: Record<string, Record<string, { responses: Record<string, { content: Record<string, { schema: JsonSchema }> }> }>> };
  const schema = doc.paths[op.path]?.[op.method.toLowerCase()]?.responses['200']?.content['application/json']?.schema;
  assert.ok(schema, `emboss documents no 200 answer for ${op.method} ${op.path}`);
  return schema;
}

/** The README's table: operation × requests accepted, 200s, documented response fields present. */
function report(measures: Measure[]): string {
  const lines = ['| Operation | Upstream requests accepted (not 400) | Answered 200 | Response fields present |', '|---|---|---|---|'];
  for (const m of measures) {
    lines.push(`| \`${m.op.method} ${m.op.path}\` | ${m.sent - m.refused.length}/${m.sent} | ${m.ok} | ${m.present}/${m.documented} |`);
  }
  return `${lines.join('\n')}\n`;
}
