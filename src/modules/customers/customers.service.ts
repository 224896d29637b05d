import { sql, type Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';
import { RequestTakenOver, type Actor, type RecordedAnswer } from '../../shared/actor.ts';
import { Batcher, column } from '../../shared/batcher.ts';
import type { Clock } from '../../shared/clock.ts';
import { refusal as fail } from '../../shared/errors.ts';
import { pad19, randomRecordNumber, recordNumber } from '../../shared/ids.ts';
import { auditInsertFrom, auditInsertOfItems, auditRow, recordAudit, type AuditRow } from '../audit/index.ts';
import { ANSWER_COLUMNS, answerArrays, answeredWrite, answersOf, heldItems, keyTaken } from '../idempotency/index.ts';
import type { OrganizationsService } from '../organizations/index.ts';
import type { AddCustomerRequest, DemographicInquiryRequest, UpdateCustomerRequest } from './customers.schemas.ts';

type ReservedData = NonNullable<AddCustomerRequest['resvData']>;

/** Upstream codes (FirstVision Customers 1.3.0) used by this module. */
export const CustomerCodes = {
  orgNotFound: ['VPL5SGCZ4S', 'REQUESTED ORG NUMBER IS NOT FOUND'],
  alreadyExists: ['VPL5SAL15E', 'RECORD ALREADY EXISTS'],
  customerNotFound: ['VPL5SIC13S', 'CUSTOMER RECORD NOT FOUND OR ADD PENDING'],
  updateCustomerNotFound: ['VPL5SGC04S', 'CUSTOMER NUMBER NOT FOUND'],
  updateAccountNotFound: ['VPL5SGC03S', 'ACCOUNT NUMBER NOT FOUND'],
  badStatus: ['VPL5SGC09E', 'STATUS MUST BE NUMERIC AND VALID VALUES ARE 0, 1 OR 2 ONLY'],
  badVip: ['VPL5SGC10E', 'VIP STATUS MUST BE NUMERIC AND VALID VALUES ARE 0 OR 1 ONLY'],
  badMarital: ['VPL5SGC12E', 'MARITAL STATUS MUST BE NUMERIC AND VALUES ARE 0 THRU 4'],
  badGender: ['VPL5SGC40E', 'GENDER CODE MUST BE NUMERIC AND VALID VALUES ARE 0, 1 OR 2'],
  badBirthDate: ['VPL5SGC53E', 'DATE OF BIRTH MUST BE LESS THAN NEXT PROCESSING DATE'],
  badStatementIndicator: ['VPL5SNA24E', 'VALID VALUES 1 2 3 FOR STMT IND'],
  badDemographicIndicator: ['VPL5SGC06E', 'INVALID DEMOGRAPHIC DATA INDICATOR - VALID VALUES ARE SPACE,0,1,2'],
  /** Customer add: upstream lists no code for these (its schema types them as text of 19). */
  customerNumberNotNumeric: ['EMBU01E', 'CUSTOMER NUMBER MUST BE NUMERIC'],
  accountNumberNotNumeric: ['EMBU02E', 'ACCOUNT NUMBER MUST BE NUMERIC'],
} as const satisfies Record<string, readonly [string, string]>;


export interface Customer {
  customerNumber: string;
  organization: number;
  status: number;
  profile: CustomerProfile;
  updatedAt: Date;
}

interface CustomerProfile {
  keyData?: Record<string, unknown>;
  miscellaneous?: Record<string, unknown>;
  owner?: Record<string, unknown>;
  coOwner?: Record<string, unknown>;
  reserved?: Record<string, unknown>;
}

/** Finds the customer an account belongs to; given by the accounts module (which depends on this one). */
export type AccountOwnerLookup = (organization: number, accountNumber: string) => Promise<string | undefined>;

/** A customer of a customer add, with its audit record and its request's answer (see insertMany). */
interface CustomerInsert {
  number: string; organization: number; nameLine1: string; firstName: string; lastName: string; dateOfBirth: string | null;
  identification: string; profile: string; createdBy: string;
  audit: AuditRow;
  answer: RecordedAnswer | undefined;
}

export class CustomersService {
  /** Customer adds of concurrent requests go to the database together (one statement, see Batcher). */
  private readonly inserts = new Batcher((rows: CustomerInsert[]) => this.insertMany(rows));

  constructor(
    private readonly db: Kysely<DB>,
    private readonly organizations: OrganizationsService,
    private readonly clock: Clock,
    /** The owner of an account, when a request names an account instead of a customer (a read of the accounts module). */
    private readonly accountOwner: AccountOwnerLookup,
  ) {}

  async add(actor: Actor, request: AddCustomerRequest) {
    const key = request.customerData.customerKeyData;
    const org = key.organizationNumber;
    if (!(await this.organizations.organization(org))) throw fail(CustomerCodes.orgNotFound);
    // Upstream types both as text of 19; a number that is not digits cannot name a record.
    const given = recordNumber(key.customerNumber);
    if (given === null) throw fail(CustomerCodes.customerNumberNotNumeric);
    const accountNumber = recordNumber(key.accountNumber);
    if (accountNumber === null) throw fail(CustomerCodes.accountNumberNotNumeric);
    const owner = request.customerData.ownerCoOwnerData?.ownerData ?? {};
    const coOwner = request.customerData.ownerCoOwnerData?.coOwnerData;
    this.checkPerson(owner);
    if (coOwner) this.checkPerson(coOwner);

    const profile: CustomerProfile = {
      keyData: { coOwnerIndicator: key.coOwnerIndicator ?? 1, dualFlag: key.dualFlag ?? '0' },
      miscellaneous: request.customerData.customerMiscellaneousData ?? {},
      owner,
      ...(coOwner ? { coOwner } : {}),
      ...(request.resvData ? { reserved: request.resvData } : {}),
    };

    // A generated number is drawn again on the (rare) collision; a given one must be new.
    for (let attempt = 0; ; attempt++) {
      const customerNumber = given ?? randomRecordNumber();
      const result = {
        organizationNumber: org, organizationAssociatedToForeignAccount: 0, foreignCustomerOrganization: 0,
        accountNumber: accountNumber ?? pad19(''), customerNumber,
        ...reservedAnswer(request.resvData ?? {}, this.clock.now().toISOString().slice(0, 10)),
      };
      // The answer is made before the statement (the number is known): it commits with the customer.
      const answer = await actor.answer?.({ result });
      const row: CustomerInsert = {
        number: customerNumber, organization: org, nameLine1: str(owner.nameLine1), firstName: str(owner.firstName), lastName: str(owner.lastName),
        dateOfBirth: owner.dateOfBirth ?? null, identification: str(owner.identificationNumber), profile: JSON.stringify(profile), createdBy: actor.clientId,
        audit: auditRow(actor, { action: 'customer.add', entityType: 'customer', entityId: customerNumber, organization: org }), answer,
      };
      const outcome = await this.inserts.submit(row);
      if (outcome === 'made') return result;
      // Not made because of its request id: this run lost it (a customer add reserves its id first;
      // not reserving it, as card add, measured a long tail of latency here: see the README).
      if (outcome === 'request id taken') throw new RequestTakenOver();
      // Not made: the number was taken (drawn again).
      if (given || attempt >= 5) throw fail(CustomerCodes.alreadyExists);
    }
  }

  /**
   * The customers of concurrent customer adds in one statement, without a transaction: each
   * customer, its audit record and its request's answer commit together, and only while its run
   * holds the request id (see heldItems).
   * Answers, per customer, whether it was made, or not because of its request id, or not because
   * its number was taken.
   */
  private async insertMany(rows: CustomerInsert[]): Promise<Array<'made' | 'request id taken' | 'number taken'>> {
    const first = new Map<string, CustomerInsert>();
    for (const r of rows) if (!first.has(r.number)) first.set(r.number, r);
    const sent = [...first.values()];
    const col = <K extends keyof CustomerInsert>(k: K) => column(sent, k);
    const audit = sent.map((r) => r.audit);
    const made = await sql<{ n: string; made_: boolean; key_taken: boolean }>`
      with input as (
        select * from unnest(${col('number')}::text[], ${col('organization')}::int[], ${col('nameLine1')}::text[], ${col('firstName')}::text[],
          ${col('lastName')}::text[], ${col('dateOfBirth')}::date[], ${col('identification')}::text[], ${col('profile')}::jsonb[], ${col('createdBy')}::text[],
          ${column(audit, 'actor')}::text[], ${column(audit, 'request_id')}::text[], ${column(audit, 'action')}::text[], ${column(audit, 'entity_type')}::text[],
          ${column(audit, 'entity_id')}::text[], ${column(audit, 'organization')}::int[], ${column(audit, 'details')}::jsonb[],
          ${answerArrays(sent.map((r) => r.answer))})
          with ordinality as u(n, org, nl1, fn, ln, dob, idn, prof, by_, a_actor, a_request, a_action, a_type, a_id, a_org, a_details, ${ANSWER_COLUMNS}, i)
      ), ${heldItems()}, c as (
        insert into customers (customer_number, organization, status, name_line_1, first_name, last_name, date_of_birth, identification_number, profile, created_by)
        select n, org, 0, nl1, fn, ln, dob, idn, prof, by_ from go
        on conflict (customer_number) do nothing
        returning customer_number
      ), made as (
        select go.* from go join c on c.customer_number = go.n::bpchar
      ), a as (${auditInsertFrom(sql`select a_actor, a_request, a_action, a_type, a_id, a_org, a_details from made`)}
      ), journal as (${auditInsertOfItems(sent.map((r) => (r.answer?.audit ?? []) as AuditRow[]), sql`select i from made`)}
      ), ${answersOf('made')}
      select u.n, u.i in (select i from made) as made_, ${keyTaken()} as key_taken from input u`.execute(this.db);
    const outcomes = new Map(made.rows.map((r) => [r.n, r.made_ ? 'made' as const : r.key_taken ? 'request id taken' as const : 'number taken' as const]));
    // A number twice in this call: the later ones are taken (by the first).
    return rows.map((r) => (first.get(r.number) === r ? outcomes.get(r.number)! : 'number taken'));
  }

  /** A customer of the organization, or undefined. */
  async find(organization: number, customerNumber: string, db: Kysely<DB> = this.db): Promise<Customer | undefined> {
    const row = await db.selectFrom('customers').select(['customer_number', 'organization', 'status', 'profile', 'updated_at'])
      .where('customer_number', '=', pad19(customerNumber)).where('organization', '=', organization).executeTakeFirst();
    return row ? {
      customerNumber: row.customer_number, organization: row.organization, status: row.status,
      profile: row.profile as CustomerProfile, updatedAt: new Date(row.updated_at),
    } : undefined;
  }

  async demographics(actor: Actor, request: DemographicInquiryRequest) {
    const org = request.organizationNumber;
    if (!(await this.organizations.organization(org))) throw fail(CustomerCodes.orgNotFound);
    const customerNumber = await this.resolve(org, request.customerAccountCardNumber, request.numberType);
    const customer = customerNumber ? await this.find(org, customerNumber) : undefined;
    if (!customer) throw fail(CustomerCodes.customerNotFound);
    await recordAudit(this.db, actor, { action: 'customer.read', entityType: 'customer', entityId: customer.customerNumber, organization: org });
    const people = [customer.profile.owner, customer.profile.coOwner].filter((p): p is Record<string, unknown> => p !== undefined);
    const misc = customer.profile.miscellaneous ?? {};
    return {
      organizationNumber: org,
      customerNumber: customer.customerNumber,
      status: customer.status,
      vipStatus: String(misc.vipStatus ?? 0),
      sicCode: Number(misc.sicCode ?? 0),
      makerCoMakerIndicator: String(customer.profile.keyData?.coOwnerIndicator ?? 1),
      dateLastMaintenance: customer.updatedAt.toISOString().slice(0, 10),
      nameAddrData: people.map((p, i) => ({ sequence: i + 1, ...p })),
    };
  }

  async update(actor: Actor, request: UpdateCustomerRequest) {
    const org = request.organizationNumber;
    if (!(await this.organizations.organization(org))) throw fail(CustomerCodes.orgNotFound);
    const numberType = request.numberType ?? '1';
    const customerNumber = await this.resolve(org, request.customerNumber, numberType);
    if (!customerNumber) throw fail(numberType === '1' ? CustomerCodes.updateCustomerNotFound : CustomerCodes.updateAccountNotFound);
    if (request.status !== undefined && ![0, 1, 2].includes(request.status)) throw fail(CustomerCodes.badStatus);
    if (request.vipStatus !== undefined && ![0, 1].includes(request.vipStatus)) throw fail(CustomerCodes.badVip);
    if (request.demographicDataIndicator !== undefined && !['', ' ', '0', '1', '2'].includes(request.demographicDataIndicator)) {
      throw fail(CustomerCodes.badDemographicIndicator);
    }
    this.checkPerson(request);

    const {
      organizationNumber: _o, customerNumber: _c, numberType: _n, foreignUseIndicator: _f, demographicDataIndicator: _d,
      userDataIndicator: _u, status, vipStatus, sicCode, ...ownerChanges
    } = request;

    const accountNumber = numberType === '1' ? '' : request.customerNumber;
    return answeredWrite(this.db, actor, async (trx) => {
      const current = await this.find(org, customerNumber, trx);
      if (!current) throw fail(CustomerCodes.updateCustomerNotFound);
      const profile: CustomerProfile = {
        ...current.profile,
        owner: { ...(current.profile.owner ?? {}), ...ownerChanges },
        miscellaneous: {
          ...(current.profile.miscellaneous ?? {}),
          ...(vipStatus !== undefined ? { vipStatus } : {}),
          ...(sicCode !== undefined ? { sicCode } : {}),
        },
      };
      const owner = profile.owner!;
      await trx.updateTable('customers').set({
        ...(status !== undefined ? { status } : {}),
        name_line_1: str(owner.nameLine1),
        first_name: str(owner.firstName),
        last_name: str(owner.lastName),
        date_of_birth: (owner.dateOfBirth as string | undefined) ?? null,
        profile: JSON.stringify(profile),
        updated_at: this.clock.now(),
      }).where('customer_number', '=', customerNumber).execute();
      await recordAudit(trx, actor, {
        action: 'customer.update', entityType: 'customer', entityId: customerNumber, organization: org,
        details: { fields: Object.keys(ownerChanges).concat(status !== undefined ? ['status'] : [], vipStatus !== undefined ? ['vipStatus'] : []) },
      });
      return {
        outputArea: {
          organizationNumber: org,
          customerNumber,
          numberType,
          demographicDataIndicator: request.demographicDataIndicator ?? '1',
          userDataIndicator: request.userDataIndicator ?? '0',
          cmsOrganizationNumber: org,
          accountNumber: pad19(accountNumber),
        },
      };
    });
  }

  /** numberType 1: the number is a customer number; otherwise an account number whose owner is wanted. */
  private async resolve(org: number, number: string, numberType: string): Promise<string | undefined> {
    if (numberType === '1') return pad19(number);
    return this.accountOwner(org, pad19(number));
  }

  private checkPerson(p: { dateOfBirth?: string | undefined; maritalStatus?: string | undefined; genderCode?: number | undefined; statement2Indicator?: string | undefined }) {
    if (p.maritalStatus !== undefined && p.maritalStatus !== '' && !/^[0-4]$/.test(p.maritalStatus)) throw fail(CustomerCodes.badMarital);
    if (p.genderCode !== undefined && ![0, 1, 2].includes(p.genderCode)) throw fail(CustomerCodes.badGender);
    if (p.dateOfBirth !== undefined && p.dateOfBirth >= this.clock.now().toISOString().slice(0, 10)) throw fail(CustomerCodes.badBirthDate);
    if (p.statement2Indicator !== undefined && p.statement2Indicator !== '' && !/^[123]$/.test(p.statement2Indicator)) {
      throw fail(CustomerCodes.badStatementIndicator);
    }
  }
}

const str = (v: unknown) => (typeof v === 'string' ? v : '');


const INT32_MAX = 2147483647;
/** A reserved code as the answer types it (int32): the code sent when it is a whole number that fits, else 0. */
const reservedCode = (v: string | undefined) => {
  const t = (v ?? '').trim();
  return /^[0-9]{1,10}$/.test(t) && Number(t) <= INT32_MAX ? Number(t) : 0;
};

/**
 * The reserved fields of the Customer Add answer, from the request's resvData (kept as sent in the
 * profile): codes as whole numbers or 0, amounts or 0, dates as sent or else the date the customer
 * was added (a `format: date` field carries a real date, never "").
 */
function reservedAnswer(r: ReservedData, added: string) {
  return {
    reservedCode1: reservedCode(r.reservedCode1),
    reservedCode2: reservedCode(r.reservedCode2),
    reservedCode3: reservedCode(r.reservedCode3),
    reservedCode4: reservedCode(r.reservedCode4),
    reservedCode5: reservedCode(r.reservedCode5),
    reservedDate1: r.reservedDate1 ?? added,
    reservedDate2: r.reservedDate2 ?? added,
    reservedDate3: r.reservedDate3 ?? added,
    reservedDate4: r.reservedDate4 ?? added,
    reservedDate5: r.reservedDate5 ?? added,
    reservedAmount1: r.reservedAmt1 ?? 0,
    reservedAmount2: r.reservedAmt2 ?? 0,
    reservedAmount3: r.reservedAmt3 ?? 0,
    reservedAmount4: r.reservedAmt4 ?? 0,
    reservedAmount5: r.reservedAmt5 ?? 0,
  };
}
