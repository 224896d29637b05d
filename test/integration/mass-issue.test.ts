import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { backends } from '../helpers/storage.ts';
import { startHarness, addCustomer, cardsOnly, panOf, testBootstrap, type Harness } from '../helpers/harness.ts';
import { isLuhnValid } from '../../src/crypto/luhn.ts';
import { waitFor } from '../helpers/wait.ts';
import { TEST_NODE_FLAGS } from '../helpers/emboss-server.ts';
import { responseProblems } from '../helpers/contract.ts';
import { sql } from 'kysely';

const MASTER_KEY = randomBytes(32).toString('hex');

/**
 * A mass request's bureau files (of every request when none is named): each mass card has one
 * record, in one of the files; each file holds the records it expected and is written.
 */
async function assertMassFiles(h: Harness, expect: { requestId?: string; records: number; files: number }) {
  const db = h.container.storage.db;
  let files = db.selectFrom('personalization_files').selectAll().where('mass_request_id', 'is not', null);
  if (expect.requestId) files = files.where('mass_request_id', '=', expect.requestId);
  const rows = await files.orderBy('mass_first').execute();
  assert.equal(rows.length, expect.files);
  const held = await db.selectFrom('personalization_records').select(['file_id', (e) => e.fn.countAll().as('n')])
    .where('file_id', 'in', rows.map((f) => f.id)).groupBy('file_id').execute();
  const byFile = new Map(held.map((r) => [String(r.file_id), Number(r.n)]));
  for (const f of rows) {
    assert.equal(f.status, 'WRITTEN', `file ${f.mass_first}-${f.mass_last}`);
    assert.equal(f.record_count, f.expected_records);
    assert.equal(byFile.get(String(f.id)), f.record_count);
  }
  assert.equal(rows.reduce((n, f) => n + f.record_count, 0), expect.records);
  let cards = db.selectFrom('cards').leftJoin('personalization_records', 'personalization_records.card_id', 'cards.id')
    .select([(e) => e.fn.count('cards.id').distinct().as('cards'), (e) => e.fn.count('personalization_records.id').as('records')])
    .where('cards.mass_request_id', 'is not', null);
  if (expect.requestId) cards = cards.where('cards.mass_request_id', '=', expect.requestId);
  const c = await cards.executeTakeFirstOrThrow();
  assert.deepEqual([Number(c.cards), Number(c.records)], [expect.records, expect.records]);
}


for (const backend of backends) {
  describe(`mass card issue (${backend})`, () => {
    let h: Harness;
    let folder: string;
    before(async () => {
      folder = mkdtempSync(join(tmpdir(), 'emboss-mass-'));
      h = await startHarness(backend, { jobs: true, settings: { EMBOSS_PERSONALIZATION_DIR: folder, EMBOSS_MASTER_KEY: MASTER_KEY } });
    });
    after(async () => { await h.close(); rmSync(folder, { recursive: true, force: true }); });

    const body = (customerNumber: string, extra: Record<string, unknown> = {}) => ({
      organizationNumber: 100, logo: 1, cardType: 1, functionType: 'A', quantityToCreate: 10_000, customerNumber, creditLimit: 250, ...extra,
    });
    const inquiry = (q = '') => h.call('GET', `/cards/mass-card-issue-L8V3?organizationNumber=100&logo=1&serviceType=1${q}`);

    test('10,000 unnamed cards end to end: the job creates them, the inquiry pages through them', async () => {
      const customer = await addCustomer(h);
      const res = await h.call('POST', '/cards/mass-card-issue-L8V3', body(customer));
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json().outputArea.quantityToCreate, 10_000);
      assert.equal(res.json().outputArea.progress.total, 10_000);
      assert.deepEqual(responseProblems('massIssue', res.json()), [], 'every documented field of the answer');

      const done = await waitFor('the batch', async () => {
        const r = await inquiry();
        return r.json().outputArea.progress.status === 'COMPLETED' ? r.json().outputArea : undefined;
      }, 300_000);
      assert.equal(done.totalCardsCount, 10_000);
      assert.equal(done.progress.done, 10_000);
      assert.equal(done.progress.etaSeconds, 0);
      assert.equal(done.hasMoreRecords, true);
      assert.equal(done.cards.length, 50);
      assert.deepEqual(responseProblems('massIssueInquiry', { outputArea: done }), [], 'every documented field of the inquiry, of every card');
      assert.deepEqual(done.cards.map((c: { sequence: number }) => c.sequence), Array.from({ length: 50 }, (_, i) => i + 1));
      // PAN tokens (for every client); the numbers through card-pan.
      assert.ok(done.cards.every((c: { cardNumber: string }) => /^411111[0-9A-Z]{9}[0-9]{4}$/.test(c.cardNumber)));
      for (const c of done.cards.slice(0, 5)) assert.ok(isLuhnValid(await panOf(h, c.cardNumber)));
      const last = (await inquiry('&page=40&pageSize=250')).json().outputArea;
      assert.equal(last.hasMoreRecords, false);
      assert.equal(last.cards.at(-1).sequence, 10_000);
      const masked = await h.call('GET', '/cards/mass-card-issue-L8V3?organizationNumber=100&logo=1&serviceType=1', undefined, { client: cardsOnly });
      assert.equal(masked.json().outputArea.cards[0].cardNumber, done.cards[0].cardNumber);

      const db = h.container.storage.db;
      const stats = await db.selectFrom('cards').select((e) => [
        e.fn.count('id').as('cards'), e.fn.count('pan_hash').distinct().as('numbers'), e.fn.count('account_number').distinct().as('accounts'),
        e.fn.min('mass_seq').as('first'), e.fn.max('mass_seq').as('last'),
      ]).where('mass_request_id', 'is not', null).executeTakeFirstOrThrow();
      assert.deepEqual(Object.fromEntries(Object.entries(stats).map(([k, v]) => [k, Number(v)])), { cards: 10_000, numbers: 10_000, accounts: 10_000, first: 1, last: 10_000 });
      const records = await db.selectFrom('personalization_records').select((e) => e.fn.countAll().as('n')).where('reason', 'like', 'mass.%').executeTakeFirstOrThrow();
      assert.equal(Number(records.n), 10_000);
      const files = await waitFor('the bureau files', async () => {
        const f = await h.container.personalization.files();
        const n = f.filter((x) => x.status === 'WRITTEN').reduce((a, x) => a + x.record_count, 0);
        return n >= 10_000 ? f : undefined;
      }, 180_000);
      assert.ok(files.length >= 1);
      await assertMassFiles(h, { records: 10_000, files: 1 });
    });

    test('refusals: duplicate add, modify of a missing or running request, bad customer, past expiry, other organization', async () => {
      const customer = await addCustomer(h);
      const cases: Array<[Record<string, unknown>, string]> = [
        [body(customer), 'VPL5SMC04S'],
        [body(customer, { cardType: 9, functionType: 'M' }), 'VPL5SMC05S'],
        [body(customer, { cardType: 2, functionType: 'X' }), 'VPL5SMC06E'],
        [body('0', { cardType: 2 }), 'VPL5SMC28E'],
        [body('77', { cardType: 2 }), 'VPL5SIC13S'],
        [body(customer, { cardType: 2, expiryDate: '2001-01-01' }), 'VPL5SMC29E'],
        [body(customer, { cardType: 2, logo: 77 }), 'VPL5SMC02S'],
      ];
      for (const [b, code] of cases) {
        const res = await h.call('POST', '/cards/mass-card-issue-L8V3', b);
        assert.equal(res.statusCode, 422, `${code}: ${res.body}`);
        assert.equal(res.json().errors[0].code, code);
      }
      assert.equal((await h.call('POST', '/cards/mass-card-issue-L8V3', body(customer, { organizationNumber: 200 }))).statusCode, 403);
      // A request that is running cannot be modified.
      await h.container.storage.db.updateTable('mass_issue_requests').set({ status: 'RUNNING' }).where('card_type', '=', 1).execute();
      try {
        const running = await h.call('POST', '/cards/mass-card-issue-L8V3', body(customer, { functionType: 'M', quantityToCreate: 20_000 }));
        assert.equal(running.statusCode, 422);
        assert.equal(running.json().errors[0].code, 'EMBM01E');
      } finally {
        await h.container.storage.db.updateTable('mass_issue_requests').set({ status: 'COMPLETED' }).where('card_type', '=', 1).execute();
      }
      const lower = await h.call('POST', '/cards/mass-card-issue-L8V3', body(customer, { functionType: 'M', quantityToCreate: 5 }));
      assert.equal(lower.json().errors[0].code, 'EMBM02E');
      assert.equal((await h.call('GET', '/cards/mass-card-issue-L8V3?organizationNumber=100&logo=1&serviceType=42')).json().errors[0].code, 'VPL5SQC04S');
    });

    test('every upstream field: taken in upstream\'s form, recorded and answered back; the inquiry\'s cards carry every documented field', async () => {
      const customer = await addCustomer(h);
      const expiry = `${h.clock.now().getUTCFullYear() + 3}-05-31`;
      const sent = {
        organizationNumber: 100, logo: 1, functionType: 'A', status: 9, bankOrigin: 123456789, branch: 42, minimumQuantity: 1, quantityToCreate: 3,
        creditLimit: 1500, blockCode1: 'a', blockCode2: '', embosserCode: 'E', pctId: 'P1', relationAMBS: 'S', prepaidCardFlag: 1, promoCode: 'PRO ',
        scheme: 3, userCode1: 1, userCode2: 0, userCode3: 1, customerNumber: customer.padStart(19, '0'), expiryDate: expiry, inventoryControl: 'SO',
        inventoryQuantity: 99999, prepaidPlanNumber: 60000, globalQualification: '2', emblem: 7, embossedName1: 'MASS ONE', embossedName2: 'BANK',
        relationshipNumber: '', userData1: 'user data 1', userData2: '', plasticID: 'PLASTIC-01', posServiceCode: '1', cardTechnology: 'C',
      };
      const res = await h.call('POST', '/cards/mass-card-issue-L8V3', sent);
      assert.equal(res.statusCode, 200, res.body);
      const out = res.json().outputArea;
      assert.deepEqual(responseProblems('massIssue', res.json()), []);
      // No cardType: card type 0. The service code as card add takes it: zero-padded to 3.
      const { posServiceCode, ...echoed } = sent;
      for (const [k, v] of Object.entries(echoed)) if (k !== 'functionType') assert.deepEqual(out[k], v, k);
      assert.deepEqual([out.cardType, out.posServiceCode, out.addStatus, out.dateLastMaintain], [0, '001', 0, h.clock.now().toISOString().slice(0, 10)]);
      assert.equal(posServiceCode, '1');
      const done = await waitFor('the request', async () => {
        const r = await h.call('GET', '/cards/mass-card-issue-L8V3?organizationNumber=100&logo=1&serviceType=0');
        return r.json().outputArea.progress.status === 'COMPLETED' ? r.json().outputArea : undefined;
      }, 60_000);
      assert.deepEqual(responseProblems('massIssueInquiry', { outputArea: done }), []);
      assert.equal(done.cards.length, 3);
      const [card] = done.cards;
      assert.deepEqual(
        [card.cycleDueAmount, card.totalDueAmount, card.memoDebitAmount, card.memoCreditAmount, card.usedBalanceAmount, card.availableCreditLimitAmount],
        [0, 0, 0, 0, 0, 1500],
      );
      assert.match(card.paymentDate, /^\d{4}-\d{2}-\d{2}$/);
      assert.deepEqual(card.accountBlockCodes, [{ key: '1', value: '' }, { key: '2', value: '' }]);
      assert.deepEqual([card.userAmounts.length, card.userDates.length, card.userCodes.length], [5, 5, 10]);
      const db = h.container.storage.db;
      const made = await db.selectFrom('cards').select(['service_code', 'embossed_name_1']).where('mass_request_id', '=', (await h.container.issuance.find(100, 1, 0))!.id).execute();
      assert.deepEqual([...new Set(made.map((c) => `${c.service_code} ${c.embossed_name_1}`))], ['001 MASS ONE']);
      // Modified (M): the answer is the request as modified.
      const modified = await h.call('POST', '/cards/mass-card-issue-L8V3', { ...sent, functionType: 'M', quantityToCreate: 4, status: 1, blockCode1: '', posServiceCode: '' });
      assert.equal(modified.statusCode, 200, modified.body);
      assert.deepEqual([modified.json().outputArea.status, modified.json().outputArea.blockCode1, modified.json().outputArea.posServiceCode], [1, '', '']);
    });

    test('values valid in upstream\'s form but not in meaning: 422 with upstream\'s code (or emboss\'s), nothing recorded', async () => {
      const customer = await addCustomer(h);
      const valid = { organizationNumber: 100, logo: 1, cardType: 61, functionType: 'A', quantityToCreate: 2, customerNumber: customer };
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ organizationNumber: 0 }, 'VPL5SMC01E'], [{ organizationNumber: 999 }, 'VPL5SMC01E'], [{ organizationNumber: undefined }, 'VPL5SMC01E'],
        [{ logo: 0 }, 'VPL5SMC04E'], [{ logo: 999 }, 'VPL5SMC04E'], [{ logo: undefined }, 'VPL5SMC04E'],
        [{ functionType: '' }, 'VPL5SMC06E'], [{ functionType: 'a' }, 'VPL5SMC06E'],
        [{ status: 0 }, 'VPL5SMC07E'], [{ status: 50 }, 'VPL5SMC07E'], [{ status: 99 }, 'VPL5SMC07E'],
        [{ quantityToCreate: 0 }, 'EMBM03E'],
        [{ blockCode1: '1' }, 'VPL5SMC13E'], [{ blockCode2: '#' }, 'VPL5SMC14E'], [{ embosserCode: '9' }, 'VPL5SMC15E'],
        [{ relationAMBS: 'X' }, 'VPL5SMC16E'], [{ prepaidCardFlag: 2 }, 'VPL5SMC17E'], [{ promoCode: 'AB1' }, 'VPL5SMC19E'],
        [{ scheme: 4 }, 'VPL5SMC20E'], [{ userCode1: 2 }, 'VPL5SMC22E'], [{ userCode2: 5 }, 'VPL5SMC24E'], [{ userCode3: 9 }, 'VPL5SMC26E'],
        [{ customerNumber: '                   ' }, 'VPL5SMC28E'], [{ customerNumber: 'ABCDEFGHIJKLMNOPQRS' }, 'VPL5SIC13S'],
        [{ expiryDate: `${h.clock.now().getUTCFullYear() + 25}-01-31` }, 'EMBM04E'],
        [{ globalQualification: '3' }, 'VPL5SMC37E'], [{ posServiceCode: 'AB' }, 'VPL5SMC41E'], [{ posServiceCode: '1 2' }, 'VPL5SMC41E'],
      ];
      const requests = async () => Number((await h.container.storage.db.selectFrom('mass_issue_requests').select((e) => e.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
      const before = await requests();
      for (const [extra, code] of cases) {
        const res = await h.call('POST', '/cards/mass-card-issue-L8V3', { ...valid, ...extra });
        assert.equal(res.statusCode, 422, `${JSON.stringify(extra)}: ${res.body}`);
        assert.equal(res.json().errors[0].code, code, JSON.stringify(extra));
      }
      // Outside upstream's form (its documented value lists and lengths): 400.
      for (const extra of [{ inventoryControl: 'XX' }, { status: 100 }, { posServiceCode: '1234' }, { blockCode1: 'AB' }, { customerNumber: '1'.repeat(20) }, { cardType: 100 }]) {
        const res = await h.call('POST', '/cards/mass-card-issue-L8V3', { ...valid, ...extra });
        assert.equal(res.statusCode, 400, `${JSON.stringify(extra)}: ${res.body}`);
      }
      assert.equal(await requests(), before, 'nothing recorded');
      for (const [q, code] of [['organizationNumber=0&logo=1', 'VPL5SQC01E'], ['organizationNumber=999&logo=1', 'VPL5SQC01E'], ['organizationNumber=100&logo=0', 'VPL5SQC04E']]) {
        const res = await h.call('GET', `/cards/mass-card-issue-L8V3?${q}&serviceType=1`);
        assert.equal(res.statusCode, 422, res.body);
        assert.equal(res.json().errors[0].code, code);
      }
      const fine = await h.call('POST', '/cards/mass-card-issue-L8V3', valid);
      assert.equal(fine.statusCode, 200, fine.body);
      assert.deepEqual(responseProblems('massIssue', fine.json()), []);
    });

    test('a request is saved with its job and its answer, or not at all (a failed queue or answer keeps nothing)', async () => {
      const customer = await addCustomer(h);
      const db = h.container.storage.db;
      const jobs = async () => Number((await sql<{ n: string }>`select count(*) as n from ${sql.table(`${h.store.jobSchema}.job`)} where name = 'emboss.mass-issue'`.execute(db)).rows[0]!.n);
      const requests = async () => Number((await db.selectFrom('mass_issue_requests').select((e) => e.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
      const before = { jobs: await jobs(), requests: await requests() };
      const cannotAnswer = { clientId: 'tester', requestId: 'mass-no-answer', answer: async () => { throw new Error('the response cannot be serialised'); } };
      await assert.rejects(h.container.issuance.submit(cannotAnswer, { ...body(customer, { cardType: 7, quantityToCreate: 3 }) } as never), /cannot be serialised/);
      assert.deepEqual({ jobs: await jobs(), requests: await requests() }, before, 'neither the request nor its job');
      // The queue fails after the request's own statements: the request is not kept without its job.
      // The queue the container handed the service (its `enqueue` dependency), made to fail.
      const issuance = (h.container.issuance as unknown as { deps: { enqueue: (id: string, trx: unknown) => Promise<void> } }).deps;
      const enqueue = issuance.enqueue;
      assert.equal(typeof enqueue, 'function', 'a process with a job queue gives the service its enqueue');
      issuance.enqueue = async () => { throw new Error('the queue failed'); };
      try {
        const failed = await h.call('POST', '/cards/mass-card-issue-L8V3', body(customer, { cardType: 7, quantityToCreate: 3 }));
        assert.equal(failed.statusCode, 500);
      } finally {
        issuance.enqueue = enqueue;
      }
      assert.deepEqual({ jobs: await jobs(), requests: await requests() }, before, 'neither the request nor its job');
      const saved = await h.call('POST', '/cards/mass-card-issue-L8V3', body(customer, { cardType: 7, quantityToCreate: 3 }));
      assert.equal(saved.statusCode, 200, saved.body);
      assert.deepEqual({ jobs: await jobs(), requests: await requests() }, { jobs: before.jobs + 1, requests: before.requests + 1 });
    });

    if (backend === 'postgres') {
      test('a worker killed in the middle of a batch, started again, ends with exactly the requested cards', async () => {
        const customer = await addCustomer(h);
        const dir = mkdtempSync(join(tmpdir(), 'emboss-kill-'));
        const config = join(dir, 'bootstrap.yaml');
        writeFileSync(config, testBootstrap);
        const url = new URL(process.env.TEST_DATABASE_URL!);
        url.searchParams.set('options', `-c search_path=${h.store.storage.postgres!.schema}`);
        const run = () => spawn(process.execPath, [...TEST_NODE_FLAGS, '--import', 'tsx', 'src/main.ts', 'issue-batch', '--org', '100', '--logo', '1', '--card-type', '5',
          '--quantity', '6000', '--customer', customer, '--chunk', '250', '--records-per-file', '1000'], {
          env: { ...process.env, DATABASE_URL: url.toString(), EMBOSS_CONFIG: config, EMBOSS_MASTER_KEY: MASTER_KEY, EMBOSS_DATA_DIR: dir, EMBOSS_PERSONALIZATION_DIR: folder, LOG_LEVEL: 'warn' },
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        const created = async () => Number((await h.container.storage.db.selectFrom('mass_issue_requests').select('created').where('card_type', '=', 5).executeTakeFirst())?.created ?? 0);
        try {
          const first = run();
          await waitFor('a first chunk', async () => ((await created()) >= 500 ? true : undefined), 120_000);
          first.kill('SIGKILL');
          await new Promise((r) => first.once('exit', r));
          const atKill = await created();
          assert.ok(atKill > 0 && atKill < 6000, `killed at ${atKill}`);
          const second = run();
          let stderr = '';
          second.stderr!.on('data', (d) => { stderr += d; });
          const code = await new Promise((r) => second.once('exit', r));
          assert.equal(code, 0, stderr);
          const db = h.container.storage.db;
          const request = await db.selectFrom('mass_issue_requests').selectAll().where('card_type', '=', 5).executeTakeFirstOrThrow();
          assert.equal(request.status, 'COMPLETED');
          assert.equal(request.created, 6000);
          const stats = await db.selectFrom('cards').select((e) => [
            e.fn.count('id').as('cards'), e.fn.count('pan_hash').distinct().as('numbers'), e.fn.count('mass_seq').distinct().as('positions'),
            e.fn.min('mass_seq').as('first'), e.fn.max('mass_seq').as('last'),
          ]).where('mass_request_id', '=', request.id).executeTakeFirstOrThrow();
          assert.deepEqual(Object.fromEntries(Object.entries(stats).map(([k, v]) => [k, Number(v)])), { cards: 6000, numbers: 6000, positions: 6000, first: 1, last: 6000 });
          const accounts = await db.selectFrom('accounts').select((e) => e.fn.countAll().as('n')).where('customer_number', '=', customer).executeTakeFirstOrThrow();
          assert.equal(Number(accounts.n), 6000);
          // Each card's record in exactly one of the request's files, each file whole and written.
          await assertMassFiles(h, { requestId: request.id, records: 6000, files: 6 });
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      });
    }
  });
}

for (const backend of backends) {
  describe(`mass issue bureau files when a stopped request is made smaller (${backend})`, () => {
    let h: Harness;
    let folder: string;
    before(async () => {
      folder = mkdtempSync(join(tmpdir(), 'emboss-mass-files-'));
      h = await startHarness(backend, { settings: { EMBOSS_PERSONALIZATION_DIR: folder, EMBOSS_MASTER_KEY: MASTER_KEY } });
    });
    after(async () => { await h.close(); rmSync(folder, { recursive: true, force: true }); });

    test('its files end at the new quantity, expect only what is left to make, and are written whole', async () => {
      const customer = await addCustomer(h);
      const actor = { clientId: 'test', requestId: 'mass-files' };
      const request = { organizationNumber: 100, logo: 1, cardType: 3, customerNumber: customer, quantityToCreate: 2500 };
      await h.container.issuance.submit(actor, { ...request, functionType: 'A' });
      const id = (await h.container.issuance.find(100, 1, 3))!.id;
      // A run that stops after 1,000 cards (its process died): files of 1,000 positions were planned for all 2,500.
      const stop = new Error('stopped');
      await assert.rejects(h.container.issuance.run(id, {
        chunk: 250, parallel: 1, recordsPerFile: 1000, onProgress: (p) => { if (p.done >= 1000 && p.status === 'RUNNING') throw stop; },
      }), stop);
      const db = h.container.storage.db;
      await db.updateTable('mass_issue_requests').set({ status: 'FAILED' }).where('id', '=', id).execute();
      const planned = await db.selectFrom('personalization_files').select(['mass_first', 'mass_last', 'expected_records', 'record_count', 'status'])
        .where('mass_request_id', '=', id).orderBy('mass_first').execute();
      assert.deepEqual(planned, [
        { mass_first: 1, mass_last: 1000, expected_records: 1000, record_count: 1000, status: 'FILLING' },
        { mass_first: 1001, mass_last: 2000, expected_records: 1000, record_count: 0, status: 'FILLING' },
        { mass_first: 2001, mass_last: 2500, expected_records: 500, record_count: 0, status: 'FILLING' },
      ]);
      // Below the cards made: refused. To 1,200: the full file is closed, the next one ends at 1,200, the last one goes.
      await assert.rejects(h.container.issuance.submit(actor, { ...request, functionType: 'M', quantityToCreate: 999 }), (e: unknown) => (e as { code?: string }).code === 'EMBM02E');
      await h.container.issuance.submit(actor, { ...request, functionType: 'M', quantityToCreate: 1200 });
      const capped = await db.selectFrom('personalization_files').select(['mass_first', 'mass_last', 'expected_records', 'record_count', 'status'])
        .where('mass_request_id', '=', id).orderBy('mass_first').execute();
      assert.deepEqual(capped, [
        { mass_first: 1, mass_last: 1000, expected_records: 1000, record_count: 1000, status: 'PLANNED' },
        { mass_first: 1001, mass_last: 1200, expected_records: 200, record_count: 0, status: 'FILLING' },
      ]);
      const done = await h.container.issuance.run(id, { chunk: 250, recordsPerFile: 1000 });
      assert.equal(done.done, 1200);
      await h.container.personalization.flush();
      await assertMassFiles(h, { requestId: id, records: 1200, files: 2 });
    });

    if (backend === 'postgres') {
      test('a run that starts while a modify is being committed works to the modified quantity', async () => {
        const customer = await addCustomer(h);
        const actor = { clientId: 'test', requestId: 'mass-race' };
        await h.container.issuance.submit(actor, { organizationNumber: 100, logo: 1, cardType: 4, customerNumber: customer, quantityToCreate: 300, functionType: 'A' });
        const id = (await h.container.issuance.find(100, 1, 4))!.id;
        const db = h.container.storage.db;
        let commit: () => void = () => {};
        let run: Promise<unknown> | undefined;
        // The modify holds the request's row (as submit does) while the run reads the request and reaches it.
        await db.transaction().execute(async (trx) => {
          await trx.updateTable('mass_issue_requests').set({ quantity: 500 }).where('id', '=', id).execute();
          run = h.container.issuance.run(id, { chunk: 100 });
          await new Promise<void>((r) => { commit = r; setTimeout(r, 500); });
        });
        commit();
        await run;
        const made = await db.selectFrom('cards').select((e) => [e.fn.countAll().as('n'), e.fn.max('mass_seq').as('last')]).where('mass_request_id', '=', id).executeTakeFirstOrThrow();
        assert.deepEqual([Number(made.n), Number(made.last)], [500, 500]);
        assert.equal((await h.container.issuance.load(id))!.status, 'COMPLETED');
      });
    }
  });
}
