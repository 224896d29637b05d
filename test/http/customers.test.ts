import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { backends } from '../helpers/storage.ts';
import { startHarness, customerBody, addCustomer, addAccount, type Harness } from '../helpers/harness.ts';
import { listAudit } from '../../src/modules/audit/index.ts';

for (const backend of backends) {
  describe(`customers (${backend})`, () => {
    let h: Harness;
    before(async () => { h = await startHarness(backend); });
    after(async () => { await h.close(); });

    const count = async () => Number((await h.container.storage.db.selectFrom('customers').select((e) => e.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);

    test('Customer Add generates a 19-digit number when none is given, and audits it', async () => {
      const res = await h.call('POST', '/customer/l8v2', customerBody(), { requestId: 'cust-add-audit' });
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json();
      assert.equal(body.hasError, undefined, 'success is the bare response object');
      assert.match(body.customerNumber, /^[0-9]{19}$/);
      assert.equal(body.organizationNumber, 100);
      const audit = await listAudit(h.container.storage.db, { requestId: 'cust-add-audit' });
      assert.equal(audit.length, 1);
      assert.equal(audit[0]!.action, 'customer.add');
      assert.equal(audit[0]!.actor, 'tester');
      assert.equal(audit[0]!.entityId, body.customerNumber);
    });

    test('generated numbers are distinct', async () => {
      const numbers = await Promise.all(Array.from({ length: 40 }, () => addCustomer(h)));
      assert.equal(new Set(numbers).size, 40);
    });

    test('a given customer number is kept, zero-padded, and never accepted twice', async () => {
      const given = String(Date.now()).padStart(19, '7').slice(-19);
      const first = await h.call('POST', '/customer/l8v2', customerBody(100, {}, given));
      assert.equal(first.statusCode, 200, first.body);
      assert.equal(first.json().customerNumber, given);
      const before = await count();
      const dup = await h.call('POST', '/customer/l8v2', customerBody(100, {}, given));
      assert.equal(dup.statusCode, 422);
      assert.equal(dup.json().errors[0].code, 'VPL5SAL15E');
      assert.equal(await count(), before);
      const short = await h.call('POST', '/customer/l8v2', customerBody(100, {}, '12345'));
      assert.equal(short.json().customerNumber, '0000000000000012345');
      const zeros = await h.call('POST', '/customer/l8v2', customerBody(100, {}, '0000000000000000000'));
      assert.notEqual(zeros.json().customerNumber, '0000000000000000000');
    });

    test('business rules answer 422 with the upstream codes and write nothing', async () => {
      const before = await count();
      const cases: Array<[unknown, string]> = [
        [customerBody(100, { dateOfBirth: '2199-12-31' }), 'VPL5SGC53E'],
        [customerBody(100, { maritalStatus: '7' }), 'VPL5SGC12E'],
        [customerBody(100, { genderCode: 5 }), 'VPL5SGC40E'],
        [customerBody(100, { statement2Indicator: '9' }), 'VPL5SNA24E'],
        // Upstream types the numbers as text of 19: not digits is a refusal of meaning, not of form.
        [customerBody(100, {}, 'ABC'), 'EMBU01E'],
        [customerBody(100, {}, '12345678901234567X'), 'EMBU01E'],
        [customerBody(100, {}, '12 34'), 'EMBU01E'],
        [withKey(customerBody(100), { accountNumber: '4000A' }), 'EMBU02E'],
      ];
      for (const [body, code] of cases) {
        const res = await h.call('POST', '/customer/l8v2', body);
        assert.equal(res.statusCode, 422, res.body);
        assert.equal(res.json().errors[0].code, code);
      }
      // An organization the client may use but which does not exist.
      const h2missing = await h.container.customers.add({ clientId: 'tester', requestId: 'x' }, customerBody(555) as never).catch((e) => e);
      assert.equal(h2missing.code, 'VPL5SGCZ4S');
      assert.equal(await count(), before);
    });

    test('schema failures are 400: lengths, types, patterns, missing organization', async () => {
      const before = await count();
      const bodies = [
        customerBody(100, { nameLine1: 'X'.repeat(41) }),
        customerBody(100, { email: 'not-an-email' }),
        customerBody(100, { dateOfBirth: '10/12/1985' }),
        customerBody(100, {}, '12345678901234567890'),
        withKey(customerBody(100), { accountNumber: '1'.repeat(20) }),
        { ...customerBody(100), resvData: { reservedCode1: 'X'.repeat(21) } },
        { ...customerBody(100), resvData: { reservedDate1: '2023-02-30' } },
        { ...customerBody(100), resvData: { reservedAmt1: 1e15 + 1 } },
        { customerData: { customerKeyData: {} } },
        { customerData: { customerKeyData: { organizationNumber: 999 } } },
        {},
      ];
      for (const body of bodies) {
        const res = await h.call('POST', '/customer/l8v2', body);
        assert.equal(res.statusCode, 400, JSON.stringify(body));
        assert.equal(res.json().errors[0].code, 'EMBV01E');
      }
      assert.equal(await count(), before);
    });

    test('the answer carries every upstream field: numbers sent, reserved data echoed, neutral values otherwise', async () => {
      const today = h.clock.now().toISOString().slice(0, 10);
      const given = `6${String(Date.now()).slice(-9)}`;
      const plain = await h.call('POST', '/customer/l8v2', withKey(customerBody(100), { customerNumber: ` ${given} `, accountNumber: '77' }));
      assert.equal(plain.statusCode, 200, plain.body);
      const body = plain.json();
      assert.deepEqual(Object.keys(body).sort(), [
        'accountNumber', 'customerNumber', 'foreignCustomerOrganization', 'organizationAssociatedToForeignAccount', 'organizationNumber',
        ...[1, 2, 3, 4, 5].flatMap((n) => [`reservedAmount${n}`, `reservedCode${n}`, `reservedDate${n}`]),
      ].sort());
      assert.equal(body.customerNumber, given.padStart(19, '0'), 'spaces around a given number are dropped');
      assert.equal(body.accountNumber, '0000000000000000077');
      assert.equal(body.organizationAssociatedToForeignAccount, 0);
      assert.equal(body.foreignCustomerOrganization, 0);
      for (const n of [1, 2, 3, 4, 5]) {
        assert.equal(body[`reservedCode${n}`], 0);
        assert.equal(body[`reservedAmount${n}`], 0);
        assert.equal(body[`reservedDate${n}`], today, 'no reserved date sent: the date the customer was added');
      }

      const resvData = { reservedCode1: '17', reservedCode2: 'ABC', reservedCode3: '99999999999', reservedDate2: '2023-02-20', reservedAmt3: 1234.56 };
      const echoed = await h.call('POST', '/customer/l8v2', { ...customerBody(100), resvData });
      assert.equal(echoed.statusCode, 200, echoed.body);
      const e = echoed.json();
      assert.equal(e.accountNumber, '0000000000000000000');
      assert.equal(e.reservedCode1, 17);
      assert.equal(e.reservedCode2, 0, 'a code that is not a whole number cannot be an integer');
      assert.equal(e.reservedCode3, 0, 'nor one past int32');
      assert.equal(e.reservedDate1, today);
      assert.equal(e.reservedDate2, '2023-02-20');
      assert.equal(e.reservedAmount3, 1234.56);
      assert.equal(e.reservedAmount1, 0);
    });

    test('fields emboss does not model are accepted and kept', async () => {
      const res = await h.call('POST', '/customer/l8v2', customerBody(100, { employerName: 'Analytical Engines', user1: 'U1', demographic1: 'D1' }));
      assert.equal(res.statusCode, 200, res.body);
      const number = res.json().customerNumber;
      const inq = await h.call('POST', '/customer/demographicData-l8v2', { organizationNumber: 100, customerAccountCardNumber: number, numberType: '1' });
      assert.equal(inq.statusCode, 200, inq.body);
      const owner = inq.json().nameAddrData[0];
      assert.equal(owner.sequence, 1);
      assert.equal(owner.user1, 'U1');
      assert.equal(owner.demographic1, 'D1');
      assert.equal(owner.nameLine1, 'ADA LOVELACE');
    });

    test('demographic inquiry by customer number or by account number; unknown is 422', async () => {
      const customer = await addCustomer(h);
      const account = await addAccount(h, customer);
      for (const [number, numberType] of [[customer, '1'], [account, '0'], [account, ' ']]) {
        const res = await h.call('POST', '/customer/demographicData-l8v2', { organizationNumber: 100, customerAccountCardNumber: number, numberType });
        assert.equal(res.statusCode, 200, res.body);
        assert.equal(res.json().customerNumber, customer);
        assert.equal(res.json().organizationNumber, 100);
      }
      const unknown = await h.call('POST', '/customer/demographicData-l8v2', { organizationNumber: 100, customerAccountCardNumber: '1234', numberType: '1' });
      assert.equal(unknown.statusCode, 422);
      assert.equal(unknown.json().errors[0].code, 'VPL5SIC13S');
      const badType = await h.call('POST', '/customer/demographicData-l8v2', { organizationNumber: 100, customerAccountCardNumber: customer, numberType: '7' });
      assert.equal(badType.statusCode, 400);
      const reads = await listAudit(h.container.storage.db, { entityType: 'customer', entityId: customer });
      assert.ok(reads.filter((r) => r.action === 'customer.read').length >= 3);
    });

    test('a customer of another organization is not visible', async () => {
      const customer = await addCustomer(h);
      // Client "tester" may not ask for organization 200 at all.
      const res = await h.call('POST', '/customer/demographicData-l8v2', { organizationNumber: 200, customerAccountCardNumber: customer, numberType: '1' });
      assert.equal(res.statusCode, 403);
    });

    test('Customer Update changes the given fields only and records which', async () => {
      const customer = await addCustomer(h);
      const res = await h.call('PUT', '/customer/', {
        organizationNumber: 100, customerNumber: customer, numberType: '1', demographicDataIndicator: '1',
        nameLine1: 'ADA KING', city: 'LONDON', vipStatus: 1, status: 1,
      }, { requestId: `upd-${customer}` });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json().outputArea.customerNumber, customer);
      const inq = await h.call('POST', '/customer/demographicData-l8v2', { organizationNumber: 100, customerAccountCardNumber: customer, numberType: '1' });
      const data = inq.json();
      assert.equal(data.nameAddrData[0].nameLine1, 'ADA KING');
      assert.equal(data.nameAddrData[0].city, 'LONDON');
      assert.equal(data.nameAddrData[0].firstName, 'Ada');
      assert.equal(data.vipStatus, '1');
      assert.equal(data.status, 1);
      const audit = await listAudit(h.container.storage.db, { requestId: `upd-${customer}` });
      assert.equal(audit[0]!.action, 'customer.update');
      assert.deepEqual((audit[0]!.details.fields as string[]).sort(), ['city', 'nameLine1', 'status', 'vipStatus']);
    });

    test('Customer Update refusals', async () => {
      const customer = await addCustomer(h);
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ customerNumber: '4242', numberType: '1' }, 'VPL5SGC04S'],
        [{ customerNumber: '4242', numberType: '0' }, 'VPL5SGC03S'],
        [{ customerNumber: customer, numberType: '1', status: 5 }, 'VPL5SGC09E'],
        [{ customerNumber: customer, numberType: '1', vipStatus: 3 }, 'VPL5SGC10E'],
        [{ customerNumber: customer, numberType: '1', dateOfBirth: '2199-12-31' }, 'VPL5SGC53E'],
        [{ customerNumber: customer, numberType: '1', demographicDataIndicator: '9' }, 'VPL5SGC06E'],
      ];
      for (const [fields, code] of cases) {
        const res = await h.call('PUT', '/customer/', { organizationNumber: 100, ...fields });
        assert.equal(res.statusCode, 422, res.body);
        assert.equal(res.json().errors[0].code, code);
      }
      const inq = await h.call('POST', '/customer/demographicData-l8v2', { organizationNumber: 100, customerAccountCardNumber: customer, numberType: '1' });
      assert.equal(inq.json().status, 0);
    });
  });
}

/** A customer-add body with fields of its customerKeyData replaced. */
function withKey(body: ReturnType<typeof customerBody>, key: Record<string, unknown>) {
  return { customerData: { ...body.customerData, customerKeyData: { ...body.customerData.customerKeyData, ...key } } };
}
