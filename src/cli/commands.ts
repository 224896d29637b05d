import { createContainer, type Container } from '../container.ts';
import { readBootstrapFile } from '../config/bootstrap.ts';
import { openStorage } from '../db/database.ts';
import { migrateToLatest } from '../db/migrate.ts';
import type { Settings } from '../config/env.ts';
import type { Logger } from '../shared/logger.ts';
import type { Actor } from '../shared/actor.ts';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Presets, SingleBar } from 'cli-progress';
import type { WrittenFile } from '../modules/personalization/index.ts';
import { UsageError, type ParsedCommand } from './args.ts';

/*
 * What each command does, once its command line is parsed and checked (src/cli/index.ts). Loaded
 * only then: the database, the container and their packages take most of a second to load, which
 * a command line that asks for help or is wrong should not wait for.
 */

/** Who acts for a command line, in the audit trail and as creator of the records ("cli"). */
const cliActor = (): Actor => ({ clientId: 'cli', requestId: `cli-${randomUUID()}` });

const printJson = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`);

/** Runs `work` with a container of the command's own (no job worker), closed afterwards whatever happens. */
async function withContainer<T>({ settings, logger }: { settings: Settings; logger: Logger }, work: (container: Container) => Promise<T>): Promise<T> {
  const container = await createContainer({ settings, logger, jobs: false });
  try {
    return await work(container);
  } finally {
    await container.close();
  }
}

/** Runs a command whose arguments were parsed and checked. */
export async function runParsed(name: string, { values, args }: ParsedCommand, { settings, logger }: { settings: Settings; logger: Logger }): Promise<number | undefined> {
  const json = values.json === true;
  const text = (flag: string) => values[flag] as string | undefined;
  const int = (flag: string) => (values[flag] === undefined ? undefined : Number(values[flag]));
  switch (name) {
    case 'migrate': {
      const storage = await openStorage(settings.DATABASE_URL ? { databaseUrl: settings.DATABASE_URL } : { dataDir: join(settings.dataDir, 'pgdata') });
      try {
        const applied = await migrateToLatest(storage.db, storage.postgres?.schema);
        logger.info({ migrations: applied }, 'migrations applied');
        if (json) printJson({ applied });
        else process.stdout.write(applied.length ? applied.map((m) => `${m}\n`).join('') : 'the database is up to date\n');
      } finally {
        await storage.close();
      }
      return 0;
    }
    case 'config check': {
      const file = args[0]!;
      const { config } = readBootstrapFile(file);
      const counts = { organizations: config.organizations.length, keys: config.keys.length, clients: config.clients.length };
      if (json) printJson({ file, ok: true, ...counts });
      else process.stdout.write(`${file}: ${counts.organizations} organizations, ${counts.keys} keys, ${counts.clients} clients: OK\n`);
      return 0;
    }
    case 'keys': {
      await withContainer({ settings, logger }, async (container) => {
        const keys = await container.keys.list();
        if (json) printJson(keys);
        else for (const k of keys) process.stdout.write(`${k.name}\t${k.type}\t${k.kcv}\t${k.origin}\n`);
      });
      return 0;
    }
    case 'customers add': {
      await withContainer({ settings, logger }, async (container) => {
        const owner = {
          ...(text('first-name') !== undefined ? { firstName: text('first-name') } : {}),
          ...(text('last-name') !== undefined ? { lastName: text('last-name') } : {}),
        };
        // The body POST /customer/l8v2 takes; its checks (organization on file, numbers) are the service's.
        const answer = await container.customers.add(cliActor(), {
          customerData: {
            customerKeyData: { organizationNumber: int('org')!, customerNumber: text('customer-number') ?? '' },
            ...(Object.keys(owner).length ? { ownerCoOwnerData: { ownerData: owner } } : {}),
          },
        });
        if (json) printJson(answer);
        else process.stdout.write(`${answer.customerNumber}\n`);
      });
      return 0;
    }
    case 'issue-batch': {
      await withContainer({ settings, logger }, async (container) => {
        const org = int('org')!;
        const logo = int('logo')!;
        const cardType = int('card-type') ?? 1;
        const quantity = int('quantity')!;
        const existing = await container.issuance.find(org, logo, cardType);
        const customer = text('customer') ?? existing?.customer_number;
        if (!customer) throw new UsageError(name, '--customer NUMBER is required for a new request (emboss customers add makes a customer)');
        const actor = cliActor();
        if (!existing || quantity !== existing.quantity) {
          await container.issuance.submit(actor, {
            organizationNumber: org, logo, cardType, functionType: existing ? 'M' : 'A', quantityToCreate: quantity,
            customerNumber: customer,
            ...(values['credit-limit'] !== undefined ? { creditLimit: int('credit-limit')! } : {}),
            ...(values.expiry !== undefined ? { expiryDate: text('expiry')! } : {}),
          });
        }
        const request = (await container.issuance.find(org, logo, cardType))!;
        const bar = new SingleBar({ format: 'mass issue {bar} {value}/{total} cards | {rate} cards/s | ETA {eta_formatted}', hideCursor: true }, Presets.shades_classic);
        bar.start(request.quantity, request.created, { rate: 0 });
        const started = Date.now();
        const cpuAtStart = process.cpuUsage();
        // Full bureau files are written while the cards are issued; the remainder after.
        const files: WrittenFile[] = [];
        const result = await container.issuance.run(request.id, {
          actor,
          ...(values.chunk !== undefined ? { chunk: int('chunk')! } : {}),
          ...(values.parallel !== undefined ? { parallel: int('parallel')! } : {}),
          onProgress: (p) => bar.update(p.done, { rate: p.cardsPerSecond }),
          ...(values['records-per-file'] !== undefined ? { recordsPerFile: int('records-per-file')! } : {}),
          alongside: async () => { files.push(...await container.personalization.writePlanned()); },
        });
        bar.stop();
        const issued = (Date.now() - started) / 1000;
        const during = files.length;
        files.push(...await container.personalization.flush());
        const seconds = (Date.now() - started) / 1000;
        const cpu = process.cpuUsage(cpuAtStart);
        const made = Math.max(1, result.done - request.created);
        const summary = {
          requestId: request.id, status: result.status, done: result.done, total: result.total, madeNow: result.done - request.created,
          issueSeconds: issued, cardsPerSecond: Math.round(made / issued), cpuMicrosecondsPerCard: Math.round((cpu.user + cpu.system) / made),
          files: files.map((f) => ({ name: f.name, records: f.records })), filesWrittenAlongside: during, seconds,
          peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
        };
        if (json) printJson(summary);
        else {
          process.stdout.write(`${result.done} cards in ${issued.toFixed(1)} s (${summary.cardsPerSecond} cards/s, `
            + `${summary.cpuMicrosecondsPerCard} µs CPU per card in this process); `
            + `${files.length} personalization file(s), ${during} of them written alongside the cards, the rest in ${(seconds - issued).toFixed(1)} s more; `
            + `peak RSS ${summary.peakRssMb} MB\n`);
        }
      });
      return 0;
    }
    case 'files list': case 'files flush': case 'files reexport': {
      await withContainer({ settings, logger }, async (container) => {
        if (name === 'files flush') {
          const written = (await container.personalization.flush()).map((f) => ({ name: f.name, records: f.records }));
          if (json) printJson(written);
          else for (const f of written) process.stdout.write(`${f.name}\t${f.records}\n`);
        } else if (name === 'files reexport') {
          const [file, folder] = args as [string, string];
          const info = await container.personalization.reexport(file, folder);
          if (json) printJson({ name: info.name, size: info.size, folder });
          else process.stdout.write(`${info.name} copied to ${folder} (${info.size} bytes)\n`);
        } else {
          const list = (await container.personalization.files()).map((f) => ({
            name: f.name, organization: f.organization, logo: f.logo, records: f.record_count, status: f.status, sha256: f.sha256,
            writtenAt: f.written_at === null ? null : new Date(f.written_at).toISOString(),
          }));
          if (json) printJson(list);
          else for (const f of list) process.stdout.write(`${f.name ?? '(planned)'}\t${f.records}\t${f.status}\t${f.sha256 ?? ''}\n`);
        }
      });
      return 0;
    }
    case 'events replay':
      return replayEvents(text('after')!, text('endpoint'), json, { settings, logger });
    case 'tokens revoke': {
      const clientId = args[0]!;
      await withContainer({ settings, logger }, async (container) => {
        const revoked = await container.clients.revokeTokens(clientId);
        if (json) printJson({ clientId, revoked });
        else process.stdout.write(`${revoked} token(s) of ${clientId} revoked: refused from now on by every API process\n`);
      });
      return 0;
    }
    default:
      throw new Error(`emboss: no runner for ${name}`);
  }
}

/** `emboss events replay --after CURSOR [--endpoint ID]`: queues the deliveries again (events module). */
async function replayEvents(after: string, endpoint: string | undefined, json: boolean, { settings, logger }: { settings: Settings; logger: Logger }): Promise<number> {
  await withContainer({ settings, logger }, async (container) => {
    const queued = await container.events.replay(after, endpoint);
    if (json) printJson({ after, endpoint: endpoint ?? null, queued });
    else process.stdout.write(`${queued} deliver${queued === 1 ? 'y' : 'ies'} queued${endpoint ? ` for ${endpoint}` : ''}: sent by the server's job worker\n`);
  });
  return 0;
}
