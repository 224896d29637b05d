import { sql, type Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';
import type { Actor } from '../../shared/actor.ts';
import type { Clock } from '../../shared/clock.ts';
import { Batcher, byOrdinality, column, commaList } from '../../shared/batcher.ts';
import { refusal as fail } from '../../shared/errors.ts';
import { isBlankNumber, pad19, randomRecordNumber, recordNumber } from '../../shared/ids.ts';
import { isStorableAmount } from '../../shared/schema.ts';
import { recordAudit } from '../audit/index.ts';
import { answeredWrite } from '../idempotency/index.ts';
import type { Logo, OrganizationsService } from '../organizations/index.ts';
import type { CustomersService } from '../customers/index.ts';
import { type AccountInquiryHeaders, type AddAccountRequest, type BlockCodeRequest, type CustomerAccountsRequest } from './accounts.schemas.ts';

/** Upstream codes (FirstVision Accounts 1.3.0, Customers 1.3.0) used by this module. */
export const AccountCodes = {
  orgNotFound: ['VPL5SAA08S', 'REQUESTED ORG NUMBER IS NOT FOUND'],
  logoNotFound: ['VPL5SAA12S', 'LOGO RECORD NOT FOUND'],
  accountExists: ['VPL5SAA14S', 'ACCOUNT NUMBER ALREADY ON FILE'],
  badBillingCurrency: ['VPL5SAA21E', 'BILLING CURRENCY NOT NUMERIC'],
  badCardExpiration: ['VPL5SAA39E', 'CARD EXPIRATION NOT NUMERIC'],
  /** Account add: upstream lists no code for these (its schema types the numbers as text of 19). */
  accountNumberNotNumeric: ['EMBT01E', 'ACCOUNT NUMBER MUST BE NUMERIC'],
  relationshipNotNumeric: ['EMBT02E', 'RELATIONSHIP NUMBER MUST BE NUMERIC'],
  creditLimitTooLarge: ['EMBT03E', 'CREDIT LIMIT MUST BE LESS THAN 1,000,000,000,000,000'],
  badAccountType: ['VPL5SAA16E', 'ACCOUNT TYPE MUST = 0, 1, 2, OR 3'],
  badPrimary: ['VPL5SAA17E', 'PRIMARY ACCOUNT FLAG MUST EQUAL SPACE OR P'],
  customerRequired: ['VPL5SAA19E', 'CUSTOMER NUMBER REQUIRED'],
  customerNotFound: ['VPL5SIC13S', 'CUSTOMER RECORD NOT FOUND OR ADD PENDING'],
  cycleZero: ['VPL5SAA1PE', 'CYCLE FIELD MUST BE GREATER THAN ZEROS'],
  badCycle: ['VPL5SAA31E', 'CYCLE VALUE INVALID - MUST BE BETWEEN ZEROS AND 31'],
  badBlock1: ['VPL5SAA33E', 'BLOCK CODE 1 VALID VALUES ARE SPACE OR A - Z'],
  badBlock2: ['VPL5SAA34E', 'BLOCK CODE 2 VALID VALUES ARE SPACE OR A - Z'],
  badStatement: ['VPL5SAA35E', 'CUSTOMER STATEMENT FIELD MUST = 0 OR 1'],
  badLetter: ['VPL5SAA36E', 'CUSTOMER LETTER FIELD MUST = 0, 1 OR 2'],
  inquiryOrgNotFound: ['VPL5SAI07S', 'ORGANIZATION NOT FOUND ON FILE'],
  inquiryNumberMissing: ['VPL5SAI04E', 'REQUESTED CARD/ACCT NUMBER IS NOT NUMERIC OR EQUAL SPACES'],
  accountNotFound: ['VPL5SAI09S', 'ACCOUNT NUMBER NOT FOUND'],
  blockOrgNotFound: ['VPL5SAB10S', 'ORGANIZATION NUMBER NOT FOUND'],
  blockBadForeignUse: ['VPL5SAB21E', 'INVALID FOREIGN USE IND SPECIFIED - VALID VALUES ARE 0-2'],
  blockBadFunction: ['VPL5SAB22E', 'INVALID FUNCTION CODE - VALID VALUES ARE B OR U'],
  blockBadCode: ['VPL5SAB23E', 'INVALID BLOCK CODE'],
  unblockNeedsSpace: ['VPL5SAB24E', 'BLOCK CODE MUST EQUAL SPACE TO UNBLOCK ACCOUNT'],
  unblockNeedsSlot: ['VPL5SAB25E', 'MUST SPECIFY ACCOUNT BLOCK CODE 1 OR 2 TO UNBLOCK ACCOUNT'],
  blockBadIndicator: ['VPL5SAB26E', 'BLOCK CODE INDICATOR MUST BE NUMERIC AND EQUAL 0 1 OR 2'],
  listOrgNotFound: ['VPL5SCA14S', 'ORGANIZATION NOT FOUND ON FILE'],
  listCustomerInvalid: ['VPL5SCA07E', 'CUSTOMER NUMBER IS INVALID'],
  listBadToken: ['VPL5SCA08E', 'INVALID TOKEN DATA PASSED TO SERVICE'],
  listBadFunction: ['VPL5SCA09E', 'SERVICE FUNCTION CODE IS INVALID'],
} as const satisfies Record<string, readonly [string, string]>;

const BLOCK_CODE = /^[A-Z ]?$/;
const PAGE_SIZE = 20;

/** Account internal status: A active (the only status emboss sets today), C closed. */
export type AccountStatus = 'A' | 'C';

export interface Account {
  accountNumber: string;
  organization: number;
  logo: number;
  customerNumber: string;
  status: string;
  blockCode1: string;
  blockCode2: string;
  creditLimit: number;
  billingCycle: number;
  currency: number;
  shortName: string;
  relationshipNumber: string;
  dateOpened: string;
}

/** Resolves a card number or PAN token to its account (a read of the cards module). */
export type CardAccountLookup = (organization: number, card: string) => Promise<string | undefined>;

/**
 * The owner of an account, read straight from the accounts table: for the customers module,
 * which the accounts service itself uses (so it cannot take the service).
 */
export function accountOwnerQuery(db: Kysely<DB>) {
  return async (organization: number, accountNumber: string): Promise<string | undefined> =>
    (await db.selectFrom('accounts').select('customer_number').where('organization', '=', organization).where('account_number', '=', accountNumber).executeTakeFirst())?.customer_number;
}

export class AccountsService {
  constructor(
    private readonly db: Kysely<DB>,
    private readonly organizations: OrganizationsService,
    private readonly customers: CustomersService,
    private readonly clock: Clock,
    private readonly cardAccount: CardAccountLookup,
  ) {}

  private readonly lookups = new Batcher<{ organization: number; accountNumber: string }, Account | undefined>(async (keys) => {
    // The columns an Account is made of, not a.*: the profile (JSON) and the row's times would be parsed for nothing.
    const found = await sql<Parameters<typeof toAccount>[0] & { i: string | number }>`
      select k.i, a.account_number, a.organization, a.logo, a.customer_number, a.status, a.block_code_1, a.block_code_2, a.credit_limit,
        a.billing_cycle, a.currency, a.short_name, a.relationship_number, a.date_opened
      from unnest(${column(keys, 'organization')}::int[], ${column(keys, 'accountNumber')}::bpchar[]) with ordinality as k(organization, account_number, i)
      join accounts a on a.account_number = k.account_number and a.organization = k.organization`.execute(this.db);
    return byOrdinality(keys.length, found.rows, toAccount);
  });

  async add(actor: Actor, request: AddAccountRequest, db: Kysely<DB> = this.db) {
    const a = request.accountData;
    if (!(await this.organizations.organization(a.organization, db))) throw fail(AccountCodes.orgNotFound);
    const logo = await this.organizations.logo(a.organization, a.logo, db);
    if (!logo) throw fail(AccountCodes.logoNotFound);
    if (isBlankNumber(a.customerNumber)) throw fail(AccountCodes.customerRequired);
    // Upstream types the numbers as text of 19: one that is not digits cannot name a record.
    const customerNumber = recordNumber(a.customerNumber);
    if (!customerNumber) throw fail(AccountCodes.customerNotFound);
    const given = recordNumber(a.accountNumber);
    if (given === null) throw fail(AccountCodes.accountNumberNotNumeric);
    const relationship = recordNumber(a.relationshipNumber);
    if (relationship === null) throw fail(AccountCodes.relationshipNotNumeric);
    // Upstream's 17 digits up to .99 read as the double 1e15, which numeric(17, 2) cannot hold (AMOUNT_MAX).
    if (!isStorableAmount(a.creditLimit)) throw fail(AccountCodes.creditLimitTooLarge);
    const currency = (a.billingCurrency ?? '').trim();
    if (currency !== '' && !/^[0-9]{1,3}$/.test(currency)) throw fail(AccountCodes.badBillingCurrency);
    const expiry = (a.cardExpirationDate ?? '').trim();
    if (expiry !== '' && !/^[0-9]{4}$/.test(expiry)) throw fail(AccountCodes.badCardExpiration);
    if (a.billingAccountType !== undefined && (a.billingAccountType < 0 || a.billingAccountType > 3)) throw fail(AccountCodes.badAccountType);
    if (a.primaryAccount !== undefined && !['', ' ', 'P'].includes(a.primaryAccount)) throw fail(AccountCodes.badPrimary);
    if (a.billingCycle !== undefined && a.billingCycle === 0) throw fail(AccountCodes.cycleZero);
    if (a.billingCycle !== undefined && (a.billingCycle < 0 || a.billingCycle > 31)) throw fail(AccountCodes.badCycle);
    if (a.blockCode1 !== undefined && !BLOCK_CODE.test(a.blockCode1)) throw fail(AccountCodes.badBlock1);
    if (a.blockCode2 !== undefined && !BLOCK_CODE.test(a.blockCode2)) throw fail(AccountCodes.badBlock2);
    if (a.customerStatement !== undefined && ![0, 1].includes(a.customerStatement)) throw fail(AccountCodes.badStatement);
    if (a.customerLetter !== undefined && ![0, 1, 2].includes(a.customerLetter)) throw fail(AccountCodes.badLetter);

    const {
      organization, logo: _l, accountNumber: _a, customerNumber: _c, relationshipNumber: _r, shortName, creditLimit,
      billingCurrency: _b, billingCycle, blockCode1, blockCode2, dateOpened, ...profile
    } = a;

    return answeredWrite(db, actor, async (trx) => {
      // The customer is checked inside the transaction: a concurrent purge cannot slip between.
      if (!(await this.customers.find(organization, customerNumber, trx))) throw fail(AccountCodes.customerNotFound);
      // ON CONFLICT DO NOTHING rather than catching a unique violation: it keeps a surrounding
      // transaction (instant card) usable when a generated number collides and is drawn again.
      for (let attempt = 0; ; attempt++) {
        const accountNumber = given ?? randomRecordNumber();
        const inserted = await trx.insertInto('accounts').values({
          account_number: accountNumber,
          organization,
          logo: logo.number,
          customer_number: customerNumber,
          status: 'A',
          block_code_1: (blockCode1 ?? '').trim(),
          block_code_2: (blockCode2 ?? '').trim(),
          credit_limit: creditLimit ?? 0,
          billing_cycle: billingCycle ?? 1,
          currency: currency !== '' ? Number(currency) : logo.currency,
          short_name: shortName ?? '',
          relationship_number: relationship ?? '',
          date_opened: dateOpened ?? this.clock.now().toISOString().slice(0, 10),
          profile: JSON.stringify(profile),
          created_by: actor.clientId,
        }).onConflict((oc) => oc.column('account_number').doNothing()).executeTakeFirst();
        if (Number(inserted.numInsertedOrUpdatedRows ?? 0n) === 0) {
          if (given || attempt >= 5) throw fail(AccountCodes.accountExists);
          continue;
        }
        await recordAudit(trx, actor, {
          action: 'account.add', entityType: 'account', entityId: accountNumber, organization,
          details: { customerNumber, logo: logo.number, creditLimit: creditLimit ?? 0 },
        });
        return { organization, foreignOrganization: '0', accountNumber, creditLimit: creditLimit ?? 0 };
      }
    });
  }

  /**
   * Opens `count` accounts for one customer in one statement per draw (mass issue): generated
   * numbers, collisions drawn again. Returns the account numbers in order. The caller audits.
   */
  async addMany(db: Kysely<DB>, actor: Actor, spec: { organization: number; logo: Logo; customerNumber: string; creditLimit: number; count: number; profile: Record<string, unknown> }): Promise<string[]> {
    const out: string[] = [];
    const today = this.clock.now().toISOString().slice(0, 10);
    while (out.length < spec.count) {
      const drawn = new Set<string>();
      while (drawn.size < spec.count - out.length) drawn.add(randomRecordNumber());
      const numbers = [...drawn];
      // Only the numbers already taken come back (almost always none), not every inserted one.
      const taken = await sql<{ n: string }>`
        with input as (select n from unnest(string_to_array(${commaList(numbers)}, ',')) as n),
        inserted as (
          insert into accounts (account_number, organization, logo, customer_number, status, block_code_1, block_code_2, credit_limit,
            billing_cycle, currency, short_name, relationship_number, date_opened, profile, created_by)
          select n, ${spec.organization}::int, ${spec.logo.number}::int, ${spec.customerNumber}, 'A', '', '', ${spec.creditLimit}::numeric,
            1, ${spec.logo.currency}::int, '', '', ${today}::date, ${JSON.stringify(spec.profile)}::jsonb, ${actor.clientId}
          from input
          on conflict (account_number) do nothing
          returning account_number::text
        )
        select n from input where n not in (select account_number from inserted)`.execute(db);
      const refused = new Set(column(taken.rows, 'n'));
      for (const n of numbers) if (!refused.has(n)) out.push(n);
    }
    return out;
  }

  async find(organization: number, accountNumber: string, db: Kysely<DB> = this.db): Promise<Account | undefined> {
    // Outside a transaction, concurrent look-ups go to the database together (one statement).
    if (!db.isTransaction) return this.lookups.submit({ organization, accountNumber: pad19(accountNumber) });
    const row = await db.selectFrom('accounts').selectAll()
      .where('account_number', '=', pad19(accountNumber)).where('organization', '=', organization).executeTakeFirst();
    return row ? toAccount(row) : undefined;
  }

  async inquire(actor: Actor, headers: AccountInquiryHeaders) {
    const org = headers['organization-number'];
    if (!(await this.organizations.organization(org))) throw fail(AccountCodes.inquiryOrgNotFound);
    const number = headers['account-number'] && !isBlankNumber(headers['account-number'])
      ? headers['account-number']
      : headers['card-number'] ? await this.cardAccount(org, headers['card-number']) : undefined;
    if (number === undefined && !headers['card-number']) throw fail(AccountCodes.inquiryNumberMissing);
    const account = number ? await this.find(org, number) : undefined;
    if (!account) throw fail(AccountCodes.accountNotFound);
    const owner = await this.customers.find(org, account.customerNumber);
    await recordAudit(this.db, actor, { action: 'account.read', entityType: 'account', entityId: account.accountNumber, organization: org });
    return {
      currencyCode: account.currency,
      accountData: {
        organization: account.organization,
        accountNumber: account.accountNumber,
        logo: account.logo,
        shortName: account.shortName,
        customerNumber: account.customerNumber,
        internalStatus: account.status,
        blockCode1: account.blockCode1,
        blockCode2: account.blockCode2,
        billingCycle: account.billingCycle,
        creditLimit: account.creditLimit,
        availableCredit: account.creditLimit,
        currentBalance: 0,
        dateOpened: account.dateOpened,
        relationshipNumber: account.relationshipNumber,
      },
      customerData: {
        customerNumber: account.customerNumber,
        nameLine1: String(owner?.profile.owner?.nameLine1 ?? ''),
      },
    };
  }

  async updateBlockCode(actor: Actor, request: BlockCodeRequest) {
    const org = request.organizationNumber;
    if (!(await this.organizations.organization(org))) throw fail(AccountCodes.blockOrgNotFound);
    if (!['B', 'U'].includes(request.functionCode)) throw fail(AccountCodes.blockBadFunction);
    if (![0, 1, 2].includes(request.blockCodeIndicator)) throw fail(AccountCodes.blockBadIndicator);
    if (!['', ' ', '0', '1', '2'].includes(request.foreignUse)) throw fail(AccountCodes.blockBadForeignUse);
    const code = (request.blockCode ?? '').trim();
    if (request.functionCode === 'B' && !/^[A-Z]$/.test(code)) throw fail(AccountCodes.blockBadCode);
    if (request.functionCode === 'U' && code !== '') throw fail(AccountCodes.unblockNeedsSpace);
    if (request.functionCode === 'U' && request.blockCodeIndicator === 0) throw fail(AccountCodes.unblockNeedsSlot);

    return answeredWrite(this.db, actor, async (trx) => {
      // Row lock: two block-code updates on one account apply one after the other.
      const row = await trx.selectFrom('accounts').selectAll()
        .where('account_number', '=', pad19(request.accountNumber)).where('organization', '=', org)
        .forUpdate().executeTakeFirst();
      if (!row) throw fail(AccountCodes.accountNotFound);
      let slot = request.blockCodeIndicator;
      // Indicator 0: the first free slot; with both taken, block code 2 is replaced.
      if (slot === 0) slot = row.block_code_1 === '' ? 1 : 2;
      const value = request.functionCode === 'B' ? code : '';
      const change = slot === 1 ? { block_code_1: value } : { block_code_2: value };
      await trx.updateTable('accounts').set({ ...change, updated_at: this.clock.now() })
        .where('account_number', '=', row.account_number).execute();
      await recordAudit(trx, actor, {
        action: request.functionCode === 'B' ? 'account.block' : 'account.unblock', entityType: 'account',
        entityId: row.account_number, organization: org, details: { slot, blockCode: value, previous: slot === 1 ? row.block_code_1 : row.block_code_2 },
      });
      return {
        localOrganization: org,
        accountNumber: row.account_number,
        foreignUse: request.foreignUse,
        functionCode: request.functionCode,
        blockCode1Local: slot === 1 ? value : row.block_code_1,
        blockCode2Local: slot === 2 ? value : row.block_code_2,
      };
    });
  }

  /** The accounts of a customer, 20 at a time, in account-number order (POST /customer/accountNumber). */
  async listByCustomer(actor: Actor, request: CustomerAccountsRequest) {
    const org = await this.organizations.organization(request.organizationNumber);
    if (!org) throw fail(AccountCodes.listOrgNotFound);
    const fn = (request.functionCode ?? '').trim();
    if (!['', 'N', 'P'].includes(fn)) throw fail(AccountCodes.listBadFunction);
    const customerNumber = pad19(request.customerNumber);
    if (!(await this.customers.find(org.number, customerNumber))) throw fail(AccountCodes.listCustomerInvalid);
    const start = request.startToken?.accountNumber;
    if (fn !== '' && isBlankNumber(start)) throw fail(AccountCodes.listBadToken);

    let q = this.db.selectFrom('accounts').select(['account_number', 'organization', 'logo', 'status'])
      .where('customer_number', '=', customerNumber).where('organization', '=', org.number);
    if (fn === 'N') q = q.where('account_number', '>', pad19(start!)).orderBy('account_number', 'asc');
    else if (fn === 'P') q = q.where('account_number', '<', pad19(start!)).orderBy('account_number', 'desc');
    else q = q.orderBy('account_number', 'asc');
    const rows = await q.limit(PAGE_SIZE + 1).execute();
    const more = rows.length > PAGE_SIZE;
    const page = rows.slice(0, PAGE_SIZE);
    if (fn === 'P') page.reverse();

    const logoNames = new Map<number, string>();
    for (const r of page) {
      if (!logoNames.has(r.logo)) logoNames.set(r.logo, (await this.organizations.logo(r.organization, r.logo))?.description ?? '');
    }
    await recordAudit(this.db, actor, { action: 'customer.accounts.read', entityType: 'customer', entityId: customerNumber, organization: org.number });
    const first = page[0];
    const last = page[page.length - 1];
    return {
      nextToken: { accountOrganizationNext: last?.organization ?? 0, accountNumberNext: last?.account_number ?? '', accountTypeNext: 0 },
      prevToken: { accountOrganizationPrev: first?.organization ?? 0, accountNumberPrev: first?.account_number ?? '', accountTypePrev: 0 },
      more: more ? 'Y' : 'N',
      numberOfOccurrences: page.length,
      acctTable: page.map((r) => ({
        organizationNumber: r.organization,
        accountNumber: r.account_number,
        associationType: 0,
        organizationName: org.name,
        logo: r.logo,
        logoDescription: logoNames.get(r.logo) ?? '',
        accountInternalStatus: r.status,
      })),
    };
  }
}

/** An account from its table row (also for a module that reads the row in its own statement). */
export function toAccount(row: {
  account_number: string; organization: number; logo: number; customer_number: string; status: string; block_code_1: string;
  block_code_2: string; credit_limit: string; billing_cycle: number; currency: number; short_name: string; relationship_number: string;
  date_opened: string | Date;
}): Account {
  return {
    accountNumber: row.account_number,
    organization: row.organization,
    logo: row.logo,
    customerNumber: row.customer_number,
    status: row.status,
    blockCode1: row.block_code_1,
    blockCode2: row.block_code_2,
    creditLimit: Number(row.credit_limit),
    billingCycle: row.billing_cycle,
    currency: row.currency,
    shortName: row.short_name,
    relationshipNumber: row.relationship_number,
    dateOpened: typeof row.date_opened === 'string' ? row.date_opened.slice(0, 10) : row.date_opened.toISOString().slice(0, 10),
  };
}

