import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildEmboss } from '../../scripts/build.mjs';
import { TEST_NODE_FLAGS } from '../helpers/emboss-server.ts';

/**
 * The command line as a user runs it: the compiled build (as bin/emboss.js runs it), as a process,
 * on a data folder of its own that starts empty (no EMBOSS_CONFIG: the demo set-up).
 */
const root = resolve(import.meta.dirname, '../..');
let build = '';
let entry = '';
const running = new Set<ChildProcess>();

before(async () => {
  // Inside the project, so the bundle finds the npm packages it leaves out.
  mkdirSync(join(root, 'node_modules', '.cache'), { recursive: true });
  build = mkdtempSync(join(root, 'node_modules', '.cache', 'emboss-cli-'));
  entry = await buildEmboss(build);
});

after(() => {
  // Only the processes this file started, by pid (a test that timed out may leave one).
  for (const child of running) if (child.exitCode === null && child.pid) process.kill(child.pid, 'SIGKILL');
  rmSync(build, { recursive: true, force: true });
});

interface Run { code: number | null; out: string; err: string }

function emboss(dataDir: string, args: string[], extraEnv: Record<string, string> = {}): Promise<Run> {
  const env = { ...process.env, DATABASE_URL: '', EMBOSS_CONFIG: '', EMBOSS_MASTER_KEY: '', EMBOSS_PERSONALIZATION_DIR: '', EMBOSS_DATA_DIR: dataDir, LOG_LEVEL: 'info', PORT: '0', ...extraEnv };
  const child = spawn(process.execPath, [...TEST_NODE_FLAGS, entry, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => { out += d; });
  child.stderr!.on('data', (d) => { err += d; });
  return new Promise((res) => child.once('close', (code) => { running.delete(child); res({ code, out, err }); }));
}

const freshFolder = () => {
  const dir = mkdtempSync(join(tmpdir(), 'emboss-cli-'));
  return { dir, data: join(dir, 'data'), done: () => rmSync(dir, { recursive: true, force: true }) };
};

/** Runs the commands a few at a time (2 cores). */
async function each<T, R>(items: T[], run: (item: T) => Promise<R>, width = 4): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += width) results.push(...await Promise.all(items.slice(i, i + width).map(run)));
  return results;
}

test('--help on every command prints that command\'s help, exits 0 and runs nothing (the data folder is never created)', async () => {
  const folder = freshFolder();
  try {
    const cases: Array<[string[], RegExp]> = [
      [['serve', '--help'], /^usage: emboss serve /],
      [['migrate', '--help'], /^usage: emboss migrate /],
      [['config', 'check', '--help'], /^usage: emboss config check .*FILE/],
      [['keys', '-h'], /^usage: emboss keys /],
      [['customers', 'add', '--help'], /^usage: emboss customers add --org N /],
      [['issue-batch', '--help'], /^usage: emboss issue-batch --org N --logo N --quantity N /],
      // Help wins over the rest of the line, even a wrong one.
      [['issue-batch', '--org', 'x', '--bogus', '-h'], /^usage: emboss issue-batch /],
      [['files', '--help'], /^usage: emboss files \[list\|flush\|reexport\]/],
      [['files', 'list', '--help'], /^usage: emboss files list /],
      [['files', 'flush', '--help'], /^usage: emboss files flush /],
      [['files', 'reexport', '--help'], /^usage: emboss files reexport .*NAME FOLDER/],
      [['tokens', 'revoke', '--help'], /^usage: emboss tokens revoke .*CLIENT_ID/],
      [['customers', '--help'], /^usage: emboss customers <add>/],
      [['help', 'issue-batch'], /^usage: emboss issue-batch /],
      [['help'], /^emboss — card management system/],
      [['--help'], /^emboss — card management system/],
    ];
    const runs = await each(cases, ([args]) => emboss(folder.data, args));
    cases.forEach(([args, usage], i) => {
      const run = runs[i]!;
      assert.equal(run.code, 0, `${args.join(' ')}: ${run.err}`);
      assert.match(run.out, usage, args.join(' '));
      assert.equal(run.err, '', args.join(' '));
    });
    assert.match(runs[5]!.out, /--customer NUMBER .*\n(.*\n)*\s+--json /);
    assert.equal(existsSync(folder.data), false, 'no command created the data folder: nothing was opened, migrated or served');
  } finally {
    folder.done();
  }
});

test('a wrong command line exits 64 with one line on stderr naming what is wrong and pointing to --help; nothing runs', async () => {
  const folder = freshFolder();
  try {
    const cases: Array<[string[], RegExp]> = [
      [['issue-batch', '--org', '100', '--logo', '1', '--quantity', '5', '--custmer', '1'], /^emboss issue-batch: unknown option --custmer \(see: emboss issue-batch --help\)\n$/],
      [['serve', '--port', '8080'], /^emboss serve: unknown option --port .*emboss serve --help/],
      [['migrate', '-x'], /^emboss migrate: unknown option -x .*emboss migrate --help/],
      [['issue-batch', '--org'], /^emboss issue-batch: option --org needs a value .*--help/],
      [['issue-batch', '--org', '100', '--logo', '1', '--quantity', '1e3'], /^emboss issue-batch: --quantity must be a whole number from 1 to 1000000 \(got "1e3"\) .*emboss issue-batch --help/],
      [['issue-batch', '--org', '100', '--logo', '1', '--quantity', '5', '--chunk', '0'], /^emboss issue-batch: --chunk must be a whole number from 1 .*--help/],
      [['issue-batch', '--org', '100', '--logo', '1', '--quantity', '10', '--chunk', 'abc'], /^emboss issue-batch: --chunk must be a whole number from 1 .*--help/],
      [['issue-batch', '--org', '100', '--logo', '1', '--quantity', '10', '--parallel', '-2'], /^emboss issue-batch: --parallel must be a whole number from 1 .*--help/],
      [['issue-batch', '--org', '100', '--logo', '1', '--quantity', '10', '--records-per-file', '0'], /^emboss issue-batch: --records-per-file must be a whole number from 1 to 20000 .*--help/],
      [['issue-batch', '--org', '100', '--logo', '1', '--quantity', '10', '--records-per-file', '20001'], /^emboss issue-batch: --records-per-file must be a whole number from 1 to 20000 .*--help/],
      [['issue-batch', '--org', '100', '--logo', '1', '--quantity', '-5'], /^emboss issue-batch: --quantity must be a whole number from 1 to 1000000 \(got "-5"\) .*--help/],
      [['issue-batch', '--logo', '1', '--quantity', '5'], /^emboss issue-batch: --org N is required .*--help/],
      [['customers', 'add', '--org', '100', '--first-name'], /^emboss customers add: option --first-name needs a value .*emboss customers add --help/],
      [['keys', '--json=yes'], /^emboss keys: option --json takes no value .*--help/],
      [['files', 'reexport', 'only-a-name'], /^emboss files reexport: missing FOLDER .*--help/],
      [['files', 'shred'], /^emboss files: unknown command "shred".*emboss files --help/],
      [['customers'], /^emboss customers: missing command: one of add .*--help/],
      [['frobnicate'], /^emboss: unknown command "frobnicate" \(see: emboss help\)/],
    ];
    const runs = await each(cases, ([args]) => emboss(folder.data, args));
    cases.forEach(([args, message], i) => {
      const run = runs[i]!;
      assert.equal(run.code, 64, `${args.join(' ')}: ${run.err}`);
      assert.match(run.err, message, args.join(' '));
      assert.equal(run.err.split('\n').length, 2, `one line: ${run.err}`);
      assert.equal(run.out, '', args.join(' '));
    });
    assert.equal(existsSync(folder.data), false, 'nothing was opened');
  } finally {
    folder.done();
  }
});

test('help and a wrong command line do not read the environment; a command that runs refuses a wrong setting with exit 78 and one line naming it', async () => {
  const folder = freshFolder();
  try {
    const wrong = { EMBOSS_API_PROCESSES: 'many' };
    const [help, usage, keys, serve] = await Promise.all([
      emboss(folder.data, ['keys', '--help'], wrong), emboss(folder.data, ['keys', '--bogus'], wrong),
      emboss(folder.data, ['keys'], wrong), emboss(folder.data, ['serve'], wrong),
    ]);
    assert.deepEqual([help.code, help.err], [0, '']);
    assert.match(help.out, /^usage: emboss keys /);
    assert.equal(usage.code, 64, usage.err);
    assert.match(usage.err, /^emboss keys: unknown option --bogus /);
    for (const run of [keys, serve]) {
      assert.equal(run.code, 78, run.err);
      assert.match(run.err, /^emboss: configuration error: environment variable EMBOSS_API_PROCESSES: .*\n$/);
      assert.equal(run.out, '');
    }
    assert.equal(existsSync(folder.data), false, 'nothing was opened');
  } finally {
    folder.done();
  }
});

test('from an empty data folder: customers add, then issue-batch for that customer; with --json stdout is one JSON document and the logs are on stderr', async () => {
  const folder = freshFolder();
  try {
    const added = await emboss(folder.data, ['customers', 'add', '--org', '100', '--first-name', 'Ada', '--last-name', 'Lovelace', '--json']);
    assert.equal(added.code, 0, added.err);
    const customer = JSON.parse(added.out) as { customerNumber: string; organizationNumber: number };
    assert.equal(customer.organizationNumber, 100);
    assert.match(customer.customerNumber, /^[0-9]{19}$/);
    // The logs (the migrations, the demo set-up) went to stderr, as JSON lines.
    assert.match(added.err, /"msg":"database migrated"/);

    const plain = await emboss(folder.data, ['customers', 'add', '--org', '100']);
    assert.equal(plain.code, 0, plain.err);
    assert.match(plain.out, /^[0-9]{19}\n$/);

    const refused = await emboss(folder.data, ['customers', 'add', '--org', '7']);
    assert.equal(refused.code, 65, refused.err);
    assert.match(refused.err, /^emboss customers add: refused: VPL5SGCZ4S REQUESTED ORG NUMBER IS NOT FOUND$/m);

    const batch = await emboss(folder.data, ['issue-batch', '--org', '100', '--logo', '1', '--quantity', '25', '--customer', customer.customerNumber,
      '--records-per-file', '10', '--json']);
    assert.equal(batch.code, 0, batch.err);
    const result = JSON.parse(batch.out) as { status: string; done: number; total: number; files: Array<{ records: number }> };
    assert.deepEqual([result.status, result.done, result.total], ['COMPLETED', 25, 25]);
    assert.deepEqual(result.files.map((f) => f.records), [10, 10, 5]);

    const files = await emboss(folder.data, ['files', 'list', '--json']);
    assert.equal(files.code, 0, files.err);
    const list = JSON.parse(files.out) as Array<{ status: string; records: number; sha256: string }>;
    assert.deepEqual(list.map((f) => [f.status, f.records]), [['WRITTEN', 10], ['WRITTEN', 10], ['WRITTEN', 5]]);
    assert.ok(list.every((f) => /^[0-9a-f]{64}$/.test(f.sha256)));
  } finally {
    folder.done();
  }
});
