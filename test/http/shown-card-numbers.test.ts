import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import { backends } from '../helpers/storage.ts';
import {
  startHarness, addCustomer, addAccount, cardBody, clientDecryptPan, clientEncryptPan, clientPinBlock, clientReadPinBlock, testBootstrap, type Harness,
} from '../helpers/harness.ts';

/**
 * docs/wire-compatibility.md, "Card numbers in responses" and "card-pan": no response carries a
 * clear card number, for any client (the tester has PCI scope and a card-number key); an
 * organization with PAN tokens shows the token, one without them the masked number (first 4 and
 * last 4 digits, lower-case x between, as long as the number). The number itself comes only
 * through card-pan, under the client's card-number key.
 */
const withoutTokens = testBootstrap.replace('    name: Test Bank\n', '    name: Test Bank\n    panToken: false\n');
assert.notEqual(withoutTokens, testBootstrap);

const masked = (pan: string) => `${pan.slice(0, 4)}${'x'.repeat(pan.length - 8)}${pan.slice(-4)}`;

for (const backend of backends) {
  for (const tokens of [true, false]) {
    describe(`card numbers in responses, organization ${tokens ? 'with' : 'without'} PAN tokens (${backend})`, () => {
      let h: Harness;
      before(async () => { h = await startHarness(backend, tokens ? {} : { bootstrap: withoutTokens }); });
      after(async () => { await h.close(); });

      const tokenOf = async (account: string) =>
        (await h.container.storage.db.selectFrom('cards').select('pan_token').where('account_number', '=', account).orderBy('card_sequence').executeTakeFirstOrThrow()).pan_token;
      /** What every response must show for the card. */
      const shown = (pan: string, token: string) => (tokens ? token : masked(pan));
      /** A 200 whose body holds none of the clear numbers. */
      const clean = (res: LightMyRequestResponse, pans: string[], label: string) => {
        assert.equal(res.statusCode, 200, `${label}: ${res.body}`);
        for (const pan of pans) assert.ok(!res.body.includes(pan), `${label}: the clear card number is in ${res.body}`);
        return res.json();
      };
      /** The customer's cards, with the numbers as the PCI client gets them (encryptedCardNumber, under its card-number key). */
      const cardsOf = async (customer: string) => {
        const res = await h.call('GET', '/customer/v3/cards/details?organizationNumber=100', undefined, { headers: { customerNumber: customer } });
        const table = res.json().outputArea.accountTable as Array<{ accountNumber: string; cardNumber: string; encryptedCardNumber: string }>;
        const pans = table.map((c) => clientDecryptPan(c.encryptedCardNumber));
        clean(res, pans, 'customer cards');
        return table.map((c, i) => ({ account: c.accountNumber, shown: c.cardNumber, pan: pans[i]! }));
      };

      test('every card response shows the token or the masked number, never the clear one', async () => {
        const customer = await addCustomer(h);
        for (const logo of [1, 2]) {
          const account = await addAccount(h, customer, 100, logo);
          // Card add (a drawn number, awaiting activation).
          const added = await h.call('POST', '/cards/embosser/l8vf', cardBody(account, { currentCardActivation: 'Y' }));
          const [card] = (await cardsOf(customer)).filter((c) => c.account === account);
          const { pan } = card!;
          const token = await tokenOf(account);
          assert.equal(pan.length, logo === 1 ? 16 : 19);
          assert.equal(card!.shown, shown(pan, token), 'customer cards');
          if (tokens) assert.match(token, /^[0-9A-Z]{19}$/);
          else assert.match(shown(pan, token), logo === 1 ? /^4111x{8}[0-9]{4}$/ : /^5200x{11}[0-9]{4}$/);
          const answers: Array<[string, LightMyRequestResponse, (body: Record<string, any>) => unknown]> = [['card add', added, (b) => b.cardNumber]];
          const call = async (label: string, method: 'POST' | 'PUT', url: string, body: Record<string, unknown>, pick: (b: Record<string, any>) => unknown) => {
            const res = await h.call(method, url, body);
            answers.push([label, res, pick]);
            return clean(res, [pan], label);
          };
          await call('card details', 'POST', '/cards/v2/embosser/details', { organizationNumber: '100', cardNumber: pan.padStart(19, '0'), cardSequence: '1', foreignUse: '0' }, (b) => b.cardNumber);
          await call('activation', 'PUT', '/cards/activation', { organizationNumber: 100, cardNumber: pan, serviceType: 'S' }, (b) => b.cardNumber);
          await call('card action 0', 'PUT', '/cards/embosser/cardAction-L8V2', { organizationNumber: 100, cardNumber: pan, cardAction: 0, randomPin: 0, numberCardsRequested: 0 }, (b) => b.cardNumber);
          const codes = await call('security codes', 'POST', '/cards/pin/security-codes', { organizationNumber: 100, cardNumber: pan, channel: 'W', keyAssociation: 'IYY' }, (b) => b.cardNumber);
          await call('security values V2', 'POST', '/cards/v1/pin/codes', { organizationNumber: 100, cardNumber: pan, channelIndicator: 'A', keyAssociation: 'IYY' }, () => undefined);
          const pin = clientReadPinBlock(codes.pinEncrypt, pan);
          await call('PIN validation', 'POST', '/cards/pin/validation', { organizationNumber: 100, cardNumber: pan, currentPinBlock: clientPinBlock(0, pin, pan), channel: 'I', keyAssociation: 'IYY' }, (b) => b.cardNumber);
          await call('invalid attempts', 'POST', '/cards/pin/invalid-attempts', { organizationNumber: 100, cardNumber: pan }, (b) => b.outputArea.cardNumber);
          const newPin = pin === '4826' ? '5937' : '4826';
          await call('PIN change', 'PUT', '/cards/pin/pin-change', {
            organizationNumber: 100, cardNumber: pan, currPinBlock: clientPinBlock(0, pin, pan), reqdPinBlock: clientPinBlock(0, newPin, pan), channel: 'W', keyAssociationNumber: 'IYY',
          }, (b) => b.cardNumber);
          await call('PIN block', 'PUT', '/cards/pin/status', { organizationNumber: 100, cardNumber: pan, serviceFunctionCode: 'B', channel: 'W' }, (b) => b.cardNumber);
          await call('PIN unblock', 'PUT', '/cards/pin/status', { organizationNumber: 100, cardNumber: pan, serviceFunctionCode: 'U', channel: 'W' }, (b) => b.cardNumber);
          const expiry = (await h.container.storage.db.selectFrom('cards').select('expiry').where('account_number', '=', account).executeTakeFirstOrThrow()).expiry;
          await call('dynamic values', 'POST', '/cards/pin/dynamic-values', { organizationNumber: 100, cardNumber: pan, channel: 'W', keyAssociation: 'IYY', disableDCVV2: 'N' }, (b) => b.cardNumber);
          await call('CVV2 verification', 'POST', '/cards/cvv2/verification', { organizationNumber: 100, cardNumber: pan, expirationDate: expiry, cvv2: '000' }, (b) => b.cardNumber);
          await call('static CVV2 again', 'POST', '/cards/pin/dynamic-values', { organizationNumber: 100, cardNumber: pan, channel: 'W', keyAssociation: 'IYY', disableDCVV2: 'Y' }, (b) => b.cardNumber);
          // A new sequence of the same number: its tracks come under the client's card-number key.
          const plastic = await call('card action 1', 'PUT', '/cards/embosser/cardAction-L8V2', { organizationNumber: 100, cardNumber: pan, cardAction: 1, randomPin: 0, numberCardsRequested: 1 }, (b) => b.cardNumber);
          assert.equal(plastic.cardSequence, 2);
          assert.match(plastic.encryptedTrack2, /^[0-9A-F]{80}$/);

          assert.ok(!added.body.includes(pan), 'card add');
          for (const [label, res, pick] of answers) {
            assert.equal(res.statusCode, 200, `${label}: ${res.body}`);
            const value = pick(res.json());
            if (value !== undefined) assert.equal(value, shown(pan, token), label);
          }
        }
      });

      test('instant card and the mass issue pages show the token or the masked number', async () => {
        const customer = await addCustomer(h);
        const instant = await h.call('POST', '/account/v2/instantCard', {
          organizationNumber: 100, logo: 1, customerNumber: customer, accountCreateFlag: 'Y',
          accountData: { creditLimit: 1500, billingCycle: 5 }, embosserData: { embossedName1: 'ADA LOVELACE', digitalCardFlag: 0 },
        });
        assert.equal(instant.statusCode, 200, instant.body);
        const [card] = await cardsOf(customer);
        clean(instant, [card!.pan], 'instant card');
        assert.equal(instant.json().cardNumber, shown(card!.pan, await tokenOf(card!.account)));

        const massCustomer = await addCustomer(h);
        const submitted = await h.call('POST', '/cards/mass-card-issue-L8V3', { organizationNumber: 100, logo: 1, cardType: 1, functionType: 'A', quantityToCreate: 4, customerNumber: massCustomer });
        assert.equal(submitted.statusCode, 200, submitted.body);
        const request = await h.container.issuance.find(100, 1, 1);
        assert.equal((await h.container.issuance.run(request!.id)).status, 'COMPLETED');
        const mass = await cardsOf(massCustomer);
        assert.equal(mass.length, 4);
        const page = await h.call('GET', '/cards/mass-card-issue-L8V3?organizationNumber=100&logo=1&serviceType=1');
        const out = clean(page, mass.map((c) => c.pan), 'mass issue inquiry').outputArea;
        assert.equal(out.cards.length, 4);
        for (const c of out.cards as Array<{ accountNumber: string; cardNumber: string }>) {
          const m = mass.find((x) => x.account === c.accountNumber)!;
          assert.equal(c.cardNumber, shown(m.pan, await tokenOf(m.account)));
        }
      });

      test('card-pan: the seed call (pan-token.md) as written, with the number the client holds', async () => {
        const customer = await addCustomer(h);
        const account = await addAccount(h, customer);
        const added = await h.call('POST', '/cards/embosser/l8vf', cardBody(account));
        const held = added.json().cardNumber as string;
        const token = await tokenOf(account);
        if (tokens) {
          // The card number the client holds is the token card add gave it.
          assert.equal(held, token);
          const res = await h.call('POST', '/cards/embosser/card-pan-l8v2', { cardSequence: 1, functionType: 'C', organizationNumber: 100, cardNumber: held });
          assert.equal(res.statusCode, 200, res.body);
          const pan = clientDecryptPan(res.json().cardNumber);
          assert.match(pan, /^411111[0-9]{10}$/);
          assert.equal(res.json().panToken, token);
          // The same call with the number encrypted under the client's card-number key, and with the clear number.
          for (const cardNumber of [clientEncryptPan(pan), pan, pan.padStart(19, '0')]) {
            const again = await h.call('POST', '/cards/embosser/card-pan-l8v2', { cardSequence: 1, functionType: 'C', organizationNumber: 100, cardNumber });
            assert.equal(again.statusCode, 200, again.body);
            assert.equal(clientDecryptPan(again.json().cardNumber), pan);
            assert.equal(again.json().panToken, token);
          }
        } else {
          // The client holds the masked number: the number itself comes from customer cards, encrypted.
          const pan = (await cardsOf(customer))[0]!.pan;
          assert.equal(held, masked(pan));
          for (const cardNumber of [clientEncryptPan(pan), pan, pan.padStart(19, '0')]) {
            const ok = await h.call('POST', '/cards/embosser/card-pan-l8v2', { cardSequence: 1, functionType: 'C', organizationNumber: 100, cardNumber });
            assert.equal(ok.statusCode, 200, ok.body);
            assert.equal(clientDecryptPan(ok.json().cardNumber), pan);
            assert.equal(ok.json().panToken, '');
          }
          // A token, or a request for one (P), is refused: the organization has no PAN tokens.
          for (const [cardNumber, functionType] of [[token, 'C'], [clientEncryptPan(pan), 'P'], [pan, 'P']]) {
            const refused = await h.call('POST', '/cards/embosser/card-pan-l8v2', { cardSequence: 1, functionType, organizationNumber: 100, cardNumber });
            assert.equal(refused.statusCode, 422, refused.body);
            assert.equal(refused.json().errors[0].code, 'VPL5SEA16S');
            assert.ok(!refused.body.includes(pan));
          }
        }
      });
    });
  }
}
