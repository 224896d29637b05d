#!/usr/bin/env node
// Runs every *.test.ts under src/ and test/ with Node's own test runner, compiled first (below).
// Node 20's runner does not expand globs, so the file list is collected here.
// Arguments narrow the run: `npm test -- src/crypto` runs only files under that path.
//
// Node's runner starts one process per file. A process that loads emboss spends a second or more
// of CPU on that alone (Fastify, pg-boss, PGlite and the sources), more than most files spend
// testing, on a machine of two cores. So the files that test inside their own process (units,
// the HTTP and service tests on the in-process harness, each with its own store and app, and
// the integration files that start nothing of their own) share a few processes: each such
// process imports its files one after the other, and the runner reports their tests as those of
// the shared file (`node_modules/.cache/emboss-test-run-*/order/*.test.mjs`; a failure's
// location and stack name the test file). The integration tests that start processes, servers
// and databases of their own keep a process each. TEST_GROUPS=0 gives every file its own process.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { spawnSync } from 'node:child_process';
import { BUNDLE_OPTIONS } from './build.mjs';

const root = resolve(import.meta.dirname, '..');
const roots = process.argv.slice(2).length ? process.argv.slice(2) : ['src', 'test'];
const files = [];
for (const r of roots) {
  if (r.endsWith('.test.ts')) { files.push(r); continue; }
  for (const entry of readdirSync(r, { recursive: true, withFileTypes: true })) {
    if (entry.isFile() && entry.name.endsWith('.test.ts')) files.push(join(entry.parentPath ?? entry.path, entry.name));
  }
}
files.sort();
const concurrency = process.env.TEST_CONCURRENCY ?? '3';

/**
 * Node's runner starts the files it is given in the order of their paths, whatever the order on
 * its command line; so each process runs from an entry file of this run whose name carries its
 * place (`order/07-….test.mjs`). The processes that take longest start first, those that mostly
 * wait (for a PostgreSQL of their own to stop and start, for processes to die and be replaced)
 * between those that compute (the fault suite's load, the fuzz's 12,000 requests, the shared
 * HTTP processes), so that waits overlap work instead of ending the run; the short ones end it.
 * Named by file (without .test.ts) or by shared process; the others follow in path order.
 */
const START_FIRST = ['faults', 'fuzz', 'process-faults', 'http-1', 'fuzz-random', 'database-outage', 'http-2',
  'pglite-lock', 'http-3', 'mass-issue', 'http-4', 'cli', 'units-1'];
/** Integration files that start no process, server or cluster of their own: a store and an app in this process. */
const IN_PROCESS = ['card-numbers', 'demo-sandbox', 'doc-examples', 'pins-processes', 'setup', 'storage', 'typed-client', 'webhooks']
  .map((name) => `test/integration/${name}.test.ts`);
/** Shared processes: a name and how many processes its files are spread over (by turns, in file order). */
const GROUPS = [
  { name: 'units', shards: 1, holds: (f) => f.startsWith('src/') },
  { name: 'http', shards: 4, holds: (f) => (/^test\/(http|contract|clients|services)\//.test(f) || IN_PROCESS.includes(f)) && !f.startsWith('test/http/fuzz') },
];
const run = [];
const rel = (f) => relative(root, resolve(f)).split('\\').join('/');
// A folder of this run's own: two runs at once in one work tree do not share their group files.
mkdirSync(join(root, 'node_modules', '.cache'), { recursive: true });
const runDir = mkdtempSync(join(root, 'node_modules', '.cache', 'emboss-test-run-'));
const orderDir = join(runDir, 'order');
mkdirSync(orderDir);
process.once('exit', () => rmSync(runDir, { recursive: true, force: true }));

/**
 * tsx translates each module as it is imported, through loader hooks on a thread of their own:
 * about 1.5 s of CPU in every test process (a file of HTTP tests: 4.9 s through tsx, 3.4 s
 * compiled). So the test files are compiled first, with esbuild as `npm run build` compiles
 * emboss: one bundle a test file, the code they share in common chunks, npm packages left out
 * (well under a second for all of them). Each module keeps its own location: `import.meta.url`
 * and `import.meta.dirname` are written out as the source file's, so a test finds its fixtures
 * and the project's files as it does from the sources. One exception: the security module starts
 * its thread from the entry next to itself, so its `import.meta.url` is the compiled folder's,
 * where the thread's entry is compiled too. With source maps, a failure's location and stack name
 * the source file and line (no measurable cost). TEST_COMPILE=0 runs the sources through tsx instead.
 */
const THREAD = 'src/security-module/software/module-thread';
async function compileTests(sources, outdir) {
  const { build } = await import('esbuild');
  const sourceLocations = {
    name: 'source-locations',
    setup(b) {
      b.onLoad({ filter: /\.(ts|mjs)$/ }, (args) => {
        if (args.path.includes(`${join('node_modules', '')}`)) return undefined;
        const own = rel(args.path) === `${THREAD}.ts` ? pathToFileURL(join(outdir, `${THREAD}.js`)).href : pathToFileURL(args.path).href;
        const contents = readFileSync(args.path, 'utf8')
          .replaceAll('import.meta.url', JSON.stringify(own))
          .replaceAll('import.meta.dirname', JSON.stringify(dirname(args.path)))
          .replaceAll('import.meta.filename', JSON.stringify(args.path));
        return { contents, loader: args.path.endsWith('.ts') ? 'ts' : 'js', resolveDir: dirname(args.path) };
      });
    },
  };
  await build({
    ...BUNDLE_OPTIONS,
    entryPoints: [...sources.map(rel), `${THREAD}-main.ts`],
    outdir,
    outbase: root,
    sourcemap: 'linked',
    plugins: [sourceLocations],
  });
  // ES modules, wherever the folder is (a .js file under node_modules/ has no package type).
  writeFileSync(join(outdir, 'package.json'), '{ "type": "module" }\n');
  return new Map(sources.map((f) => [f, join(outdir, rel(f).replace(/\.ts$/, '.js'))]));
}
const compiled = process.env.TEST_COMPILE === '0' ? undefined : await compileTests(files, join(runDir, 'js'));
/** What runs for a test file: its compiled bundle, or the source itself (through tsx). */
const runnable = (f) => compiled?.get(f) ?? resolve(f);
/** What runs, in order: each a process of its own, with the test files it imports one after the other. */
const units = [];
const alone = (f) => ({ name: rel(f).replace(/^.*\//, '').replace(/\.test\.ts$/, ''), files: [f] });
if (process.env.TEST_GROUPS !== '0') {
  const grouped = new Set();
  const shared = [];
  for (const g of GROUPS) {
    const members = files.filter((f) => g.holds(rel(f)));
    if (members.length < 2) continue;
    for (let s = 0; s < g.shards; s++) {
      const mine = members.filter((_, i) => i % g.shards === s);
      if (mine.length === 0) continue;
      shared.push({ name: `${g.name}-${s + 1}`, files: mine });
      for (const f of mine) grouped.add(f);
    }
  }
  const all = [...shared, ...files.filter((f) => !grouped.has(f)).map(alone)];
  const place = (u) => (START_FIRST.includes(u.name) ? START_FIRST.indexOf(u.name) : START_FIRST.length);
  units.push(...all.sort((x, y) => place(x) - place(y))); // a stable sort: the others keep path order
} else {
  units.push(...files.map(alone));
}
// The entry files: Node's runner sorts what it is given by path, so each name starts with its place.
const width = String(units.length).length;
for (const [i, unit] of units.entries()) {
  const file = join(orderDir, `${String(i + 1).padStart(width, '0')}-${unit.name}.test.mjs`);
  writeFileSync(file, `// ${unit.files.map(rel).join(', ')}: written by scripts/test.mjs\n${unit.files.map((f) => `await import(${JSON.stringify(pathToFileURL(runnable(f)).href)});`).join('\n')}\n`);
  run.push(file);
}
/**
 * V8 compiles PGlite's WebAssembly (PostgreSQL itself) twice: quickly (Liftoff), then again,
 * optimized (TurboFan), the functions that run often. A test process lives seconds and opens a
 * store or two; the optimizing pass cost it more CPU than it saved (a store opened and 200
 * queries: 2.5 s of CPU against 1.4 s with Liftoff alone; the fuzz's 12,400 requests: 62 s
 * against 52 s). So the tests run with Liftoff alone, and the emboss processes they start
 * too (test/helpers/emboss-server.ts, TEST_NODE_FLAGS). Servers in production keep V8's default.
 */
const V8_FLAGS = ['--liftoff-only'];
const result = spawnSync(process.execPath, [
  ...V8_FLAGS, ...(compiled ? ['--enable-source-maps'] : ['--import', 'tsx']), '--test', `--test-concurrency=${concurrency}`, '--test-timeout=300000', ...run,
], { stdio: 'inherit' });
process.exit(result.status ?? 1);
