import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { backends } from '../helpers/storage.ts';
import { startHarness, addCustomer, addAccount, other, type Harness } from '../helpers/harness.ts';
import { listAudit } from '../../src/modules/audit/index.ts';

for (const backend of backends) {
  describe(`accounts (${backend})`, () => {
    let h: Harness;
    before(async () => { h = await startHarness(backend); });
    after(async () => { await h.close(); });

    const count = async () => Number((await h.container.storage.db.selectFrom('accounts').select((e) => e.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
    const add = (accountData: Record<string, unknown>, requestId?: string) =>
      h.call('POST', '/account/add-L8V3', { accountData }, requestId ? { requestId } : {});
    const inquire = (headers: Record<string, string>) => h.call('GET', '/account/v2/accounts', undefined, { headers });

    test('Account Add for an existing customer; the inquiry shows what was stored', async () => {
      const customer = await addCustomer(h);
      const res = await add({
        organization: 100, logo: 2, customerNumber: customer, creditLimit: 2500.5, billingCycle: 15,
        shortName: 'ADA', blockCode1: ' ', primaryAccount: 'P', userAccountInfo: 'kept as sent', cardTechnology: 1,
      }, 'acct-add-1');
      assert.equal(res.statusCode, 200, res.body);
      const accountNumber = res.json().accountNumber;
      assert.match(accountNumber, /^[0-9]{19}$/);
      assert.equal(res.json().organization, 100);

      const inq = await inquire({ 'organization-number': '100', 'account-number': accountNumber });
      assert.equal(inq.statusCode, 200, inq.body);
      const a = inq.json().accountData;
      assert.equal(a.logo, 2);
      assert.equal(a.customerNumber, customer);
      assert.equal(a.creditLimit, 2500.5);
      assert.equal(a.billingCycle, 15);
      assert.equal(a.internalStatus, 'A');
      assert.equal(a.blockCode1, '');
      assert.equal(a.dateOpened, h.clock.now().toISOString().slice(0, 10));
      assert.equal(inq.json().currencyCode, 840);
      const audit = await listAudit(h.container.storage.db, { requestId: 'acct-add-1' });
      assert.equal(audit[0]!.action, 'account.add');
      const reads = await listAudit(h.container.storage.db, { entityType: 'account', entityId: accountNumber });
      assert.ok(reads.some((r) => r.action === 'account.read'));
    });

    test('a given account number is kept and cannot be reused', async () => {
      const customer = await addCustomer(h);
      const number = `9${String(Date.now()).padStart(18, '0')}`;
      assert.equal((await add({ organization: 100, logo: 1, customerNumber: customer, accountNumber: number })).json().accountNumber, number);
      const before = await count();
      const dup = await add({ organization: 100, logo: 1, customerNumber: customer, accountNumber: number });
      assert.equal(dup.statusCode, 422);
      assert.equal(dup.json().errors[0].code, 'VPL5SAA14S');
      assert.equal(await count(), before);
    });

    test('Account Add refusals: upstream 422 codes, nothing written', async () => {
      const customer = await addCustomer(h);
      const before = await count();
      const base = { organization: 100, logo: 1, customerNumber: customer };
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ ...base, logo: 77 }, 'VPL5SAA12S'],
        [{ ...base, customerNumber: '' }, 'VPL5SAA19E'],
        [{ ...base, customerNumber: '0000000000000000000' }, 'VPL5SAA19E'],
        [{ ...base, customerNumber: '1234567890123456789' }, 'VPL5SIC13S'],
        [{ ...base, billingAccountType: 7 }, 'VPL5SAA16E'],
        [{ ...base, primaryAccount: 'X' }, 'VPL5SAA17E'],
        [{ ...base, billingCycle: 0 }, 'VPL5SAA1PE'],
        [{ ...base, billingCycle: 32 }, 'VPL5SAA31E'],
        [{ ...base, blockCode1: '9' }, 'VPL5SAA33E'],
        [{ ...base, blockCode2: 'a' }, 'VPL5SAA34E'],
        [{ ...base, customerStatement: 4 }, 'VPL5SAA35E'],
        [{ ...base, customerLetter: 3 }, 'VPL5SAA36E'],
        // Upstream types these as text: not digits is a refusal of meaning, not of form.
        [{ ...base, customerNumber: 'ABC' }, 'VPL5SIC13S'],
        [{ ...base, customerNumber: `${customer.slice(0, 18)}X` }, 'VPL5SIC13S'],
        [{ ...base, accountNumber: 'lzdmexUWuBKuvOz1vhq' }, 'EMBT01E'],
        [{ ...base, relationshipNumber: 'R42' }, 'EMBT02E'],
        [{ ...base, billingCurrency: 'USD' }, 'VPL5SAA21E'],
        [{ ...base, cardExpirationDate: '12/9' }, 'VPL5SAA39E'],
        // The largest credit limit, 999,999,999,999,999.99, reads as the double 1e15: past numeric(17, 2).
        [{ ...base, creditLimit: 999999999999999.99 }, 'EMBT03E'],
        [{ ...base, creditLimit: 1e15 }, 'EMBT03E'],
      ];
      for (const [data, code] of cases) {
        const res = await add(data);
        assert.equal(res.statusCode, 422, `${code}: ${res.body}`);
        assert.equal(res.json().errors[0].code, code);
      }
      assert.equal(await count(), before);
    });

    test('Account Add keeps what upstream documents: 17-digit credit limits, numeric currency, relationship, card expiry', async () => {
      const customer = await addCustomer(h);
      const res = await add({
        organization: 100, logo: 1, customerNumber: customer, creditLimit: 999999999999999.9, billingCurrency: '978',
        relationshipNumber: '42', cardExpirationDate: '1230',
      });
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(Object.keys(res.json()).sort(), ['accountNumber', 'foreignOrganization', 'organization']);
      const inq = await inquire({ 'organization-number': '100', 'account-number': res.json().accountNumber });
      assert.equal(inq.statusCode, 200, inq.body);
      assert.equal(inq.json().accountData.creditLimit, 999999999999999.9);
      assert.equal(inq.json().accountData.relationshipNumber, '0000000000000000042');
      assert.equal(inq.json().accountData.customerNumber, customer);
      assert.equal(inq.json().currencyCode, 978);
      // Blank spellings: spaces are no value (the logo's currency, no relationship, no expiry).
      const blank = await add({ organization: 100, logo: 1, customerNumber: customer, billingCurrency: '   ', relationshipNumber: '   ', cardExpirationDate: '    ', accountNumber: '   ' });
      assert.equal(blank.statusCode, 200, blank.body);
      const b = (await inquire({ 'organization-number': '100', 'account-number': blank.json().accountNumber })).json();
      assert.equal(b.currencyCode, 840);
      assert.equal(b.accountData.relationshipNumber, '');
    });

    test('the customer must belong to the same organization', async () => {
      const otherCustomer = await addCustomer(h, 200, other);
      const res = await h.call('POST', '/account/add-L8V3', { accountData: { organization: 200, logo: 1, customerNumber: otherCustomer } }, { client: other });
      assert.equal(res.statusCode, 200, res.body);
      // The tester client (organization 100) names the other organization's customer in its own organization.
      const cross = await add({ organization: 100, logo: 1, customerNumber: otherCustomer });
      assert.equal(cross.statusCode, 422);
      assert.equal(cross.json().errors[0].code, 'VPL5SIC13S');
      const forbidden = await add({ organization: 200, logo: 1, customerNumber: otherCustomer });
      assert.equal(forbidden.statusCode, 403);
    });

    test('Account Add schema failures are 400', async () => {
      const customer = await addCustomer(h);
      for (const data of [
        { organization: 100, customerNumber: customer },
        { organization: 100, logo: 1, customerNumber: customer, creditLimit: -5 },
        { organization: 100, logo: 1, customerNumber: customer, shortName: 'X'.repeat(21) },
        { organization: 100, logo: 1, customerNumber: '1'.repeat(20) },
        { organization: 100, logo: 1, customerNumber: customer, accountNumber: '1'.repeat(20) },
        { organization: 100, logo: 1, customerNumber: customer, relationshipNumber: '1'.repeat(20) },
        { organization: 100, logo: 1, customerNumber: customer, billingCurrency: '9780' },
        { organization: 100, logo: 1, customerNumber: customer, cardExpirationDate: '12300' },
        { organization: 100, logo: 1, customerNumber: customer, creditLimit: 1e15 + 1 },
        { organization: 100, logo: 1000, customerNumber: customer },
      ]) {
        const res = await add(data);
        assert.equal(res.statusCode, 400, JSON.stringify(data));
        assert.equal(res.json().errors[0].code, 'EMBV01E');
      }
    });

    test('inquiry refusals', async () => {
      assert.equal((await inquire({ 'organization-number': '100', 'account-number': '1' })).json().errors[0].code, 'VPL5SAI09S');
      assert.equal((await inquire({ 'organization-number': '100' })).json().errors[0].code, 'VPL5SAI04E');
      assert.equal((await inquire({ 'organization-number': '200', 'account-number': '1' })).statusCode, 403);
      assert.equal((await inquire({ 'organization-number': 'abc' })).statusCode, 400);
      assert.equal((await inquire({ 'organization-number': '100', 'card-number': '4111111111111111' })).json().errors[0].code, 'VPL5SAI09S');
    });

    test('block and unblock: slots, indicator 0, and refusals', async () => {
      const account = await addAccount(h, await addCustomer(h));
      const put = (body: Record<string, unknown>) => h.call('PUT', '/account/block-code', { organizationNumber: 100, accountNumber: account, foreignUse: '0', ...body });
      let res = await put({ functionCode: 'B', blockCode: 'L', blockCodeIndicator: 0 });
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual([res.json().blockCode1Local, res.json().blockCode2Local], ['L', '']);
      res = await put({ functionCode: 'B', blockCode: 'F', blockCodeIndicator: 0 });
      assert.deepEqual([res.json().blockCode1Local, res.json().blockCode2Local], ['L', 'F']);
      res = await put({ functionCode: 'U', blockCode: ' ', blockCodeIndicator: 1 });
      assert.deepEqual([res.json().blockCode1Local, res.json().blockCode2Local], ['', 'F']);
      const inq = await inquire({ 'organization-number': '100', 'account-number': account });
      assert.deepEqual([inq.json().accountData.blockCode1, inq.json().accountData.blockCode2], ['', 'F']);

      const cases: Array<[Record<string, unknown>, string]> = [
        [{ functionCode: 'X', blockCode: 'A', blockCodeIndicator: 1 }, 'VPL5SAB22E'],
        [{ functionCode: 'B', blockCode: '1', blockCodeIndicator: 1 }, 'VPL5SAB23E'],
        [{ functionCode: 'B', blockCode: ' ', blockCodeIndicator: 1 }, 'VPL5SAB23E'],
        [{ functionCode: 'U', blockCode: 'A', blockCodeIndicator: 1 }, 'VPL5SAB24E'],
        [{ functionCode: 'U', blockCode: ' ', blockCodeIndicator: 0 }, 'VPL5SAB25E'],
        [{ functionCode: 'B', blockCode: 'A', blockCodeIndicator: 3 }, 'VPL5SAB26E'],
        [{ functionCode: 'B', blockCode: 'A', blockCodeIndicator: 1, foreignUse: '7' }, 'VPL5SAB21E'],
        [{ functionCode: 'B', blockCode: 'A', blockCodeIndicator: 1, accountNumber: '42' }, 'VPL5SAI09S'],
      ];
      for (const [body, code] of cases) {
        const r = await put(body);
        assert.equal(r.statusCode, 422, `${code}: ${r.body}`);
        assert.equal(r.json().errors[0].code, code);
      }
      const after = await inquire({ 'organization-number': '100', 'account-number': account });
      assert.deepEqual([after.json().accountData.blockCode1, after.json().accountData.blockCode2], ['', 'F']);
      const audit = await listAudit(h.container.storage.db, { entityType: 'account', entityId: account });
      assert.deepEqual(audit.filter((e) => e.action.startsWith('account.') && e.action !== 'account.read' && e.action !== 'account.add').map((e) => e.action), ['account.block', 'account.block', 'account.unblock']);
    });

    test('concurrent block-code updates on one account both apply', async () => {
      const account = await addAccount(h, await addCustomer(h));
      const [a, b] = await Promise.all([
        h.call('PUT', '/account/block-code', { organizationNumber: 100, accountNumber: account, foreignUse: '0', functionCode: 'B', blockCode: 'A', blockCodeIndicator: 1 }),
        h.call('PUT', '/account/block-code', { organizationNumber: 100, accountNumber: account, foreignUse: '0', functionCode: 'B', blockCode: 'B', blockCodeIndicator: 2 }),
      ]);
      assert.equal(a.statusCode, 200);
      assert.equal(b.statusCode, 200);
      const inq = await inquire({ 'organization-number': '100', 'account-number': account });
      assert.deepEqual([inq.json().accountData.blockCode1, inq.json().accountData.blockCode2], ['A', 'B']);
    });

    test('accounts of a customer, 20 at a time, forwards and back', async () => {
      const customer = await addCustomer(h);
      const created: string[] = [];
      for (let i = 0; i < 23; i++) created.push(await addAccount(h, customer, 100, 1 + (i % 2)));
      created.sort();
      const list = (body: Record<string, unknown>) => h.call('POST', '/customer/accountNumber', { organizationNumber: 100, customerNumber: customer, ...body });
      const first = (await list({})).json();
      assert.equal(first.numberOfOccurrences, 20);
      assert.equal(first.more, 'Y');
      assert.deepEqual(first.acctTable.map((a: { accountNumber: string }) => a.accountNumber), created.slice(0, 20));
      assert.equal(first.acctTable[0].organizationName, 'Test Bank');
      assert.ok(['Test Classic', 'Test Gold'].includes(first.acctTable[0].logoDescription));
      const next = (await list({ functionCode: 'N', startToken: { accountNumber: first.nextToken.accountNumberNext } })).json();
      assert.equal(next.more, 'N');
      assert.deepEqual(next.acctTable.map((a: { accountNumber: string }) => a.accountNumber), created.slice(20));
      const prev = (await list({ functionCode: 'P', startToken: { accountNumber: next.prevToken.accountNumberPrev } })).json();
      assert.deepEqual(prev.acctTable.map((a: { accountNumber: string }) => a.accountNumber), created.slice(0, 20));

      assert.equal((await list({ functionCode: 'Z' })).json().errors[0].code, 'VPL5SCA09E');
      assert.equal((await list({ functionCode: 'N' })).json().errors[0].code, 'VPL5SCA08E');
      assert.equal((await h.call('POST', '/customer/accountNumber', { organizationNumber: 100, customerNumber: '99' })).json().errors[0].code, 'VPL5SCA07E');
    });
  });
}
