import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { backends } from '../helpers/storage.ts';
import { startHarness, addCustomer, addAccount, cardsOnly, panOf, tester, type Harness } from '../helpers/harness.ts';
import { responseProblems } from '../helpers/contract.ts';

const body = (customerNumber: string, extra: Record<string, unknown> = {}, embosser: Record<string, unknown> = {}) => ({
  organizationNumber: 100, logo: 1, customerNumber, accountCreateFlag: 'Y',
  accountData: { creditLimit: 1500, billingCycle: 5, shortName: 'ADA' },
  embosserData: { embossedName1: 'ADA LOVELACE', digitalCardFlag: 0, ...embosser },
  ...extra,
});

for (const backend of backends) {
  describe(`instant card (${backend})`, () => {
    let h: Harness;
    let failBetween = false;
    before(async () => {
      h = await startHarness(backend, { cards: { afterInstantAccount: async () => { if (failBetween) throw new Error('injected failure between account and card'); } } });
    });
    after(async () => { await h.close(); });

    const counts = async () => {
      const db = h.container.storage.db;
      const n = async (t: 'accounts' | 'cards' | 'card_numbers' | 'audit_events') => Number((await db.selectFrom(t).select((e) => e.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
      return { accounts: await n('accounts'), cards: await n('cards'), numbers: await n('card_numbers'), audit: await n('audit_events') };
    };

    test('creates the account and an active card in one step', async () => {
      const customer = await addCustomer(h);
      const res = await h.call('POST', '/account/v2/instantCard', body(customer));
      assert.equal(res.statusCode, 200, res.body);
      const d = res.json();
      assert.deepEqual(responseProblems('instantCard', d), []);
      assert.equal(d.customerNumber, customer);
      assert.match(d.accountNumber, /^[0-9]{19}$/);
      assert.equal(d.creditLimit, 1500);
      assert.equal(d.cardSequenceNumber, 1);
      // The PAN token (for every client); the number through card-pan.
      assert.match(d.cardNumber, /^411111[0-9A-Z]{9}[0-9]{4}$/);
      assert.ok(!res.body.includes(await panOf(h, d.cardNumber)));
      const details = await h.call('POST', '/cards/v2/embosser/details', { organizationNumber: '100', cardNumber: d.cardNumber, cardSequence: '1', foreignUse: '0' });
      assert.equal(details.json().activationRequired, 'N');
      assert.equal(details.json().statusCode, '0');
      assert.equal(details.json().digitalCardIndicator, 0);
      assert.equal(details.json().dateExpire, d.cardExpiryDate);
      const account = await h.call('GET', '/account/v2/accounts', undefined, { headers: { 'organization-number': '100', 'account-number': d.accountNumber } });
      assert.equal(account.json().accountData.creditLimit, 1500);
      assert.equal(account.json().accountData.billingCycle, 5);
      const row = await h.container.storage.db.selectFrom('cards').select(['plastic_status', 'pin_stored']).where('account_number', '=', d.accountNumber).executeTakeFirstOrThrow();
      assert.equal(row.plastic_status, 'PENDING');
      assert.ok(row.pin_stored);
    });

    test('a digital card queues no plastic and needs no embossed name; a non-PCI client gets the token too', async () => {
      const customer = await addCustomer(h);
      const res = await h.call('POST', '/account/v2/instantCard', body(customer, {}, { digitalCardFlag: 1, embossedName1: '' }), { client: cardsOnly });
      assert.equal(res.statusCode, 200, res.body);
      assert.match(res.json().cardNumber, /[A-Z]/);
      const row = await h.container.storage.db.selectFrom('cards').select(['plastic_status', 'digital']).where('pan_token', '=', res.json().cardNumber).executeTakeFirstOrThrow();
      assert.deepEqual(row, { plastic_status: 'NONE', digital: true });
    });

    test('on an existing account (accountCreateFlag N)', async () => {
      const customer = await addCustomer(h);
      const account = await addAccount(h, customer);
      const before = await counts();
      const res = await h.call('POST', '/account/v2/instantCard', body(customer, { accountCreateFlag: 'N', accountData: { accountNumber: account } }));
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json().accountNumber, account);
      const after = await counts();
      assert.equal(after.accounts, before.accounts);
      assert.equal(after.cards, before.cards + 1);
    });

    test('a failure between the account and the card writes leaves nothing behind', async () => {
      const customer = await addCustomer(h);
      const before = await counts();
      failBetween = true;
      try {
        const res = await h.call('POST', '/account/v2/instantCard', body(customer));
        assert.equal(res.statusCode, 500);
        assert.equal(res.json().errors[0].code, 'EMBS01E');
      } finally {
        failBetween = false;
      }
      assert.deepEqual(await counts(), before);
      const owned = await h.container.storage.db.selectFrom('accounts').select('account_number').where('customer_number', '=', customer).execute();
      assert.deepEqual(owned, []);
      // …and the same request id may be retried (5xx responses are not kept).
      const retry = await h.call('POST', '/account/v2/instantCard', body(customer));
      assert.equal(retry.statusCode, 200);
    });

    test('an account with a block code gets no instant card, as card add refuses it (EMBC05E); nothing is written', async () => {
      const customer = await addCustomer(h);
      const account = await addAccount(h, customer);
      const block = await h.call('PUT', '/account/block-code', { organizationNumber: 100, accountNumber: account, foreignUse: '0', functionCode: 'B', blockCode: 'F', blockCodeIndicator: 1 });
      assert.equal(block.statusCode, 200, block.body);
      const cardAdd = await h.call('POST', '/cards/embosser/l8vf', { organizationNumber: 100, postToAccount: account, cardNumber: '', embossedName1: 'ADA LOVELACE' });
      assert.equal(cardAdd.json().errors[0].code, 'EMBC05E');

      const before = await counts();
      // An existing blocked account (accountCreateFlag N)…
      const onExisting = await h.call('POST', '/account/v2/instantCard', body(customer, { accountCreateFlag: 'N', accountData: { accountNumber: account } }));
      assert.equal(onExisting.statusCode, 422, onExisting.body);
      assert.equal(onExisting.json().errors[0].code, 'EMBC05E');
      // …and an account created blocked in the same request (Y with block code 1 or 2).
      for (const blockCodes of [{ blockCode1: 'F' }, { blockCode2: 'F' }]) {
        const created = await h.call('POST', '/account/v2/instantCard', body(customer, { accountData: { creditLimit: 1500, ...blockCodes } }));
        assert.equal(created.statusCode, 422, created.body);
        assert.equal(created.json().errors[0].code, 'EMBC05E');
      }
      assert.deepEqual(await counts(), before);
      const cards = await h.container.storage.db.selectFrom('cards').select('id').where('account_number', '=', account).execute();
      assert.deepEqual(cards, []);
      const owned = await h.container.storage.db.selectFrom('accounts').select('account_number').where('customer_number', '=', customer).execute();
      assert.deepEqual(owned.map((o) => o.account_number), [account]);

      // Unblocked, the same account gets its card.
      await h.call('PUT', '/account/block-code', { organizationNumber: 100, accountNumber: account, foreignUse: '0', functionCode: 'U', blockCode: ' ', blockCodeIndicator: 1 });
      const after = await h.call('POST', '/account/v2/instantCard', body(customer, { accountCreateFlag: 'N', accountData: { accountNumber: account } }));
      assert.equal(after.statusCode, 200, after.body);
    });

    test('what upstream documents is taken: card action flag and same-day type up to their lengths (0 or 1 in meaning), another cardholder, lower-case block codes', async () => {
      const owner = await addCustomer(h);
      const holder = await addCustomer(h);
      // Valid in form (upstream's lengths: 3 and 1 digits), not in meaning: upstream's 422 codes.
      for (const [flags, code] of [[{ cardActionFlag: 537 }, 'VPL5SIC20S'], [{ sameDayProcessingType: 7 }, 'VPL5SIC08S']] as const) {
        const refused = await h.call('POST', '/account/v2/instantCard', body(owner, flags, { customerNumber: holder }));
        assert.equal(refused.statusCode, 422, refused.body);
        assert.equal(refused.json().errors[0].code, code);
      }
      const res = await h.call('POST', '/account/v2/instantCard', body(owner, { cardActionFlag: 1, sameDayProcessingType: 1, firstPurchaseFlag: 'Y' }, { customerNumber: holder }));
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json().customerNumber, owner, 'the account owner');
      const row = await h.container.storage.db.selectFrom('cards').select(['customer_number', 'profile']).where('pan_token', '=', res.json().cardNumber).executeTakeFirstOrThrow();
      assert.equal(row.customer_number, holder, 'the cardholder');
      assert.equal((row.profile as Record<string, unknown>).cardActionFlag, 1);
      // A lower-case block code is the upper-case one: the account is created blocked, so no card.
      const blocked = await h.call('POST', '/account/v2/instantCard', body(owner, { accountData: { blockCode1: 'f' } }));
      assert.equal(blocked.json().errors[0].code, 'EMBC05E', blocked.body);
    });

    test('refusals: upstream codes, nothing written', async () => {
      const customer = await addCustomer(h);
      const account = await addAccount(h, customer);
      const before = await counts();
      const cases: Array<[Record<string, unknown>, string]> = [
        [body(customer, { logo: 9 }), 'VPL5SIC14S'],
        [body('1234567'), 'VPL5SIC13S'],
        [body(customer, { accountCreateFlag: 'X' }), 'VPL5SIC07S'],
        [body(customer, { accountData: { accountNumber: account } }), 'VPL5SIC22S'],
        [body(customer, { accountCreateFlag: 'N', accountData: { accountNumber: '42' } }), 'VPL5SIC17S'],
        [body(customer, {}, { embossedName1: '  ' }), 'VPL5SIC21S'],
        [body(customer, { accountData: { billingCycle: 40 } }), 'VPL5SAA31E'],
        // Valid in form upstream (text of 19, amounts of 17 digits), not in meaning.
        [body('ABC'), 'VPL5SIC05S'],
        [body(''), 'VPL5SIC05S'],
        [body(customer, {}, { customerNumber: 'ABC' }), 'VPL5SIC05S'],
        [body(customer, {}, { customerNumber: '1234567' }), 'VPL5SIC13S'],
        [body(customer, { accountData: { accountNumber: 'ABC' } }), 'VPL5SIC22S'],
        [body(customer, { accountCreateFlag: 'N', accountData: { accountNumber: 'ABC' } }), 'VPL5SIC17S'],
        [body(customer, { accountData: { relationshipNumber: 'ABC' } }), 'EMBT02E'],
        [body(customer, { accountData: { creditLimit: 1e15 } }), 'EMBT03E'],
        [body(customer, {}, { atmCashAmount: 1e15 }), 'EMBC16E'],
        [{ ...body(customer), embosserData: undefined }, 'VPL5SIC21S'],
      ];
      for (const [b, code] of cases) {
        const res = await h.call('POST', '/account/v2/instantCard', b);
        assert.equal(res.statusCode, 422, `${code}: ${res.body}`);
        assert.equal(res.json().errors[0].code, code);
      }
      assert.equal((await h.call('POST', '/account/v2/instantCard', { ...body(customer), embosserData: { embossedName1: 'X' } })).statusCode, 400);
      assert.equal((await h.call('POST', '/account/v2/instantCard', { ...body(customer), organizationNumber: 200 })).statusCode, 403);
      assert.deepEqual(await counts(), before);
      assert.ok(tester);
    });
  });
}
