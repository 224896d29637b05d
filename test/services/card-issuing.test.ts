import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { isLuhnValid } from '../../src/crypto/luhn.ts';
import { decryptPersonalizationRecord, type PersonalizationRecordFields } from '../../src/modules/personalization/index.ts';
import { MassPositionTaken, type CardAddRequest } from '../../src/modules/cards/index.ts';
import type { Actor } from '../../src/shared/actor.ts';
import type { IssueCardsRequest } from '../../src/security-module/port.ts';
import { SoftwareSecurityModule } from '../../src/security-module/software/software-security-module.ts';
import { addAccount, addCustomer, startHarness, TEST_BUREAU_HEX, type Harness } from '../helpers/harness.ts';
import { backends } from '../helpers/storage.ts';

/**
 * The issuing path below HTTP: what the cards module promises its callers (card add, card
 * actions, mass issue) about the security module's batches and the repository's one insert.
 */
for (const backend of backends) {
  describe(`card issuing, service level (${backend})`, () => {
    let h: Harness;
    let accounts: string[];
    let customers: string[];
    const actor = (): Actor => ({ clientId: 'tester', requestId: randomUUID() });
    const body = (account: string, extra: Partial<CardAddRequest> = {}): CardAddRequest =>
      ({ organizationNumber: 100, postToAccount: account, cardNumber: '', embossedName1: 'ADA LOVELACE', ...extra }) as CardAddRequest;
    const issueCalls = () => h.container.securityModuleStats.get('issueCards:ok') ?? 0;
    const recordOf = async (token: string): Promise<PersonalizationRecordFields> => {
      const row = await h.container.storage.db.selectFrom('personalization_records').innerJoin('cards', 'cards.id', 'personalization_records.card_id')
        .select(['encrypted_record', 'cipher']).where('cards.pan_token', '=', token).executeTakeFirstOrThrow();
      return decryptPersonalizationRecord(row.encrypted_record, row.cipher as never, { algorithm: 'AES', key: TEST_BUREAU_HEX });
    };

    before(async () => {
      h = await startHarness(backend);
      accounts = [];
      customers = [];
      for (let i = 0; i < 4; i++) {
        customers.push(await addCustomer(h));
        accounts.push(await addAccount(h, customers[i]!));
      }
    });
    after(async () => { await h?.close(); });

    it('concurrent card adds share the security module: 24 cards in fewer than 24 issueCards calls, each card its own number, face and record', async () => {
      const calls = issueCalls();
      const names = Array.from({ length: 24 }, (_, i) => `CARDHOLDER NUMBER${String.fromCharCode(65 + i)}`);
      // The software module does a small batch at once, on the calling thread: a card whose look-ups
      // come back in an event-loop turn of its own (on PostgreSQL they return one connection at a
      // time) finds no call on its way to join, and whether the 24 overlap is then the host's timing.
      // A hardware module answers over the network in milliseconds: each call here takes 30 ms, as
      // such a module's would, so the adds overlap as they do under load. (The audit wrapper looks
      // the inner module's method up on every call; deleting the own property puts the class's back.)
      const sm = h.container.sm as unknown as Record<string, unknown>;
      sm.issueCards = async function slowIssueCards(this: SoftwareSecurityModule, request: IssueCardsRequest) {
        await delay(30);
        return SoftwareSecurityModule.prototype.issueCards.call(this, request);
      };
      let added: Array<{ cardNumber: string }>;
      try {
        added = await Promise.all(names.map((name, i) => h.container.cards.issuing.add(actor(), body(accounts[i % 4]!, {
          embossedName1: name, expirationDate: `20${30 + (i % 3)}-0${1 + (i % 9)}-15`,
        }))));
      } finally {
        delete sm.issueCards;
      }
      const used = issueCalls() - calls;
      assert.ok(used >= 1 && used < names.length, `${used} issueCards calls for ${names.length} concurrent card adds`);
      assert.equal(new Set(added.map((a) => a.cardNumber)).size, names.length, 'every card its own token');
      for (const [i, a] of added.entries()) {
        const record = await recordOf(a.cardNumber);
        assert.equal(record.embossLine1, names[i], 'the record carries its own card\'s name, not its batch neighbour\'s');
        assert.equal(record.expiryYYMM, `${30 + (i % 3)}0${1 + (i % 9)}`);
        assert.equal(record.reference, `${a.cardNumber}.1`);
        assert.ok(record.pan.startsWith('411111') && isLuhnValid(record.pan));
        const card = await h.container.cards.repository.resolve(100, a.cardNumber);
        assert.equal(await h.container.cards.repository.panOf(card!), record.pan, 'the stored number is the one embossed');
        assert.ok(card!.pin_stored !== null && card!.pin_verification !== null, 'a PIN was issued');
      }
    });

    it('a PIN-suppressed card and a PIN card added together: only the second has a PIN and a PIN mailer', async () => {
      const [suppressed, withPin] = await Promise.all([
        h.container.cards.issuing.add(actor(), body(accounts[0]!, { pinSuppression: 1 })),
        h.container.cards.issuing.add(actor(), body(accounts[1]!)),
      ]);
      const s = await h.container.cards.repository.resolve(100, suppressed!.cardNumber);
      const p = await h.container.cards.repository.resolve(100, withPin!.cardNumber);
      assert.equal(s!.pin_stored, null);
      assert.equal(s!.pin_suppressed, true);
      assert.notEqual(p!.pin_stored, null);
      assert.equal((await recordOf(suppressed!.cardNumber)).pinBlock, '');
      assert.notEqual((await recordOf(withPin!.cardNumber)).pinBlock, '');
    });

    it('a mass-issue chunk goes through the same insert; a position made meanwhile by another run rolls the chunk back', async () => {
      const db = h.container.storage.db;
      const issuing = h.container.cards.issuing;
      const spec = {
        actor: actor(), requestId: '987654321', organization: (await h.container.organizations.organization(100))!, logo: (await h.container.organizations.logo(100, 1))!,
        pvk: (await h.container.keys.require('t.pvk', 'PVK')).keyBlock, customerNumber: customers[0]!, expiry: '3012', serviceCode: '201',
        embossedName1: 'MASS CARD', embossedName2: '', positions: [1, 2], accounts: [accounts[0]!, accounts[1]!],
      };
      const events = async () => Number((await db.selectFrom('events').select((e) => e.fn.countAll().as('n')).where('type', '=', 'card.issued').executeTakeFirstOrThrow()).n);
      const eventsBefore = await events();
      assert.equal(await db.transaction().execute((trx) => issuing.issueMany(trx, spec)), 2);
      const made = await db.selectFrom('cards').select(['mass_seq', 'pan_token', 'activation_required', 'pin_stored']).where('mass_request_id', '=', spec.requestId).orderBy('mass_seq').execute();
      assert.deepEqual(made.map((c) => c.mass_seq), [1, 2]);
      assert.ok(made.every((c) => c.activation_required && c.pin_stored !== null));
      assert.equal((await recordOf(made[0]!.pan_token)).embossLine1, 'MASS CARD');
      assert.equal(await events(), eventsBefore + 2, 'one card.issued event a card');
      const said = await db.selectFrom('events').select(['card_token', 'data']).where('type', '=', 'card.issued').where('card_token', 'in', made.map((c) => c.pan_token)).execute();
      assert.deepEqual(made.map((c) => said.find((e) => e.card_token === c.pan_token)?.data), [1, 2].map((position) => ({
        cause: 'mass.issue', sequence: 1, logo: 1, digital: false, activationRequired: true, massIssue: spec.requestId, position,
      })));
      // Position 2 is on file: the chunk [2, 3] is refused whole, position 3 not kept.
      await assert.rejects(db.transaction().execute((trx) => issuing.issueMany(trx, { ...spec, positions: [2, 3], accounts: [accounts[2]!, accounts[3]!] })), MassPositionTaken);
      const after = await db.selectFrom('cards').select('mass_seq').where('mass_request_id', '=', spec.requestId).execute();
      assert.deepEqual(after.map((c) => c.mass_seq).sort(), [1, 2]);
    });

    it('the repository\'s insert says what became of each card: made, number taken, or card taken', async () => {
      const first = await h.container.cards.issuing.add(actor(), body(accounts[2]!));
      const card = await h.container.cards.repository.resolve(100, first.cardNumber);
      const row = (over: Record<string, unknown>) => ({
        hash: card!.pan_hash, token: card!.pan_token, encrypted: 'x', bin: '411111', last4: '1111', existing: false,
        organization: 100, logo: 1, sequence: 1, account: card!.account_number, customer: card!.customer_number, expiry: card!.expiry, serviceCode: '201',
        statusDate: '2026-01-01', activationRequired: false, activatedAt: null, blockCode: '', embossedName1: 'A', embossedName2: '', digital: true,
        plasticStatus: 'NONE', pinSuppressed: true, pinStored: null, pinVerification: null, profile: '{}', createdBy: 'tester',
        audit: undefined, eventData: '{}', plastic: undefined, fileId: null, massRequestId: null, massSeq: null, ...over,
      });
      const db = h.container.storage.db;
      const [taken, sameSequence, nextSequence] = await db.transaction().execute((trx) => h.container.cards.repository.insert(trx, [
        row({}), row({ existing: true, hash: card!.pan_hash }), row({ existing: true, sequence: 2 }),
      ]));
      assert.deepEqual(taken, { made: false, numberTaken: true, requestIdTaken: false }, 'a number on file is not issued again');
      assert.deepEqual(sameSequence, { made: false, numberTaken: false, requestIdTaken: false }, 'a sequence on file is not made twice');
      assert.equal(nextSequence!.made, true, 'a new sequence of a number on file is made');
      assert.equal(nextSequence!.card?.card_sequence, 2, 'with its row');
      assert.equal(nextSequence!.card?.pan_token, card!.pan_token);
    });
  });
}
