import { Migrator, type Migration, type MigrationProvider } from 'kysely';
import type { Database } from './database.ts';
import * as m0001 from './migrations/0001_foundation.ts';
import * as m0002 from './migrations/0002_cards.ts';
import * as m0003 from './migrations/0003_pins.ts';
import * as m0004 from './migrations/0004_personalization.ts';
import * as m0005 from './migrations/0005_issuance.ts';
import * as m0006 from './migrations/0006_idempotency_storage.ts';
import * as m0007 from './migrations/0007_card_write_indexes.ts';
import * as m0008 from './migrations/0008_mass_issue_files.ts';
import * as m0009 from './migrations/0009_request_leases.ts';
import * as m0011 from './migrations/0011_card_daily_limits.ts';
import * as m0012 from './migrations/0012_client_wire_profile.ts';
import * as m0010 from './migrations/0010_request_admission.ts';
import * as m0013 from './migrations/0013_events.ts';

/** Migrations in order. A later issue adds its module's tables as the next file here. */
const migrations: Record<string, Migration> = {
  '0001_foundation': m0001,
  '0002_cards': m0002,
  '0003_pins': m0003,
  '0004_personalization': m0004,
  '0005_issuance': m0005,
  '0006_idempotency_storage': m0006,
  '0007_card_write_indexes': m0007,
  '0008_mass_issue_files': m0008,
  '0009_request_leases': m0009,
  '0011_card_daily_limits': m0011,
  '0012_client_wire_profile': m0012,
  '0010_request_admission': m0010,
  '0013_events': m0013,
};

class StaticProvider implements MigrationProvider {
  async getMigrations() { return migrations; }
}

/**
 * Applies pending migrations. `schema` pins Kysely's own bookkeeping tables to the schema the
 * store works in (otherwise Kysely may find another schema's tables and skip creating its own).
 */
export async function migrateToLatest(db: Database, schema?: string): Promise<string[]> {
  const migrator = new Migrator({ db, provider: new StaticProvider(), ...(schema ? { migrationTableSchema: schema } : {}) });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/** Identifies the migration set, so a cached migrated test template is rebuilt when it changes. */
export const migrationSetId = Object.keys(migrations).join(',');
