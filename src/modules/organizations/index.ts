import { sql, type Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';
import { TtlCache } from '../../shared/ttl-cache.ts';

export interface Organization {
  number: number;
  name: string;
  panTokenEnabled: boolean;
  /** Name of the bureau key (BUR) for personalization records, if the organization has a bureau. */
  bureauKeyName: string | null;
  /** The bureau's armored OpenPGP public key, if files are to be PGP-encrypted. */
  bureauPgpPublicKey: string | null;
}

export interface Logo {
  organization: number;
  number: number;
  description: string;
  bin: string;
  panLength: number;
  expiryMonths: number;
  serviceCode: string;
  cardType: 'credit' | 'debit' | 'prepaid';
  currency: number;
  pin: {
    method: 'IBM3624' | 'PVV';
    length: number;
    decimalizationTable: string;
    pvki: number;
    maxInvalidTries: number;
    exceededAction: string;
  };
  dcvv2ValidityMinutes: number;
  keys: { cvk: string; pvk: string };
}

const LOGO_COLUMNS = [
  'description', 'bin', 'pan_length', 'expiry_months', 'service_code', 'pin_method', 'pin_length', 'decimalization_table', 'pvki',
  'max_pin_tries', 'pin_tries_exceeded_action', 'dcvv2_validity_minutes', 'currency', 'card_type', 'cvk_name', 'pvk_name',
] as const;

/** Organizations and their logos (products): configuration, written by the bootstrap file. */
export class OrganizationsService {
  private readonly orgs = new TtlCache<number, Organization | null>(30_000);
  private readonly logos = new TtlCache<string, Logo | null>(30_000);

  constructor(private readonly db: Kysely<DB>) {}

  /** `db`: the caller's transaction, when inside one (PGlite has one session). */
  async organization(number: number, db: Kysely<DB> = this.db): Promise<Organization | undefined> {
    const cached = this.orgs.get(number);
    if (cached !== undefined) return cached ?? undefined;
    const row = await db.selectFrom('organizations').selectAll().where('number', '=', number).executeTakeFirst();
    const org = row ? {
      number: row.number, name: row.name, panTokenEnabled: row.pan_token_enabled,
      bureauKeyName: row.bureau_key_name, bureauPgpPublicKey: row.bureau_pgp_public_key,
    } : null;
    this.orgs.set(number, org);
    return org ?? undefined;
  }

  async logo(organization: number, number: number, db: Kysely<DB> = this.db): Promise<Logo | undefined> {
    const key = `${organization}/${number}`;
    const cached = this.logos.get(key);
    if (cached !== undefined) return cached ?? undefined;
    const row = await db.selectFrom('logos').selectAll()
      .where('organization', '=', organization).where('number', '=', number).executeTakeFirst();
    const logo: Logo | null = row ? {
      organization: row.organization,
      number: row.number,
      description: row.description,
      bin: row.bin,
      panLength: row.pan_length,
      expiryMonths: row.expiry_months,
      serviceCode: row.service_code,
      cardType: row.card_type as Logo['cardType'],
      currency: row.currency,
      pin: {
        method: row.pin_method,
        length: row.pin_length,
        decimalizationTable: row.decimalization_table,
        pvki: row.pvki,
        maxInvalidTries: row.max_pin_tries,
        exceededAction: row.pin_tries_exceeded_action,
      },
      dcvv2ValidityMinutes: row.dcvv2_validity_minutes,
      keys: { cvk: row.cvk_name ?? '', pvk: row.pvk_name ?? '' },
    } : null;
    this.logos.set(key, logo);
    return logo ?? undefined;
  }

  /** Inserts or updates an organization (bootstrap). */
  async upsertOrganization(db: Kysely<DB>, org: Organization): Promise<void> {
    const values = { name: org.name, pan_token_enabled: org.panTokenEnabled, bureau_key_name: org.bureauKeyName, bureau_pgp_public_key: org.bureauPgpPublicKey };
    // Re-applying an unchanged file leaves rows (and their updated_at) as they are.
    await db.insertInto('organizations')
      .values({ number: org.number, ...values })
      .onConflict((oc) => oc.column('number').doUpdateSet({ ...values, updated_at: new Date() })
        .where(
          sql`(organizations.name, organizations.pan_token_enabled, organizations.bureau_key_name, organizations.bureau_pgp_public_key)`,
          'is distinct from',
          sql`(excluded.name, excluded.pan_token_enabled, excluded.bureau_key_name, excluded.bureau_pgp_public_key)`,
        ))
      .execute();
    this.orgs.clear();
  }

  /** Inserts or updates a logo (bootstrap). */
  async upsertLogo(db: Kysely<DB>, logo: Logo): Promise<void> {
    const values = {
      description: logo.description,
      bin: logo.bin,
      pan_length: logo.panLength,
      expiry_months: logo.expiryMonths,
      service_code: logo.serviceCode,
      pin_method: logo.pin.method,
      pin_length: logo.pin.length,
      decimalization_table: logo.pin.decimalizationTable,
      pvki: logo.pin.pvki,
      max_pin_tries: logo.pin.maxInvalidTries,
      pin_tries_exceeded_action: logo.pin.exceededAction,
      dcvv2_validity_minutes: logo.dcvv2ValidityMinutes,
      currency: logo.currency,
      card_type: logo.cardType,
      cvk_name: logo.keys.cvk,
      pvk_name: logo.keys.pvk,
    } satisfies Record<(typeof LOGO_COLUMNS)[number], unknown>;
    await db.insertInto('logos')
      .values({ organization: logo.organization, number: logo.number, ...values })
      .onConflict((oc) => oc.columns(['organization', 'number']).doUpdateSet({ ...values, updated_at: new Date() })
        .where(sql.raw(`(${LOGO_COLUMNS.map((c) => `logos.${c}`).join(', ')})`), 'is distinct from', sql.raw(`(${LOGO_COLUMNS.map((c) => `excluded.${c}`).join(', ')})`)))
      .execute();
    this.logos.clear();
  }
}
