import { type Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';
import type { Actor } from '../../shared/actor.ts';
import type { Clock } from '../../shared/clock.ts';
import { refusal as fail } from '../../shared/errors.ts';
import { isBlankNumber, pad19 } from '../../shared/ids.ts';
import type { Logger } from '../../shared/logger.ts';
import { recordAudit } from '../audit/index.ts';
import { recordEvent } from '../events/index.ts';
import { answeredWrite } from '../idempotency/index.ts';
import type { KeysService } from '../keys/index.ts';
import type { OrganizationsService } from '../organizations/index.ts';
import { MAX_RECORDS_PER_FILE, massFileOf, type MassFile, type PersonalizationOutbox } from '../personalization/index.ts';
import type { CustomersService } from '../customers/index.ts';
import type { AccountsService } from '../accounts/index.ts';
import { CardRepository, MassPositionTaken, expiryDate, shownCardNumber, type CardIssuing, type PreparedMassCard } from '../cards/index.ts';
import type { MassIssueQuery, MassIssueRequest } from './issuance.schemas.ts';

type Code = readonly [string, string];

export const IssuanceCodes = {
  badOrganization: ['VPL5SMC01E', 'INVALID ORGANIZATION NUMBER'],
  badLogo: ['VPL5SMC04E', 'INVALID LOGO NUMBER'],
  badFunction: ['VPL5SMC06E', 'FUNCTION TYPE VALID VALUES ARE A AND M'],
  badStatus: ['VPL5SMC07E', 'STATUS VALID VALUES ARE 1 AND 9'],
  badBlockCode1: ['VPL5SMC13E', 'BLOCK CODE 1 VALUE MUST BE ALPHABETIC'],
  badBlockCode2: ['VPL5SMC14E', 'BLOCK CODE 2 VALUE MUST BE ALPHABETIC'],
  badEmbosserCode: ['VPL5SMC15E', 'EMBOSSER CODE VALUE MUST BE ALPHABETIC'],
  badRelationAmbs: ['VPL5SMC16E', 'VALID VALUES OF RELATION AMBS ARE ONLY S AND N'],
  badPrepaidFlag: ['VPL5SMC17E', 'VALID VALUES OF PREPAID FLAG VALUE MUST BE 0 AND 1'],
  badPromoCode: ['VPL5SMC19E', 'PROMO CODE VALUE MUST BE ALPHABETIC'],
  badScheme: ['VPL5SMC20E', 'SCHEME VALID VALUES ARE 0, 1, 2 AND 3'],
  badUserCode1: ['VPL5SMC22E', 'MSG USER CODE 1 VALUE MUST BE 0 OR 1'],
  badUserCode2: ['VPL5SMC24E', 'MSG USER CODE 2 VALUE MUST BE 0 OR 1'],
  badUserCode3: ['VPL5SMC26E', 'MSG USER CODE 3 VALUE MUST BE 0 OR 1'],
  badGlobalQualification: ['VPL5SMC37E', 'VALID VALUES FOR GLOBAL QUAL ARE SPACES, A - Z & 1,2'],
  badServiceCode: ['VPL5SMC41E', 'INVALID POS SERVICE CDE, SPACES OR VALID VALUE'],
  noQuantity: ['EMBM03E', 'QUANTITY TO CREATE MUST BE GREATER THAN ZERO'],
  expiryTooFar: ['EMBM04E', 'EXPIRATION DATE MUST BE WITHIN 20 YEARS'],
  orgNotFound: ['VPL5SMC01S', 'ORG RECORD NOT FOUND'],
  logoNotFound: ['VPL5SMC02S', 'LOGO RECORD NOT FOUND'],
  exists: ['VPL5SMC04S', 'RECORD ALREADY EXISTS ON FILE'],
  notFound: ['VPL5SMC05S', 'REQUESTED RECORD IS NOT FOUND OR PENDING ADD'],
  customerZero: ['VPL5SMC28E', 'CUST NO. VALUE MUST BE NON ZERO OR SPACES'],
  customerNotFound: ['VPL5SIC13S', 'CUSTOMER RECORD NOT FOUND OR ADD PENDING'],
  badExpiry: ['VPL5SMC29E', 'EXPIRATION DATE MUST BE GREATER THAN TODAYS PROCESSING DATE'],
  running: ['EMBM01E', 'MASS ISSUE REQUEST IS RUNNING - MODIFY REFUSED UNTIL IT ENDS'],
  belowCreated: ['EMBM02E', 'QUANTITY CANNOT BE LOWER THAN THE CARDS ALREADY CREATED'],
  inquiryBadOrganization: ['VPL5SQC01E', 'INVALID ORGANIZATION NUMBER'],
  inquiryBadLogo: ['VPL5SQC04E', 'INVALID LOGO NUMBER'],
  inquiryOrgNotFound: ['VPL5SQC01S', 'ORG RECORD NOT FOUND'],
  inquiryLogoNotFound: ['VPL5SQC02S', 'LOGO RECORD NOT FOUND'],
  inquiryNotFound: ['VPL5SQC04S', 'REQUESTED RECORD NOT ON FILE'],
} as const satisfies Record<string, Code>;

/** Organization and logo numbers are 001–998; upstream's form allows 000–999 (and leaving them out). */
const isRecordNumber = (n: number | undefined): n is number => n !== undefined && n >= 1 && n <= 998;
const blankOr = (value: string | undefined, valid: RegExp) => value === undefined || value.trim() === '' || valid.test(value);

/**
 * What the values of a request mean, checked in upstream's order before anything is looked up:
 * the schema takes every request in the form upstream documents, and a value upstream refuses
 * in meaning is refused here with its code. Returns the values as used.
 */
function checkRequest(request: MassIssueRequest): { org: number; logoNumber: number; cardType: number; serviceCode: string | undefined } {
  const refuse = (code: Code, when: boolean) => { if (when) throw fail(code); };
  const r = request;
  if (!isRecordNumber(r.organizationNumber)) throw fail(IssuanceCodes.badOrganization);
  if (!isRecordNumber(r.logo)) throw fail(IssuanceCodes.badLogo);
  refuse(IssuanceCodes.badFunction, r.functionType !== 'A' && r.functionType !== 'M');
  refuse(IssuanceCodes.badStatus, r.status !== undefined && r.status !== 1 && r.status !== 9);
  refuse(IssuanceCodes.noQuantity, r.quantityToCreate < 1);
  refuse(IssuanceCodes.badBlockCode1, !blankOr(r.blockCode1, /^[A-Za-z]$/));
  refuse(IssuanceCodes.badBlockCode2, !blankOr(r.blockCode2, /^[A-Za-z]$/));
  refuse(IssuanceCodes.badEmbosserCode, !blankOr(r.embosserCode, /^[A-Za-z]$/));
  refuse(IssuanceCodes.badRelationAmbs, !blankOr(r.relationAMBS, /^[SN]$/));
  refuse(IssuanceCodes.badPrepaidFlag, r.prepaidCardFlag !== undefined && r.prepaidCardFlag > 1);
  refuse(IssuanceCodes.badPromoCode, !blankOr(r.promoCode, /^[A-Za-z ]+$/));
  refuse(IssuanceCodes.badScheme, r.scheme !== undefined && r.scheme > 3);
  refuse(IssuanceCodes.badUserCode1, r.userCode1 !== undefined && r.userCode1 > 1);
  refuse(IssuanceCodes.badUserCode2, r.userCode2 !== undefined && r.userCode2 > 1);
  refuse(IssuanceCodes.badUserCode3, r.userCode3 !== undefined && r.userCode3 > 1);
  refuse(IssuanceCodes.badGlobalQualification, !blankOr(r.globalQualification, /^[A-Z12]$/));
  // The service code as card add takes it: digits, zero-padded to 3; blank: the logo's.
  const pos = r.posServiceCode?.trim() ?? '';
  refuse(IssuanceCodes.badServiceCode, pos !== '' && !/^[0-9]{1,3}$/.test(pos));
  return { org: r.organizationNumber, logoNumber: r.logo, cardType: r.cardType ?? 0, serviceCode: r.posServiceCode === undefined ? undefined : pos && pos.padStart(3, '0') };
}

/** The user fields of a card in the inquiry: emboss keeps none, so each is there with the neutral value. */
const userItems = (n: number, value: string) => Array.from({ length: n }, (_, i) => ({ key: String(i + 1), value }));
const NO_USER_AMOUNTS = userItems(5, '0');
const NO_USER_DATES = userItems(5, '');
const NO_USER_CODES = userItems(10, '');

/** Cards per transaction: the unit of progress and of recovery after a crash. */
export const DEFAULT_CHUNK = 1000;
/** Chunks written at once by one run. */
export const DEFAULT_PARALLEL = 2;
/** Chunk transactions retried after a deadlock or serialization failure, per run. */
const MAX_CHUNK_RETRIES = 20;

/** Each position's FILLING file (or null). */
function massFilesOf(files: readonly MassFile[], positions: readonly number[]): Array<string | null> {
  const ids: Array<string | null> = [];
  for (const p of positions) ids.push(massFileOf(files, p) ?? null);
  return ids;
}

/** The positions from `from` to `to`, both included. */
const positionsFrom = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** A chunk still to make: a whole range, or the exact positions missing from a chunk partly made. */
type Unit = { from: number; to: number } | { positions: number[] };
const positionsOf = (unit: Unit) => ('positions' in unit ? unit.positions : positionsFrom(unit.from, unit.to));

export interface Progress { status: string; done: number; total: number; cardsPerSecond: number; etaSeconds: number | null }

export interface RunOptions {
  chunk?: number;
  parallel?: number;
  onProgress?: (p: Progress) => void;
  actor?: Actor;
  /** Records per bureau file (default MAX_RECORDS_PER_FILE). */
  recordsPerFile?: number;
  /**
   * Work done alongside the chunks when bureau files of the run are full (writing them): started
   * after the chunk that filled them commits, one at a time (files filled meanwhile ask for one
   * more round), awaited before the run ends. A failure is logged, not fatal: the cards and the
   * files' records are committed, and the next flush writes the files.
   */
  alongside?: (p: Progress) => Promise<unknown>;
}

export interface IssuanceDeps {
  db: Kysely<DB>;
  /**
   * How a saved request reaches a worker: adds its run's job inside the given transaction (the one
   * that saves the request). Absent in a process without a job queue (the command line runs
   * its requests itself).
   */
  enqueue?: (requestId: string, trx: Kysely<DB>) => Promise<void>;
  organizations: OrganizationsService;
  customers: CustomersService;
  accounts: AccountsService;
  /** The cards module: its issuing path (mass issue is one of its callers) and the repository of its tables. */
  cards: { issuing: CardIssuing; repository: CardRepository };
  keys: KeysService;
  personalization: PersonalizationOutbox;
  clock: Clock;
  logger: Logger;
}

type RequestRow = Awaited<ReturnType<IssuanceService['load']>>;

/**
 * Mass card issue: a request (organization, logo, card type) for a number of unnamed cards,
 * each on its own account of the given customer, created by a background job in chunks. Each
 * chunk is one transaction that also advances the request's count, under a lock on the request:
 * a worker killed at any moment leaves whole chunks only, and the next run goes on from the
 * count. Positions are unique per request in the database, so no card is ever made twice.
 */
export class IssuanceService {
  constructor(private readonly deps: IssuanceDeps) {}

  /** POST /cards/mass-card-issue-L8V3: functionType A adds a request, M modifies one. */
  async submit(actor: Actor, request: MassIssueRequest) {
    const { org, logoNumber, cardType, serviceCode } = checkRequest(request);
    if (!(await this.deps.organizations.organization(org))) throw fail(IssuanceCodes.orgNotFound);
    const logo = await this.deps.organizations.logo(org, logoNumber);
    if (!logo) throw fail(IssuanceCodes.logoNotFound);
    if (isBlankNumber(request.customerNumber)) throw fail(IssuanceCodes.customerZero);
    // Upstream's form is any 19 characters; a customer number is digits (zero-padded to 19).
    if (!/^[0-9]+$/.test(request.customerNumber.trim())) throw fail(IssuanceCodes.customerNotFound);
    const customerNumber = pad19(request.customerNumber.trim());
    if (!(await this.deps.customers.find(org, customerNumber))) throw fail(IssuanceCodes.customerNotFound);
    const now = this.deps.clock.now();
    let expiry: string;
    if (request.expiryDate) {
      if (request.expiryDate <= now.toISOString().slice(0, 10)) throw fail(IssuanceCodes.badExpiry);
      // As card add: within 20 years (the expiry is kept as YYMM).
      const d = new Date(`${request.expiryDate}T00:00:00Z`);
      if ((d.getUTCFullYear() - now.getUTCFullYear()) * 12 + d.getUTCMonth() - now.getUTCMonth() > 240) throw fail(IssuanceCodes.expiryTooFar);
      expiry = request.expiryDate.slice(2, 4) + request.expiryDate.slice(5, 7);
    } else {
      const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + logo.expiryMonths, 1));
      expiry = String(d.getUTCFullYear() % 100).padStart(2, '0') + String(d.getUTCMonth() + 1).padStart(2, '0');
    }
    const values = {
      quantity: request.quantityToCreate, customer_number: customerNumber, credit_limit: request.creditLimit ?? 0, expiry,
      // Recorded as sent (answered back), with the card type and service code as used.
      request: JSON.stringify({ ...request, cardType, ...(serviceCode !== undefined ? { posServiceCode: serviceCode } : {}) }),
    };

    const row = await answeredWrite(this.deps.db, actor, async (trx) => {
      const existing = await trx.selectFrom('mass_issue_requests').selectAll()
        .where('organization', '=', org).where('logo', '=', logo.number).where('card_type', '=', cardType).forUpdate().executeTakeFirst();
      if (request.functionType === 'A') {
        if (existing) throw fail(IssuanceCodes.exists);
        const inserted = await trx.insertInto('mass_issue_requests').values({
          organization: org, logo: logo.number, card_type: cardType, status: 'PENDING', created_by: actor.clientId, ...values,
        }).onConflict((oc) => oc.columns(['organization', 'logo', 'card_type']).doNothing()).returningAll().executeTakeFirst();
        if (!inserted) throw fail(IssuanceCodes.exists);
        await recordAudit(trx, actor, { action: 'mass.add', entityType: 'mass-issue', entityId: inserted.id, organization: org, details: { quantity: values.quantity } });
        await recordEvent(trx, {
          type: 'mass_issue.started', subject: `mass-issue:${inserted.id}`, organization: org,
          data: { massIssue: inserted.id, logo: logo.number, cardType, quantity: values.quantity },
        });
        return inserted;
      }
      if (!existing) throw fail(IssuanceCodes.notFound);
      if (existing.status === 'RUNNING') throw fail(IssuanceCodes.running);
      // Below the highest position made (at least the count made) would leave a card outside the request.
      const highest = await this.deps.cards.repository.lastMassPosition(trx, existing.id);
      if (values.quantity < Math.max(existing.created, highest)) throw fail(IssuanceCodes.belowCreated);
      if (values.quantity < existing.quantity) await this.deps.personalization.capMassFiles(trx, existing.id, values.quantity, CardRepository.massPositionIssued);
      const updated = await trx.updateTable('mass_issue_requests')
        .set({ ...values, status: values.quantity > existing.created ? 'PENDING' : existing.status, last_error: null, updated_at: now })
        .where('id', '=', existing.id).returningAll().executeTakeFirstOrThrow();
      await recordAudit(trx, actor, { action: 'mass.modify', entityType: 'mass-issue', entityId: existing.id, organization: org, details: { quantity: values.quantity } });
      return updated;
    }, async (saved, trx) => {
      // The run's job is queued in the same transaction: a request saved without its job (a crash
      // between two commits) would wait forever.
      if (saved.status === 'PENDING') await this.deps.enqueue?.(saved.id, trx);
      return { result: this.answerOf(saved) };
    });
    return this.answerOf(row);
  }

  /**
   * Creates the request's missing cards, chunk by chunk, until its quantity is reached.
   * Safe to run again (or twice at once) at any point.
   */
  async run(requestId: string, options: RunOptions = {}): Promise<Progress> {
    const chunk = options.chunk ?? DEFAULT_CHUNK;
    const actor = options.actor ?? { clientId: 'system', requestId: `mass-${requestId}` };
    const found = await this.load(requestId);
    if (!found) throw new Error(`mass issue request ${requestId} not found`);
    const organization = await this.deps.organizations.organization(found.organization);
    const logo = await this.deps.organizations.logo(found.organization, found.logo);
    if (!organization || !logo) throw new Error('mass issue: organization or logo missing');
    const pvk = (await this.deps.keys.require(logo.keys.pvk, 'PVK')).keyBlock;
    const now = this.deps.clock.now();
    // The request as the run starts it (quantity, customer, expiry…): read in the statement that
    // marks it RUNNING, so a modify committed meanwhile (it holds the row until it commits) is
    // the one the run works to.
    const first = await this.deps.db.updateTable('mass_issue_requests')
      .set((eb) => ({ status: 'RUNNING', started_at: eb.fn.coalesce('started_at', eb.val(now)), run_started_at: now, run_started_count: eb.ref('created'), updated_at: now }))
      .where('id', '=', requestId).where((eb) => eb('created', '<', eb.ref('quantity'))).returningAll().executeTakeFirst() ?? found;
    const stored = first.request as Record<string, unknown>;
    const serviceCode = typeof stored.posServiceCode === 'string' && stored.posServiceCode !== '' ? stored.posServiceCode : logo.serviceCode;

    const massSpec = {
      requestId, organization, logo, pvk, expiry: first.expiry, serviceCode,
      embossedName1: typeof stored.embossedName1 === 'string' ? stored.embossedName1 : '',
      embossedName2: typeof stored.embossedName2 === 'string' ? stored.embossedName2 : '',
    };
    const units = await this.missingPositions(requestId, first.quantity, chunk);
    // The run's bureau files, planned over the positions still to make (when the organization
    // has a bureau): each record goes into its position's file as the card is inserted.
    const files: MassFile[] = organization.bureauKeyName
      ? await this.deps.personalization.planMassFiles({
        requestId, organization: organization.number, logo: logo.number, recordsPerFile: options.recordsPerFile ?? MAX_RECORDS_PER_FILE,
        missing: (function* () { for (const u of units) yield* positionsOf(u); })(),
      })
      : [];
    let failure: unknown;
    let retries = 0;
    let side: Promise<void> | undefined;
    let latest: Progress | undefined;
    const alongside = options.alongside;
    const kick = (p: Progress) => {
      latest = p;
      if (!alongside || side) return;
      side = (async () => {
        for (let seen: Progress | undefined; seen !== latest && failure === undefined;) {
          seen = latest!;
          try {
            await alongside(seen);
          } catch (err) {
            this.deps.logger.warn({ massIssue: requestId, err }, 'mass issue: work alongside the chunks failed; the next flush does it');
            return;
          }
        }
      })().finally(() => { side = undefined; });
    };
    // Chunks are written by `parallel` workers at once, and the security-module work of the next
    // chunks is started ahead (one more than the workers), so the module (its own thread) and
    // the database are both kept busy. Each chunk commits whole, with its count, or not at all.
    const parallel = Math.max(1, options.parallel ?? DEFAULT_PARALLEL);
    const ahead: Array<{ positions: number[]; ready: Promise<PreparedMassCard[]> }> = [];
    const take = () => {
      while (ahead.length <= parallel && units.length > 0) {
        const positions = positionsOf(units.shift()!);
        const ready = this.deps.cards.issuing.prepareMass(massSpec, positions.length);
        ready.catch(() => undefined); // awaited by the worker that takes it; left over after a failure
        ahead.push({ positions, ready });
      }
      return ahead.shift();
    };
    const worker = async () => {
      for (let next = take(); next; next = failure === undefined ? take() : undefined) {
        const { positions } = next;
        const ready = await next.ready;
        const fileIds = files.length === 0 ? undefined : massFilesOf(files, positions);
        const counts = new Map<string, number>();
        for (const id of fileIds ?? []) if (id !== null) counts.set(id, (counts.get(id) ?? 0) + 1);
        try {
          await this.deps.db.transaction().execute(async (trx) => {
            const accounts = await this.deps.accounts.addMany(trx, actor, {
              organization: organization.number, logo, customerNumber: first.customer_number, creditLimit: Number(first.credit_limit), count: positions.length,
              profile: { massIssue: requestId },
            });
            await this.deps.cards.issuing.issueMany(trx, { ...massSpec, actor, customerNumber: first.customer_number, positions, accounts, ...(fileIds ? { fileIds } : {}) }, ready);
            await this.deps.personalization.countIntoMassFiles(trx, counts);
            await trx.updateTable('mass_issue_requests')
              .set((eb) => ({ created: eb('created', '+', positions.length), updated_at: this.deps.clock.now() }))
              .where('id', '=', requestId).execute();
            await recordAudit(trx, actor, {
              action: 'mass.chunk', entityType: 'mass-issue', entityId: requestId, organization: organization.number,
              details: { from: positions[0], to: positions[positions.length - 1], cards: positions.length },
            });
            await recordEvent(trx, {
              type: 'mass_issue.progressed', subject: `mass-issue:${requestId}`, organization: organization.number,
              data: { massIssue: requestId, from: positions[0], to: positions[positions.length - 1], cards: positions.length },
            });
          });
        } catch (err) {
          const code = (err as { code?: unknown }).code;
          // Another run wrote these positions first (the unique position key said so): nothing to do.
          if (err instanceof MassPositionTaken || (code === '23505' && String((err as { constraint?: unknown }).constraint ?? '').includes('mass'))) continue;
          // Two chunks' transactions chose each other as deadlock victims: the chunk rolled back whole; do it again.
          if ((code === '40P01' || code === '40001') && retries++ < MAX_CHUNK_RETRIES) { units.push({ positions }); continue; }
          failure = err;
          return;
        }
        const row = await this.load(requestId);
        if (!row) continue;
        const progress = this.progressOf(row);
        options.onProgress?.(progress);
        if (counts.size > 0 && (await this.deps.personalization.closeFullMassFiles(requestId)) > 0) kick(progress);
      }
    };
    await Promise.all(Array.from({ length: parallel }, worker));
    // Files whose last chunk committed just before an earlier run stopped are closed here.
    if (failure === undefined && files.length > 0 && (await this.deps.personalization.closeFullMassFiles(requestId)) > 0) kick(this.progressOf((await this.load(requestId))!));
    await side;
    if (failure !== undefined) {
      const code = (failure as { code?: unknown }).code;
      await this.deps.db.updateTable('mass_issue_requests').set({ status: 'FAILED', last_error: typeof code === 'string' ? code : 'internal error', updated_at: this.deps.clock.now() })
        .where('id', '=', requestId).execute();
      throw failure;
    }
    await this.deps.db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom('mass_issue_requests').selectAll().where('id', '=', requestId).forUpdate().executeTakeFirstOrThrow();
      if (row.created >= row.quantity && row.status !== 'COMPLETED') {
        await trx.updateTable('mass_issue_requests').set({ status: 'COMPLETED', finished_at: this.deps.clock.now(), updated_at: this.deps.clock.now() })
          .where('id', '=', requestId).execute();
        await recordAudit(trx, actor, { action: 'mass.complete', entityType: 'mass-issue', entityId: requestId, organization: row.organization, details: { cards: row.created } });
        await recordEvent(trx, { type: 'mass_issue.completed', subject: `mass-issue:${requestId}`, organization: row.organization, data: { massIssue: requestId, cards: row.created } });
      }
    });
    const last = this.progressOf((await this.load(requestId))!);
    options.onProgress?.(last);
    return last;
  }

  /**
   * The positions of a request that have no card yet, in chunks: whole chunks by count, and for
   * a chunk partly made (a quantity raised after a run) the exact positions missing.
   */
  private async missingPositions(requestId: string, quantity: number, chunk: number): Promise<Unit[]> {
    const counts = await this.deps.cards.repository.massChunkCounts(requestId, chunk);
    const made = new Map(counts.map((r) => [Number(r.k), Number(r.n)]));
    // Whole chunks as ranges (a million cards' positions are not held in memory at once).
    const units: Unit[] = [];
    for (let k = 0; k * chunk < quantity; k++) {
      const from = k * chunk + 1;
      const to = Math.min(quantity, (k + 1) * chunk);
      const have = made.get(k) ?? 0;
      if (have >= to - from + 1) continue;
      if (have === 0) {
        units.push({ from, to });
        continue;
      }
      const taken = new Set(await this.deps.cards.repository.massPositions(requestId, from, to));
      units.push({ positions: positionsFrom(from, to).filter((p) => !taken.has(p)) });
    }
    return units;
  }

  /** GET /cards/mass-card-issue-L8V3: the request's progress and a page of its cards. */
  async inquire(actor: Actor, query: MassIssueQuery) {
    const org = query.organizationNumber;
    if (!isRecordNumber(org)) throw fail(IssuanceCodes.inquiryBadOrganization);
    if (!isRecordNumber(query.logo)) throw fail(IssuanceCodes.inquiryBadLogo);
    const organization = await this.deps.organizations.organization(org);
    if (!organization) throw fail(IssuanceCodes.inquiryOrgNotFound);
    if (!(await this.deps.organizations.logo(org, query.logo))) throw fail(IssuanceCodes.inquiryLogoNotFound);
    const row = await this.deps.db.selectFrom('mass_issue_requests').selectAll()
      .where('organization', '=', org).where('logo', '=', query.logo).where('card_type', '=', query.serviceType).executeTakeFirst();
    if (!row) throw fail(IssuanceCodes.inquiryNotFound);
    const page = query.page ?? 1;
    const size = query.pageSize ?? 50;
    const rows = await this.deps.cards.repository.massPage(row.id, (page - 1) * size, page * size);
    const cards = [];
    for (const c of rows) {
      const shown = await shownCardNumber(organization, c.pan_token, () => this.deps.cards.repository.panOf(c as never));
      cards.push({
        sequence: c.mass_seq ?? 0, accountNumber: c.account_number, cardNumber: shown, customerNumber: c.customer_number,
        cardType: String(row.card_type), availableCreditLimitAmount: Number(c.credit_limit), creditLimitAmount: Number(c.credit_limit),
        cardStatus: String(c.status),
        // emboss keeps no balances or statements: nothing is due or used, and nothing has fallen due since the account opened.
        paymentDate: c.date_opened, cycleDueAmount: 0, totalDueAmount: 0, memoDebitAmount: 0, memoCreditAmount: 0, usedBalanceAmount: 0,
        accountStatus: c.account_status, isActive: !c.activation_required, cardBlockCode: c.block_code,
        accountBlockCodes: [{ key: '1', value: c.block_code_1 }, { key: '2', value: c.block_code_2 }],
        userAmounts: NO_USER_AMOUNTS, userDates: NO_USER_DATES, userCodes: NO_USER_CODES,
        expiryDate: expiryDate(c.expiry),
      });
    }
    await recordAudit(this.deps.db, actor, { action: 'mass.read', entityType: 'mass-issue', entityId: row.id, organization: org, details: { page, size } });
    return {
      outputArea: {
        hasMoreRecords: page * size < row.created,
        totalCardsCount: row.created,
        totalAvailableCreditLimitAmount: row.created * Number(row.credit_limit),
        totalPagesCount: Math.max(1, Math.ceil(row.created / size)),
        currentPage: page,
        progress: this.progressOf(row),
        cards,
      },
    };
  }

  async load(requestId: string) {
    return this.deps.db.selectFrom('mass_issue_requests').selectAll().where('id', '=', requestId).executeTakeFirst();
  }

  /** The request of an organization, logo and card type (CLI). */
  async find(organization: number, logo: number, cardType: number) {
    return this.deps.db.selectFrom('mass_issue_requests').selectAll()
      .where('organization', '=', organization).where('logo', '=', logo).where('card_type', '=', cardType).executeTakeFirst();
  }

  progressOf(row: NonNullable<RequestRow>): Progress {
    const now = this.deps.clock.now().getTime();
    const since = row.run_started_at ? new Date(row.run_started_at).getTime() : now;
    const madeThisRun = row.created - row.run_started_count;
    const seconds = Math.max((row.status === 'COMPLETED' && row.finished_at ? new Date(row.finished_at).getTime() : now) - since, 1) / 1000;
    const rate = madeThisRun > 0 ? madeThisRun / seconds : 0;
    const left = row.quantity - row.created;
    return {
      status: row.status, done: row.created, total: row.quantity, cardsPerSecond: Math.round(rate),
      etaSeconds: left === 0 ? 0 : rate > 0 ? Math.round(left / rate) : null,
    };
  }

  /** The answer to a submitted request. */
  private answerOf(row: NonNullable<RequestRow>) {
    return { outputArea: this.describe(row) };
  }

  /** The request as answered: every field of upstream's output area, as recorded ("" or 0 for a field not sent). */
  private describe(row: NonNullable<RequestRow>) {
    const stored = row.request as Record<string, unknown>;
    const text = (k: string) => (typeof stored[k] === 'string' ? stored[k] : '');
    const int = (k: string) => (typeof stored[k] === 'number' ? stored[k] : 0);
    return {
      organizationNumber: row.organization, logo: row.logo, cardType: row.card_type,
      dateLastMaintain: new Date(row.updated_at).toISOString().slice(0, 10), addStatus: 0, status: int('status') || 1,
      bankOrigin: int('bankOrigin'), branch: int('branch'), creditLimit: Number(row.credit_limit), minimumQuantity: int('minimumQuantity'),
      quantityToCreate: row.quantity, blockCode1: text('blockCode1'), blockCode2: text('blockCode2'), embosserCode: text('embosserCode'),
      pctId: text('pctId'), relationAMBS: text('relationAMBS'), promoCode: text('promoCode'),
      userCode1: int('userCode1'), userCode2: int('userCode2'), userCode3: int('userCode3'), expiryDate: expiryDate(row.expiry),
      scheme: int('scheme'), customerNumber: row.customer_number, inventoryQuantity: int('inventoryQuantity'), inventoryControl: text('inventoryControl'),
      prepaidCardFlag: int('prepaidCardFlag'), prepaidPlanNumber: int('prepaidPlanNumber'), globalQualification: text('globalQualification'),
      emblem: int('emblem'), embossedName1: text('embossedName1'), embossedName2: text('embossedName2'),
      relationshipNumber: text('relationshipNumber'), userData1: text('userData1'), userData2: text('userData2'), plasticID: text('plasticID'),
      posServiceCode: text('posServiceCode'), cardTechnology: text('cardTechnology'),
      progress: this.progressOf(row),
    };
  }
}
