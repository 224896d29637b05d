import { sql, type Kysely } from 'kysely';
import { readFileSync } from 'node:fs';
import type { DB } from '../../db/schema.ts';
import type { ConfigPath, ParsedBootstrap } from '../../shared/bootstrap-document.ts';
import { ConfigError } from '../../shared/errors.ts';
import { SecurityModuleError, type KeyType, type SecurityModule } from '../../security-module/port.ts';
import type { KeysService } from '../keys/index.ts';
import type { OrganizationsService } from '../organizations/index.ts';
import { wireProfileOf, type ClientsService } from '../clients/index.ts';
import { recordAudit } from '../audit/index.ts';
import { systemActor } from '../../shared/actor.ts';

/** Advisory lock id for applying the bootstrap file (any fixed 64-bit number). */
const BOOTSTRAP_LOCK = 0x656d626f7373;

export interface SetupDeps {
  db: Kysely<DB>;
  sm: SecurityModule;
  keys: KeysService;
  organizations: OrganizationsService;
  clients: ClientsService;
  env: NodeJS.ProcessEnv;
}

export interface SetupReport {
  keysCreated: string[];
  keysKept: string[];
  organizations: number;
  logos: number;
  clients: number;
}

/**
 * Applies the bootstrap file in one transaction: every declared organization, logo, key and
 * client is created or brought up to date, and nothing is written if any line is wrong. Keys
 * are immutable under their name: a declared key that exists keeps its stored value, and a
 * declaration whose components give another key check value is refused (re-keying takes a new
 * name).
 */
export async function applyBootstrap(deps: SetupDeps, parsed: ParsedBootstrap): Promise<SetupReport> {
  const { config, where } = parsed;
  const fail = (path: ConfigPath, message: string): never => { throw new ConfigError(`${where(path)}: ${message}`); };
  const report: SetupReport = { keysCreated: [], keysKept: [], organizations: 0, logos: 0, clients: 0 };

  // Secrets and key material are prepared (and checked) before the transaction opens.
  const secrets = config.clients.map((c, i) => {
    const secret = c.secret ?? deps.env[c.secretEnv!];
    if (!secret) fail(['clients', i, 'secretEnv'], `environment variable ${c.secretEnv} is not set`);
    if (secret!.length < 16) fail(['clients', i], `the secret of client ${c.clientId} must have at least 16 characters`);
    return secret!;
  });

  await deps.db.transaction().execute(async (trx) => {
    // Processes starting together against one PostgreSQL apply the file one after the other.
    await sql`select pg_advisory_xact_lock(${BOOTSTRAP_LOCK})`.execute(trx);
    for (const [i, k] of config.keys.entries()) {
      const existing = await deps.keys.find(k.name, trx);
      if (existing && existing.type !== k.type) fail(['keys', i, 'type'], `key ${k.name} exists with type ${existing.type}`);
      if (k.components) {
        let imported;
        try {
          imported = await deps.sm.importKey({ type: k.type as KeyType, components: k.components, ...(k.kcv ? { kcv: k.kcv } : {}), ...(k.algorithm ? { algorithm: k.algorithm } : {}) });
        } catch (err) {
          if (err instanceof SecurityModuleError) fail(['keys', i, err.code === 'KCV_MISMATCH' ? 'kcv' : 'components'], `key ${k.name}: ${err.message}`);
          throw err;
        }
        if (existing) {
          if (existing.kcv !== imported!.kcv) fail(['keys', i], `key ${k.name} exists with check value ${existing.kcv}; a new key needs a new name`);
          report.keysKept.push(k.name);
          continue;
        }
        await deps.keys.store(trx, k.name, imported!, 'components');
        report.keysCreated.push(k.name);
      } else if (existing) {
        report.keysKept.push(k.name);
      } else {
        const generated = await deps.sm.generateKey({ type: k.type as KeyType, ...(k.algorithm ? { algorithm: k.algorithm } : {}) });
        await deps.keys.store(trx, k.name, generated, 'generated');
        report.keysCreated.push(k.name);
      }
    }
    await deps.keys.ensureSystemKeys(trx);

    for (const [i, org] of config.organizations.entries()) {
      let pgp: string | null = null;
      if (org.personalization?.pgpPublicKeyFile) {
        try {
          pgp = readFileSync(org.personalization.pgpPublicKeyFile, 'utf8');
        } catch {
          fail(['organizations', i, 'personalization', 'pgpPublicKeyFile'], `cannot read ${org.personalization.pgpPublicKeyFile}`);
        }
      }
      await deps.organizations.upsertOrganization(trx, {
        number: org.number, name: org.name, panTokenEnabled: org.panToken,
        bureauKeyName: org.personalization?.bureauKey ?? null, bureauPgpPublicKey: pgp,
      });
      report.organizations++;
      for (const logo of org.logos) {
        await deps.organizations.upsertLogo(trx, { ...logo, organization: org.number });
        report.logos++;
      }
    }

    for (const [i, c] of config.clients.entries()) {
      await deps.clients.upsert(trx, {
        clientId: c.clientId,
        apikey: c.apikey,
        secret: secrets[i]!,
        organizations: c.organizations,
        scopes: c.scopes,
        keyAssociations: c.keyAssociations,
        cardNumberKey: c.cardNumberKey ?? null,
        tokenTtlSeconds: c.tokenTtlSeconds,
        wire: wireProfileOf(c.successEnvelope, c.authentication),
      });
      report.clients++;
    }

    await recordAudit(trx, systemActor('bootstrap'), {
      action: 'bootstrap.apply', entityType: 'configuration', entityId: 'bootstrap',
      details: { keysCreated: report.keysCreated, organizations: report.organizations, logos: report.logos, clients: report.clients },
    });
  });
  return report;
}
