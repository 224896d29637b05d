import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { DB } from '../../db/schema.ts';
import type { KeyBlock, PersonalizationRecord, PinVerificationMethod, SecurityModule } from '../../security-module/port.ts';
import type { Clock } from '../../shared/clock.ts';
import type { Logger } from '../../shared/logger.ts';
import { MAX_RECORDS_PER_FILE } from '../../shared/limits.ts';
import type { KeysService } from '../keys/index.ts';
import { recordEvent } from '../events/index.ts';
import type { Organization } from '../organizations/index.ts';
import { PersonalizationFileWriter } from './writer.ts';
import { FolderFileStore } from './store.ts';
import { PersonalizationFileError, encodePersonalizationFile, personalizationFileName } from './file-format.ts';

/** One plastic to personalize: what the security module needs to build the bureau's record. */
export interface PlasticRequest {
  organization: Organization;
  logo: { number: number; keys: { cvk: string; pvk: string } };
  pan: string;
  /** PAN token + sequence: a reference that is never a card number. */
  reference: string;
  expiry: string;
  serviceCode: string;
  embossedName1: string;
  embossedName2: string;
  /** `mailer` false: the stripe carries the PIN's PVV/offset but the record has no PIN mailer (the PIN is not new). */
  pin?: { method: PinVerificationMethod; storedPinBlock: string; pvv?: string; offset?: string; mailer?: boolean };
  reason: string;
}

/** Values of a personalization_records row (card_id set by the caller's insert). */
export interface OutboxRecord {
  organization: number;
  logo: number;
  reason: string;
  reference: string;
  encrypted_record: string;
  cipher: string;
  bureau_kcv: string;
}

export interface WrittenFile { name: string; records: number; organization: number; logo: number }

/**
 * The INSERT of bureau records from the rows of another module's statement (a data-modifying CTE:
 * the cards insert writes each new card's record in the same statement): `rows` selects, in this
 * order, organization, logo, card id, reason, reference, encrypted record, cipher, bureau key check
 * value and file id (or null).
 */
export function recordsInsertFrom(rows: RawBuilder<unknown>): RawBuilder<unknown> {
  return sql`
    insert into personalization_records (organization, logo, card_id, reason, reference, encrypted_record, cipher, bureau_kcv, file_id)
    select * from (${rows}) as r(organization, logo, card_id, reason, reference, encrypted_record, cipher, bureau_kcv, file_id)`;
}

/** An SQL condition: the card of a mass-issue request's position exists (the cards module's `massPositionIssued`). */
export type MassPositionIssued = (request: RawBuilder<unknown>, position: RawBuilder<unknown>) => RawBuilder<unknown>;

/** A mass issue's file still receiving records: the positions it covers (not every one in between need be its). */
export interface MassFile { id: string; first: number; last: number }

/** The FILLING file (of `files`, ordered by first position, ranges disjoint) whose range holds `position`. */
export function massFileOf(files: readonly MassFile[], position: number): string | undefined {
  let lo = 0;
  let hi = files.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const f = files[mid] as MassFile;
    if (position < f.first) hi = mid - 1;
    else if (position > f.last) lo = mid + 1;
    else return f.id;
  }
  return undefined;
}

/** A pending record as a file is planned with it. */
interface RecordRow { id: string; reference: string; encrypted_record: string; cipher: string; bureau_kcv: string }

/** Raised inside a plan's transaction when there was nothing to assign: the empty file rolls back. */
class EmptyPlan extends Error {}

/** Orders bigint ids given as decimal strings. */
const compareIds = (a: string, b: string) => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);

export { MAX_RECORDS_PER_FILE };

/**
 * The personalization outbox. Each new plastic gets a record, encrypted for the organization's
 * bureau by the security module, stored in the same statement or transaction as the card. A
 * flush turns pending records into files: it first *plans* a file (assigns records to it, in a
 * transaction), then writes it under a name fixed by the plan, then marks it written. A crash
 * between the two leaves a planned file that the next flush writes again under the same name —
 * the store refuses a second copy — so each record lands in exactly one file.
 */
export class PersonalizationOutbox {
  private readonly writers = new Map<string, PersonalizationFileWriter>();

  constructor(private readonly deps: { db: Kysely<DB>; sm: SecurityModule; keys: KeysService; clock: Clock; folder: string; logger: Logger }) {}

  /** Stores one card's bureau record (a PIN mailer of a card action), in the caller's transaction. */
  async add(trx: Kysely<DB>, record: OutboxRecord, cardId: string): Promise<void> {
    await trx.insertInto('personalization_records').values({ ...record, card_id: cardId }).execute();
  }

  /** The bureau record for a plastic, or undefined when the organization has no bureau configured. */
  async recordFor(p: PlasticRequest, db: Kysely<DB> = this.deps.db): Promise<OutboxRecord | undefined> {
    const keys = await this.bureauKeys(p, db);
    if (!keys) return undefined;
    const record = await this.deps.sm.personalizationRecord({
      bur: keys.bur, cvk: keys.cvk, pvk: keys.pvk, reference: p.reference, pan: p.pan, expiryYYMM: p.expiry,
      serviceCode: p.serviceCode, cardholder: splitName(p.embossedName1), embossLine1: p.embossedName1, embossLine2: p.embossedName2,
      ...(p.pin ? { pin: p.pin } : {}),
    });
    return outboxRecord(p.organization.number, p.logo.number, p.reason, record);
  }

  /**
   * The key blocks a bureau record of the organization and logo is made with (bureau key, CVK,
   * PVK), for the security module; undefined when the organization has no bureau configured.
   */
  async bureauKeys(p: Pick<PlasticRequest, 'organization' | 'logo'>, db: Kysely<DB> = this.deps.db): Promise<{ bur: KeyBlock; cvk: KeyBlock; pvk: KeyBlock } | undefined> {
    if (!p.organization.bureauKeyName) return undefined;
    const [bur, cvk, pvk] = await Promise.all([
      this.deps.keys.find(p.organization.bureauKeyName, db), this.deps.keys.find(p.logo.keys.cvk, db), this.deps.keys.find(p.logo.keys.pvk, db),
    ]);
    if (!bur || !cvk || !pvk) throw new Error('personalization: bureau, CVK or PVK key missing from the key store');
    return { bur: bur.keyBlock, cvk: cvk.keyBlock, pvk: pvk.keyBlock };
  }

  /** Writes every pending record into files (planned files first), per organization and logo. */
  async flush(maxRecordsPerFile = MAX_RECORDS_PER_FILE): Promise<WrittenFile[]> {
    const written = await this.writePlanned();
    for (;;) {
      const next = await this.plan(maxRecordsPerFile);
      if (!next) return written;
      written.push(await this.write(next.file, next.rows));
    }
  }

  /**
   * Writes the PLANNED files: a mass issue's files once they hold all their records (mass issue
   * calls this while its chunks are being issued, so its bureau files are written alongside the
   * cards), and files planned before a crash.
   */
  async writePlanned(): Promise<WrittenFile[]> {
    const written: WrittenFile[] = [];
    for (;;) {
      const planned = await this.deps.db.selectFrom('personalization_files').selectAll().where('status', '=', 'PLANNED').orderBy('id').limit(1).executeTakeFirst();
      if (!planned) return written;
      written.push(await this.write(planned));
    }
  }

  /**
   * Plans the bureau files of a mass issue run, before its chunks: its positions still to make
   * that no FILLING file of the request covers yet (ascending), in files of up to
   * `recordsPerFile` — each a range of positions and the number of records it expects. A chunk
   * inserts each record straight into its position's file (massFileOf) and counts it there
   * (countIntoMassFiles); closeFullMassFiles then hands full files to writePlanned. Returns the
   * request's FILLING files. Safe to repeat, and from two runs at once: the ranges follow from
   * the positions, and a file's first position is unique per request.
   */
  async planMassFiles(spec: { requestId: string; organization: number; logo: number; missing: Iterable<number>; recordsPerFile: number }): Promise<MassFile[]> {
    const filling = () => this.deps.db.selectFrom('personalization_files').select(['id', 'mass_first', 'mass_last'])
      .where('mass_request_id', '=', spec.requestId).where('status', '=', 'FILLING').orderBy('mass_first').execute()
      .then((rows) => rows.map((r) => ({ id: r.id, first: r.mass_first!, last: r.mass_last! })));
    const existing = await filling();
    const groups: Array<{ first: number; last: number; count: number }> = [];
    let open: { first: number; last: number; count: number } | undefined;
    for (const position of spec.missing) {
      if (massFileOf(existing, position) !== undefined) continue;
      if (!open || open.count === spec.recordsPerFile) groups.push(open = { first: position, last: position, count: 0 });
      open.last = position;
      open.count++;
    }
    if (groups.length === 0) return existing;
    const now = this.deps.clock.now();
    await sql`
      insert into personalization_files (file_id, organization, logo, planned_at, status, record_count, mass_request_id, mass_first, mass_last, expected_records)
      select f, ${spec.organization}::int, ${spec.logo}::int, ${now}::timestamptz, 'FILLING', 0, ${spec.requestId}::bigint, a, b, n
      from unnest(${groups.map(() => randomUUID())}::uuid[], ${groups.map((g) => g.first)}::int[], ${groups.map((g) => g.last)}::int[], ${groups.map((g) => g.count)}::int[]) as u(f, a, b, n)
      on conflict (mass_request_id, mass_first) where mass_request_id is not null do nothing`.execute(this.deps.db);
    return filling();
  }

  /**
   * Counts a chunk's records into the mass files they were inserted into, in the chunk's
   * transaction (so a file's count is exact whatever crashes). Files in ascending id order: two
   * chunks updating the same two files cannot deadlock.
   */
  async countIntoMassFiles(db: Kysely<DB>, counts: ReadonlyMap<string, number>): Promise<void> {
    for (const [id, n] of [...counts].sort((a, b) => compareIds(a[0], b[0]))) {
      await db.updateTable('personalization_files').set((eb) => ({ record_count: eb('record_count', '+', n) })).where('id', '=', id).execute();
    }
  }

  /** A mass request's FILLING files that hold every record they expect become PLANNED (writePlanned writes them). Returns how many. */
  async closeFullMassFiles(requestId: string, db: Kysely<DB> = this.deps.db): Promise<number> {
    const closed = await db.updateTable('personalization_files').set({ status: 'PLANNED' })
      .where('mass_request_id', '=', requestId).where('status', '=', 'FILLING').where((eb) => eb('record_count', '>=', eb.ref('expected_records')))
      .executeTakeFirst();
    return Number(closed.numUpdatedRows);
  }

  /**
   * A mass request's quantity lowered (no position above it is made: the issuance module checks):
   * its FILLING files end at the new quantity and expect the records they hold plus those of
   * their positions up to it still to make; files left with nothing to wait for are closed, or
   * dropped when empty. Whether a position has its card is the cards module's to say
   * (`positionIssued`, a condition on its table, handed in by the issuance module).
   */
  async capMassFiles(db: Kysely<DB>, requestId: string, quantity: number, positionIssued: MassPositionIssued): Promise<void> {
    await sql`
      update personalization_files f set mass_last = ${quantity}::int,
        expected_records = f.record_count + (
          select count(*) from generate_series(f.mass_first, ${quantity}::int) g
          where not ${positionIssued(sql.ref('f.mass_request_id'), sql.ref('g'))})
      where f.mass_request_id = ${requestId}::bigint and f.status = 'FILLING' and f.mass_last > ${quantity}::int`.execute(db);
    await db.deleteFrom('personalization_files')
      .where('mass_request_id', '=', requestId).where('status', '=', 'FILLING').where('record_count', '=', 0).where('expected_records', '=', 0).execute();
    await this.closeFullMassFiles(requestId, db);
  }

  /**
   * Plans one file: assigns up to `max` pending records (of the oldest pending record's
   * organization and logo) to a new PLANNED file, in one transaction, and returns the file with
   * the records it was given (so writing it needs no second read of them).
   */
  private async plan(max: number) {
    return this.deps.db.transaction().execute(async (trx) => {
      const next = await trx.selectFrom('personalization_records').select(['organization', 'logo'])
        .where('file_id', 'is', null).orderBy('id').limit(1).executeTakeFirst();
      if (!next) return undefined;
      const file = await trx.insertInto('personalization_files').values({
        file_id: randomUUID(), organization: next.organization, logo: next.logo, planned_at: this.deps.clock.now(), status: 'PLANNED', record_count: 0,
      }).returningAll().executeTakeFirstOrThrow();
      const assigned = await sql<RecordRow>`
        with picked as (
          select id from personalization_records
          where file_id is null and organization = ${next.organization}::int and logo = ${next.logo}::int
          order by id limit ${max}::int for update skip locked
        )
        update personalization_records r set file_id = ${file.id} from picked where r.id = picked.id
        returning r.id, r.reference, r.encrypted_record, r.cipher, r.bureau_kcv`.execute(trx);
      // Every pending record is being planned by another flush right now: no empty file.
      if (assigned.rows.length === 0) throw new EmptyPlan();
      const rows = assigned.rows.sort((a, b) => compareIds(a.id, b.id));
      const planned = await trx.updateTable('personalization_files').set({ record_count: rows.length }).where('id', '=', file.id).returningAll().executeTakeFirstOrThrow();
      return { file: planned, rows };
    }).catch((e: unknown) => { if (e instanceof EmptyPlan) return undefined; throw e; });
  }

  /** Writes a planned file: its records as planned (in id order), or read again (a file planned before a crash). */
  private async write(file: { id: string; file_id: string; organization: number; logo: number; planned_at: Date; record_count: number }, given?: RecordRow[]): Promise<WrittenFile> {
    const org = await this.deps.db.selectFrom('organizations').select(['bureau_pgp_public_key']).where('number', '=', file.organization).executeTakeFirst();
    const rows = given ?? await this.deps.db.selectFrom('personalization_records').select(['id', 'reference', 'encrypted_record', 'cipher', 'bureau_kcv'])
      .where('file_id', '=', file.id).orderBy('id').execute();
    const records = rows.map((r) => ({ reference: r.reference, encryptedRecord: r.encrypted_record, cipher: r.cipher as '3DES-CBC' | 'AES-CBC', bureauKcv: r.bureau_kcv }));
    const organization = String(file.organization).padStart(3, '0');
    const logo = String(file.logo).padStart(3, '0');
    const planned = { fileId: file.file_id, createdAt: new Date(file.planned_at), seq: Number(file.id) };
    const writer = this.writerFor(org?.bureau_pgp_public_key ?? null);
    let name: string;
    let sha256: string;
    try {
      const result = await writer.writeBatch({ organization, logo, records, planned });
      name = result.name;
      sha256 = result.sha256;
    } catch (e) {
      if (!(e instanceof PersonalizationFileError && e.code === 'EXISTS')) throw e;
      // Written before a crash, not yet marked: the name is fixed by the plan, the content by the records.
      name = personalizationFileName(organization, logo, planned.createdAt, planned.seq, (org?.bureau_pgp_public_key ?? null) !== null);
      sha256 = encodePersonalizationFile({ fileId: planned.fileId, organization, logo, createdAt: planned.createdAt, records }).sha256;
    }
    // Marked written with its event (bureau_file.written), in one transaction.
    await this.deps.db.transaction().execute(async (trx) => {
      await trx.updateTable('personalization_files').set({ status: 'WRITTEN', name, sha256, written_at: this.deps.clock.now() }).where('id', '=', file.id).execute();
      await recordEvent(trx, {
        type: 'bureau_file.written', subject: `bureau-file:${file.id}`, organization: file.organization,
        data: { file: name, logo: file.logo, records: records.length },
      });
    });
    this.deps.logger.info({ file: name, records: records.length }, 'personalization file written');
    return { name, records: records.length, organization: file.organization, logo: file.logo };
  }

  /** Files written so far (from the database's own record of them), newest last. */
  async files() {
    return this.deps.db.selectFrom('personalization_files').select(['name', 'organization', 'logo', 'record_count', 'status', 'sha256', 'written_at'])
      .orderBy('id').execute();
  }

  /** Copies a written file, byte for byte, to another folder (retransmission to the bureau). */
  async reexport(name: string, targetFolder: string) {
    return this.writerFor(null).reexport(name, new FolderFileStore(targetFolder));
  }

  private writerFor(pgpPublicKey: string | null): PersonalizationFileWriter {
    const key = pgpPublicKey ?? '';
    let w = this.writers.get(key);
    if (!w) {
      w = new PersonalizationFileWriter({ store: new FolderFileStore(this.deps.folder), clock: () => this.deps.clock.now(), ...(pgpPublicKey ? { pgpPublicKey } : {}) });
      this.writers.set(key, w);
    }
    return w;
  }
}

/** A security module's record as the outbox stores it. */
export function outboxRecord(organization: number, logo: number, reason: string, record: PersonalizationRecord): OutboxRecord {
  return {
    organization, logo, reason, reference: record.reference,
    encrypted_record: record.encryptedRecord, cipher: record.cipher, bureau_kcv: record.bureauKcv,
  };
}

/**
 * The cardholder as the security module takes it (track 1's SURNAME/GIVEN): "ADA KING LOVELACE" →
 * surname LOVELACE, given names ADA KING; an unnamed card gets the placeholder CARDHOLDER.
 */
export function splitName(embossed: string): { surname: string; givenNames: string } {
  const words = embossed.trim().split(/\s+/).filter((w) => /[A-Za-z0-9]/.test(w));
  if (words.length === 0) return { surname: 'CARDHOLDER', givenNames: '' };
  return { surname: words[words.length - 1]!, givenNames: words.slice(0, -1).join(' ') };
}
