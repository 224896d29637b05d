import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { backends } from '../helpers/storage.ts';
import {
  startHarness, addCustomer, addAccount, addCard, cardBody, cardsOnly, other, tester, clientEncryptPan, clientDecryptPan, panOf, type Harness,
} from '../helpers/harness.ts';
import { isLuhnValid } from '../../src/crypto/luhn.ts';
import { listAudit } from '../../src/modules/audit/index.ts';
import { problems, responseProblems, type JsonSchema } from '../helpers/contract.ts';

for (const backend of backends) {
  describe(`cards (${backend})`, () => {
    let h: Harness;
    before(async () => { h = await startHarness(backend); });
    after(async () => { await h.close(); });

    const count = async (table: 'cards' | 'card_numbers') => Number((await h.container.storage.db.selectFrom(table).select((e) => e.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
    /** What is wrong with a body against emboss's own OpenAPI document (every property it lists required). */
    const ownProblems = (method: string, path: string, body: unknown) => {
      const doc = h.app.swagger() as unknown as { paths: Record<string, Record<string, { responses: Record<string, { content: Record<string, { schema: JsonSchema }> }> }>> };
      return problems(`emboss ${method} ${path}`, doc.paths[path]![method]!.responses['200']!.content['application/json']!.schema, body);
    };
    const details = (cardNumber: string, client = tester, sequence = '1') =>
      h.call('POST', '/cards/v2/embosser/details', { organizationNumber: '100', cardNumber, cardSequence: sequence, foreignUse: '0' }, { client });

    test('Card Add generates a Luhn-valid number from the logo BIN; every client sees the PAN token, the number comes through card-pan', async () => {
      const customer = await addCustomer(h);
      const account = await addAccount(h, customer);
      const res = await h.call('POST', '/cards/embosser/l8vf', cardBody(account, { embossedName2: 'ANALYTICAL ENGINE', addressLine1: '12 ST JAMES SQ', atmCashAmount: 500 }), { requestId: `card-${account}` });
      assert.equal(res.statusCode, 200, res.body);
      const data = res.json();
      assert.equal(data.organizationNumber, 100);
      assert.equal(data.logo, 1);
      assert.equal(data.accountNumber, account);
      assert.equal(data.cardSequence, 1);
      const token = data.cardNumber;
      assert.equal(token.length, 19);
      assert.match(token, /[A-Z]/);
      const pan = await panOf(h, token);
      assert.match(pan, /^411111[0-9]{10}$/);
      assert.ok(isLuhnValid(pan));
      assert.ok(token.startsWith('411111') && token.endsWith(pan.slice(-4)));
      assert.doesNotMatch(res.body, new RegExp(pan));

      const asOther = await details(pan, cardsOnly);
      assert.equal(asOther.statusCode, 200, asOther.body);
      assert.equal(asOther.json().cardNumber, token);
      assert.doesNotMatch(asOther.body, new RegExp(pan));
      const d = asOther.json();
      assert.equal(d.postToAccount, account);
      assert.equal(d.customerNumber, customer);
      assert.equal(d.embosserName1, 'ADA LOVELACE');
      assert.equal(d.embosserName2, 'ANALYTICAL ENGINE');
      assert.equal(d.addressLine1, '12 ST JAMES SQ');
      assert.equal(d.statusCode, '0');
      assert.equal(d.serviceCode, '201');
      assert.equal(d.activationRequired, 'N');
      assert.equal(d.pinSuppression, 0);

      // The token works wherever a card number does; a PCI client, too, sees the token.
      const byToken = await details(token, tester);
      assert.equal(byToken.json().cardNumber, token);
      assert.doesNotMatch(byToken.body, new RegExp(pan));

      // Stored: encrypted number, PIN as a stored block with a PVV; nothing in clear.
      const row = await h.container.storage.db.selectFrom('cards').innerJoin('card_numbers', 'card_numbers.pan_hash', 'cards.pan_hash').selectAll().where('cards.pan_token', '=', token).executeTakeFirstOrThrow();
      assert.match(row.pin_stored ?? '', /^EMBP1\./);
      assert.match(row.pin_verification ?? '', /^[0-9]{4}$/);
      assert.doesNotMatch(JSON.stringify(row), new RegExp(pan));
      const audit = await listAudit(h.container.storage.db, { requestId: `card-${account}` });
      assert.deepEqual(audit.map((a) => a.action), ['card.add']);
      assert.equal(audit[0]!.entityId, token);
    });

    test('expiry from the logo (48 months is the default here: 36) or the request; service code from the request', async () => {
      const now = h.clock.now();
      const { pan } = await addCard(h);
      const expected = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 36 + 1, 0)).toISOString().slice(0, 10);
      assert.equal((await details(pan)).json().dateExpire, expected);
      const given = await addCard(h, { expirationDate: '2031-07-15', posServiceCode: 101, currentCardActivation: 'Y', pinSuppression: 1 });
      const g = (await details(given.pan)).json();
      assert.equal(g.dateExpire, '2031-07-31');
      assert.equal(g.serviceCode, '101');
      assert.equal(g.activationRequired, 'Y');
      assert.equal(g.pinSuppression, 1);
    });

    test('a 19-digit logo issues 19-digit numbers', async () => {
      const { pan, token } = await addCard(h, {}, 2);
      assert.equal(pan.length, 19);
      assert.ok(pan.startsWith('52000000'));
      assert.ok(token.startsWith('52000000'));
      assert.equal(token.length, 19);
    });

    test('several cards on one account, an additional cardholder with its own customer', async () => {
      const owner = await addCustomer(h);
      const partner = await addCustomer(h);
      const account = await addAccount(h, owner);
      const a = await h.call('POST', '/cards/embosser/l8vf', cardBody(account));
      const b = await h.call('POST', '/cards/embosser/l8vf', cardBody(account, { customerNumber: partner, embossedName1: 'PARTNER' }));
      assert.equal(a.statusCode, 200);
      assert.equal(b.statusCode, 200);
      assert.notEqual(a.json().cardNumber, b.json().cardNumber);
      assert.equal((await details(b.json().cardNumber)).json().customerNumber, partner);
    });

    test('a given card number (migration) must pass Luhn, fit the BIN and length, and be new', async () => {
      const account = await addAccount(h, await addCustomer(h));
      const valid = '4111110000000013';
      assert.ok(isLuhnValid(valid));
      const ok1 = await h.call('POST', '/cards/embosser/l8vf', cardBody(account, { cardNumber: valid }));
      assert.equal(ok1.statusCode, 200, ok1.body);
      assert.match(ok1.json().cardNumber, /^411111[0-9A-Z]{9}0013$/);
      assert.doesNotMatch(ok1.body, new RegExp(valid));
      assert.equal(await panOf(h, ok1.json().cardNumber), valid);
      const before = await count('cards');
      const cases: Array<[string, string]> = [
        [valid, 'EMBC04E'],
        ['4111110000000012', 'EMBC02E'],
        ['4222220000000016', 'EMBC03E'],
        ['41111100000000008', 'EMBC03E'],
      ];
      for (const [cardNumber, code] of cases) {
        const res = await h.call('POST', '/cards/embosser/l8vf', cardBody(account, { cardNumber }));
        assert.equal(res.statusCode, 422, `${cardNumber}: ${res.body}`);
        assert.equal(res.json().errors[0].code, code);
        assert.doesNotMatch(res.body, new RegExp(cardNumber));
      }
      assert.equal(await count('cards'), before);
    });

    test('Card Add refusals: account, customer, organization, blocked account; schema failures', async () => {
      const customer = await addCustomer(h);
      const account = await addAccount(h, customer);
      const before = await count('cards');
      const cases: Array<[Record<string, unknown>, string]> = [
        [cardBody('1234'), 'VPL5SCI11S'],
        [cardBody(account, { customerNumber: '9999' }), 'VPL5SIC13S'],
        [cardBody(account, { expirationDate: '2001-01-01' }), 'EMBC08E'],
        // Valid in form upstream (text of 19, one character, amounts of 17 digits), not in meaning.
        [cardBody('ABC'), 'VPL5SCI11S'],
        [cardBody(account, { customerNumber: 'ABC' }), 'VPL5SIC13S'],
        [cardBody(account, { cardNumber: 'ABC' }), 'EMBC14E'],
        [cardBody(account, { cardNumber: '000001234XXXXX56789' }), 'EMBC14E'],
        [cardBody(account, { cardNumber: '411111ABCDEFGHI1111' }), 'EMBC14E'],
        [cardBody(account, { blockCode: '1' }), 'EMBC15E'],
        [cardBody(account, { blockCode: '*' }), 'EMBC15E'],
        [cardBody(account, { atmCashAmount: 1e15 }), 'EMBC16E'],
        [cardBody(account, { retailPurchaseSingleTransactionLimit: 999999999999999.99 }), 'EMBC16E'],
      ];
      for (const [body, code] of cases) {
        const res = await h.call('POST', '/cards/embosser/l8vf', body);
        assert.equal(res.statusCode, 422, res.body);
        assert.equal(res.json().errors[0].code, code);
      }
      await h.call('PUT', '/account/block-code', { organizationNumber: 100, accountNumber: account, foreignUse: '0', functionCode: 'B', blockCode: 'F', blockCodeIndicator: 1 });
      const blocked = await h.call('POST', '/cards/embosser/l8vf', cardBody(account));
      assert.equal(blocked.json().errors[0].code, 'EMBC05E');
      for (const body of [
        cardBody(account, { embossedName1: 'X'.repeat(27) }),
        cardBody(account, { cardNumber: '4'.repeat(20) }),
        cardBody(account, { blockCode: 'AB' }),
        cardBody(account, { atmCashAmount: 1.000000000000001e15 }),
        cardBody(account, { internetPurchaseAmount: 1e11 }),
        cardBody(account, { pinSuppression: 2 }),
        { organizationNumber: 100, cardNumber: '' },
      ]) {
        const res = await h.call('POST', '/cards/embosser/l8vf', body);
        assert.equal(res.statusCode, 400, JSON.stringify(body));
      }
      assert.equal((await h.call('POST', '/cards/embosser/l8vf', { ...cardBody(account), organizationNumber: 200 })).statusCode, 403);
      assert.equal((await h.call('POST', '/cards/embosser/l8vf', cardBody(account), { signature: 'x' })).statusCode, 401);
      assert.equal(await count('cards'), before);
    });

    test('Card Add takes what upstream documents: a lower-case block code (as upper case), 15-digit amounts, text numbers', async () => {
      const customer = await addCustomer(h);
      const account = await addAccount(h, customer);
      const res = await h.call('POST', '/cards/embosser/l8vf', cardBody(account, {
        blockCode: 'l', atmCashAmount: 999999999999999, internetPurchaseAmount: 99999999999.99, customerNumber: customer,
        cardNumber: '   ', typeOfCard: 12, typeCardMailer: 3, userDate1: '2030-01-31', customUserFields: { falconMark: 'FM', retailPercentageDaily: '15' },
        assignedSpendingLimits: [{ maximumSpendingLimit: 1500.4, spendingTransaction: 3, spendingFrequency: 2 }],
      }));
      assert.equal(res.statusCode, 200, res.body);
      const d = (await details(res.json().cardNumber)).json();
      assert.equal(d.blockCode, 'L');
      assert.equal(d.customerNumber, customer);
      assert.equal(d.authorizationData.automatedTellerMachineCashAutomatedTellerMachine, '999999999999999.00');
      assert.equal(d.internetPurchaseData.purchaseAmount, '99999999999.99');
      assert.equal(d.typeOfCard, 12);
      assert.equal(d.typeCardMailer, '03');
      assert.equal(d.userData.userData1, '2030-01-31');
      assert.equal(d.customUserData.falconMarking, 'FM');
      assert.equal(d.customUserData.retailPercentDaily, 15);
      assert.deepEqual(d.cardInformationData.assignedSpendLimits, { spendingLimit: 1500, transactionAllowed: 3, frequencyCommercialCard: 2 });
    });

    test('card details answer every documented field: the card\'s values, neutral values, real dates', async () => {
      const { pan, token } = await addCard(h, { addressLine1: '12 ST JAMES SQ', retailPurchaseAmt: 250.5, retailPurchaseNumber: 4 });
      const res = await details(pan);
      assert.equal(res.statusCode, 200, res.body);
      const d = res.json();
      assert.deepEqual(responseProblems('cardDetails', d), []);
      assert.deepEqual(ownProblems('post', '/cards/v2/embosser/details', d), []);
      const today = h.clock.now().toISOString().slice(0, 10);
      assert.equal(d.cardNumber, token);
      assert.equal(d.numberCurrentlyDisplayedEmbosserRecord, token);
      assert.equal(d.organizationNumber, '100');
      assert.equal(d.dateStatus, today);
      assert.equal(d.dateLastPlasticIssue, today);
      assert.equal(d.cardActivatedDate, today, 'activated at issue');
      assert.equal(d.fraudEffectiveDate, today, 'no event: the issue date');
      assert.equal(d.currentDateExpirationDate, d.dateExpire);
      assert.equal(d.lastExpirationDate, d.dateExpire, 'no earlier card');
      assert.ok(d.nextExpirationDateOfTheCard > d.dateExpire, 'a renewal\'s expiry');
      assert.equal(d.currentCardActivation, 'N');
      assert.equal(d.typeOfPointOfSale, 201);
      assert.equal(d.numberCardsOutstanding, 1);
      assert.equal(d.embosserRecordReplacement, '');
      assert.equal(d.authorizationData.retailAmount, '250.50');
      assert.equal(d.authorizationData.retailNumber, 4);
      assert.equal(d.authorizationData.overTheCounterAmount, '0.00');
      assert.deepEqual(d.retailAmountData, { today: 0, cycleToDate: 0, yearToDate: 0, lifeToDate: 0 });
      assert.deepEqual(d.travelData, []);
      assert.equal(d.currentPinOffset, 0, 'PIN verification values are not disclosed');
      assert.equal(d.digiCardInd, '0');
      for (const [k, v] of Object.entries(d)) if (/date/i.test(k) && typeof v === 'string' && !/^emb/.test(k)) assert.match(v, /^[0-9]{4}-[0-9]{2}-[0-9]{2}$/, k);

      // A card awaiting activation; a replaced card names its replacement and the date of its block.
      const waiting = await addCard(h, { currentCardActivation: 'Y' });
      const w = (await details(waiting.token)).json();
      assert.deepEqual(responseProblems('cardDetails', w), []);
      assert.equal(w.currentCardActivation, 'Y');
      const lost = await h.call('PUT', '/cards/embosser/cardAction-L8V2', { organizationNumber: 100, cardNumber: token, cardAction: 4, randomPin: 0 });
      assert.equal(lost.statusCode, 200, lost.body);
      const old = (await details(token)).json();
      assert.deepEqual(responseProblems('cardDetails', old), []);
      assert.equal(old.embosserRecordReplacement, lost.json().cardNumber);
      assert.equal(old.blockCode, 'L');
      assert.equal(old.dateBlock, today);
      assert.equal(old.numberCardsOutstanding, 0);
      const fresh = (await details(lost.json().cardNumber)).json();
      assert.equal(fresh.lastExpirationDate, d.dateExpire, 'the replaced card\'s expiry');
    });

    test('PAN token inquiry: the form of cardNumber (encrypted, token, clear, zero-padded) decides, C or P; both come back', async () => {
      const { pan, token, account } = await addCard(h);
      const inputs = [clientEncryptPan(pan), token, token.toLowerCase(), pan, pan.padStart(19, '0')];
      for (const url of ['/cards/embosser/card-pan-l8v2', '/cards/embosser/card-pan']) {
        for (const cardNumber of inputs) {
          for (const functionType of ['C', 'P']) {
            const res = await h.call('POST', url, { organizationNumber: 100, cardNumber, cardSequence: 1, functionType });
            assert.equal(res.statusCode, 200, `${functionType} ${cardNumber}: ${res.body}`);
            const r = res.json();
            assert.equal(r.panToken, token);
            assert.equal(r.accountNumber, account);
            assert.equal(r.logo, 1);
            assert.equal(r.cardSequence, 1);
            assert.match(r.cardNumber, /^[0-9A-F]{32}$/);
            assert.equal(clientDecryptPan(r.cardNumber), pan);
          }
        }
      }
      const audit = await listAudit(h.container.storage.db, { entityType: 'card', entityId: token });
      // One from addCard (the harness reads the number through card-pan).
      assert.equal(audit.filter((a) => a.action === 'card.pan.read').length, 1 + 2 * inputs.length * 2);
    });

    test('concurrent inquiries under one request id: one is recorded, the others replay it; another body is refused', async () => {
      const { token } = await addCard(h);
      const requestId = `inq-race-${token}`;
      const body = { organizationNumber: 100, cardNumber: token, cardSequence: 1, functionType: 'C' };
      // Sent together, they are recorded in one batch statement.
      const results = await Promise.all(Array.from({ length: 6 }, () => h.call('POST', '/cards/embosser/card-pan-l8v2', body, { requestId })));
      assert.deepEqual(results.map((r) => r.statusCode), Array(6).fill(200));
      assert.equal(new Set(results.map((r) => r.body)).size, 1, 'every answer is the recorded one');
      assert.equal(results.filter((r) => r.headers['x-idempotent-replay'] === 'true').length, 5);
      const other = await h.call('POST', '/cards/embosser/card-pan-l8v2', { ...body, cardSequence: 2 }, { requestId });
      assert.equal(other.statusCode, 409);
      const stored = await h.container.storage.db.selectFrom('idempotency_keys').select('request_id').where('request_id', '=', requestId).execute();
      assert.equal(stored.length, 1);
    });

    test('PAN token inquiry refusals', async () => {
      const { pan, token } = await addCard(h);
      // The encrypted number with its first byte changed (one in 256 already starts with 00: CI saw it once).
      const encrypted = clientEncryptPan(pan);
      const tampered = `${encrypted.startsWith('00') ? 'FF' : '00'}${encrypted.slice(2)}`;
      const cases: Array<[Record<string, unknown>, number, string]> = [
        [{ cardNumber: clientEncryptPan('4111111111111111'), functionType: 'P' }, 422, 'VPL5SCI05S'],
        [{ cardNumber: tampered, functionType: 'P' }, 422, ''],
        [{ cardNumber: token.replace(/.{4}$/, '0000'), functionType: 'C' }, 422, 'VPL5SCI05S'],
        [{ cardNumber: 'AB'.repeat(16), functionType: 'C' }, 422, 'VPL5SIE32S'],
        [{ cardNumber: '4111111111111111', functionType: 'C' }, 422, 'VPL5SCI05S'],
        [{ cardNumber: pan.slice(0, 11).padStart(19, '0'), functionType: 'C' }, 422, 'VPL5SCI05S'],
        [{ cardNumber: pan, functionType: 'C', cardSequence: 2 }, 422, 'VPL5SCI05S'],
        [{ cardNumber: '0'.repeat(32), functionType: 'P' }, 422, 'VPL5SEA04E'],
        [{ cardNumber: token, functionType: 'X' }, 400, 'EMBV01E'],
        [{ cardNumber: 'Z'.repeat(40), functionType: 'C' }, 400, 'EMBV01E'],
      ];
      for (const [body, status, code] of cases) {
        const res = await h.call('POST', '/cards/embosser/card-pan-l8v2', { organizationNumber: 100, cardSequence: 1, ...body });
        assert.equal(res.statusCode, status, `${JSON.stringify(body)}: ${res.body}`);
        if (code) assert.equal(res.json().errors[0].code, code);
        assert.doesNotMatch(res.body, new RegExp(pan));
      }
      // Without PCI scope: 403, whatever the body.
      const noPci = await h.call('POST', '/cards/embosser/card-pan-l8v2', { organizationNumber: 100, cardNumber: token, cardSequence: 1, functionType: 'C' }, { client: cardsOnly });
      assert.equal(noPci.statusCode, 403);
      assert.equal(noPci.json().errors[0].code, 'EMBA10E');
      const otherOrg = await h.call('POST', '/cards/embosser/card-pan-l8v2', { organizationNumber: 200, cardNumber: token, cardSequence: 1, functionType: 'C' }, { client: other });
      assert.equal(otherOrg.statusCode, 403);
    });

    test('card details refusals', async () => {
      assert.equal((await details('4111111111111111')).json().errors[0].code, 'VPL5SCI09S');
      assert.equal((await details('411111ABCDEFGHI1111')).json().errors[0].code, 'VPL5SCI09S');
      const { pan } = await addCard(h);
      assert.equal((await details(pan, tester, '2')).json().errors[0].code, 'VPL5SCI09S');
      assert.equal((await h.call('POST', '/cards/v2/embosser/details', { organizationNumber: '200', cardNumber: pan, cardSequence: '1', foreignUse: '0' })).statusCode, 403);
      assert.equal((await h.call('POST', '/cards/v2/embosser/details', { organizationNumber: '100', cardNumber: '41-11', cardSequence: '1', foreignUse: '0' })).statusCode, 400);
      // A card of another organization is not found from this one, even with its exact number.
      const otherCustomer = await addCustomer(h, 200, other);
      const otherAccount = await addAccount(h, otherCustomer, 200, 1, other);
      const otherCard = await h.call('POST', '/cards/embosser/l8vf', { ...cardBody(otherAccount), organizationNumber: 200 }, { client: other });
      const otherToken = otherCard.json().cardNumber;
      assert.equal((await details(otherToken)).json().errors[0].code, 'VPL5SCI09S');
    });

    test('the cards of a customer, by account, with paging', async () => {
      const customer = await addCustomer(h);
      const accounts = [await addAccount(h, customer), await addAccount(h, customer)].sort();
      for (const account of accounts) for (let i = 0; i < 11; i++) assert.equal((await h.call('POST', '/cards/embosser/l8vf', cardBody(account))).statusCode, 200);
      const get = (q: string, client = tester) => h.call('GET', `/customer/v3/cards/details?organizationNumber=100${q}`, undefined, { client, headers: { customerNumber: customer } });
      const first = await get('');
      assert.equal(first.statusCode, 200, first.body);
      const out = first.json().outputArea;
      assert.deepEqual(responseProblems('customerCards', first.json()), []);
      assert.deepEqual(ownProblems('get', '/customer/v3/cards/details', first.json()), []);
      assert.equal(out.accountTable[0].userAccountNumber, '');
      assert.equal(out.accountTable[0].cardBlockCodeDate, '');
      assert.equal(out.accountTable[0].atmCashAmountDaily, 0);
      assert.equal(out.numberOfReturnedItems, 20);
      assert.equal(out.hasMore, 'Y');
      assert.equal(out.customerNumber, customer);
      assert.ok(out.accountTable.every((c: { accountNumber: string }) => accounts.includes(c.accountNumber)));
      // The PAN token for every client; the number only under the client's card-number key.
      for (const c of out.accountTable) {
        assert.match(c.cardNumber, /^411111[0-9A-Z]{9}[0-9]{4}$/);
        assert.match(c.encryptedCardNumber, /^[0-9A-F]{32}$/);
        const pan = clientDecryptPan(c.encryptedCardNumber);
        assert.ok(pan.startsWith('411111') && pan.endsWith(c.cardNumber.slice(-4)));
        assert.equal(await panOf(h, c.cardNumber), pan);
        assert.doesNotMatch(first.body, new RegExp(pan));
      }
      const next = await get(`&functionCode=N&startAccount=${accounts[0]}`);
      assert.equal(next.json().outputArea.numberOfReturnedItems, 11);
      const masked = await get('', cardsOnly);
      assert.deepEqual(masked.json().outputArea.accountTable.map((c: { cardNumber: string }) => c.cardNumber), out.accountTable.map((c: { cardNumber: string }) => c.cardNumber));
      for (const c of masked.json().outputArea.accountTable) assert.equal(c.encryptedCardNumber, '');
      assert.equal((await get('&functionCode=N')).json().errors[0].code, 'VPL5SCE08E');
      const none = await h.call('GET', '/customer/v3/cards/details?organizationNumber=100', undefined, { headers: { customerNumber: await addCustomer(h) } });
      assert.equal(none.json().errors[0].code, 'VPL5SCE07E');
      assert.equal((await h.call('GET', '/customer/v3/cards/details?organizationNumber=200', undefined, { headers: { customerNumber: customer } })).statusCode, 403);
      assert.equal((await h.call('GET', '/customer/v3/cards/details?organizationNumber=100', undefined, {})).statusCode, 400);
    });

    test('card status: changes, refusals, closed is final', async () => {
      const { pan, token } = await addCard(h);
      const put = (cardStatus: number, cardNumber = token) => h.call('PUT', '/cards/status-L8V1', { organizationNumber: 100, cardStatus, cardSequence: 1, cardNumber });
      const changed = await put(2);
      assert.equal(changed.statusCode, 200);
      assert.deepEqual(responseProblems('cardStatus', changed.json()), []);
      assert.equal((await details(pan)).json().statusCode, '2');
      assert.equal((await put(2)).json().errors[0].code, 'VPL5SCS0JE');
      assert.equal((await put(7)).json().errors[0].code, 'VPL5SCS0IE');
      assert.equal((await put(0, pan)).statusCode, 200);
      assert.equal((await put(3)).statusCode, 200);
      assert.equal((await put(0)).json().errors[0].code, 'VPL5SCS0KE');
      assert.equal((await put(1, '4111111111111111')).json().errors[0].code, 'VPL5SCS0BS');
      const audit = await listAudit(h.container.storage.db, { entityType: 'card', entityId: token });
      assert.deepEqual(audit.filter((a) => a.action === 'card.status').map((a) => a.details.to), [2, 0, 3]);
    });

    test('an expired card cannot change status', async () => {
      const { token } = await addCard(h, { expirationDate: new Date(h.clock.now().getTime() + 40 * 86400_000).toISOString().slice(0, 10) });
      h.clock.advance(120 * 86400_000);
      try {
        const res = await h.call('PUT', '/cards/status-L8V1', { organizationNumber: 100, cardStatus: 2, cardNumber: token }, { token: await h.freshToken() });
        assert.equal(res.json().errors[0].code, 'VPL5SCS0LE');
      } finally {
        h.clock.advance(-120 * 86400_000);
      }
    });

    test('activation: a card that needs it gets it, one card or all of an account', async () => {
      const customer = await addCustomer(h);
      const account = await addAccount(h, customer);
      const cards: string[] = [];
      for (let i = 0; i < 3; i++) cards.push((await h.call('POST', '/cards/embosser/l8vf', cardBody(account, { currentCardActivation: 'Y' }))).json().cardNumber);
      const one = await h.call('PUT', '/cards/activation', { organizationNumber: 100, cardNumber: cards[0], serviceType: 'S' });
      assert.equal(one.statusCode, 200, one.body);
      assert.deepEqual(responseProblems('cardActivation', one.json()), []);
      assert.deepEqual(ownProblems('put', '/cards/activation', one.json()), []);
      assert.equal(one.json().numberCardsActivated, 1);
      assert.equal(one.json().foreignOrg, 0);
      assert.equal(one.json().numberForeignCardsActivated, 0);
      assert.equal((await details(cards[0]!)).json().activationRequired, 'N');
      assert.equal((await details(cards[1]!)).json().activationRequired, 'Y');
      const all = await h.call('PUT', '/cards/activation', { organizationNumber: 100, cardNumber: cards[1], serviceType: 'A' });
      assert.equal(all.json().numberCardsActivated, 2);
      assert.equal((await details(cards[2]!)).json().activationRequired, 'N');
      const byAccount = await h.call('PUT', '/cards/activation', { organizationNumber: 100, cardNumber: account, serviceType: 'S' });
      assert.equal(byAccount.json().errors[0].code, 'VPL5SEA04S');
      assert.equal((await h.call('PUT', '/cards/activation', { organizationNumber: 100, cardNumber: account, serviceType: 'A' })).json().numberCardsActivated, 0);
      assert.equal((await h.call('PUT', '/cards/activation', { organizationNumber: 100, cardNumber: cards[0], serviceType: 'X' })).json().errors[0].code, 'VPL5SEA03E');
      assert.equal((await h.call('PUT', '/cards/activation', { organizationNumber: 100, cardNumber: '4111111111111111', serviceType: 'S' })).json().errors[0].code, 'VPL5SEA05S');
    });

    test('account inquiry by card number or token', async () => {
      const { pan, token, account } = await addCard(h);
      for (const card of [pan, token]) {
        const res = await h.call('GET', '/account/v2/accounts', undefined, { headers: { 'organization-number': '100', 'card-number': card } });
        assert.equal(res.statusCode, 200, res.body);
        assert.equal(res.json().accountData.accountNumber, account);
      }
    });
  });
}
