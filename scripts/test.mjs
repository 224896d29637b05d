#!/usr/bin/env node
// Runs every *.test.ts under src/ and test/ with Node's own test runner (through tsx).
// Node 20's runner does not expand globs, so the file list is collected here.
// Arguments narrow the run: `npm test -- src/crypto` runs only files under that path.
//
// Node's runner starts one process per file. A process that loads emboss through tsx spends
// 2 to 3 s of CPU time on that alone (Fastify, pg-boss, PGlite and the sources), more than most
// files spend testing, on a machine of two cores. So the files that test inside their own process
// (units, and the HTTP tests on the in-process harness, each with its own store and app) share a
// few processes: each such process imports its files one after the other, and the runner reports
// their tests as those of the shared file (`node_modules/.cache/emboss-test-groups-*/*.test.mjs`;
// a failure's stack names the test file). The integration tests, which start processes, servers
// and databases of their own, keep a process each. TEST_GROUPS=0 gives every file its own process.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { spawnSync } from 'node:child_process';

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
const concurrency = process.env.TEST_CONCURRENCY ?? '2';

/**
 * The fuzz of every route is the longest file by far (some 12,000 requests, 1.5 to 4 minutes on
 * two cores): it runs in a process of its own, started first, and the rest shares the other core.
 */
const LONGEST = 'test/http/fuzz.test.ts';
/** Shared processes: a name and how many processes its files are spread over (by turns, in file order). */
const GROUPS = [
  { name: 'units', shards: 1, holds: (f) => f.startsWith('src/') },
  { name: 'http', shards: 3, holds: (f) => /^test\/(http|contract|clients)\//.test(f) && f !== LONGEST },
];
const run = [];
const rel = (f) => relative(root, resolve(f)).split('\\').join('/');
// A folder of this run's own: two runs at once in one work tree do not share their group files.
mkdirSync(join(root, 'node_modules', '.cache'), { recursive: true });
const groupDir = mkdtempSync(join(root, 'node_modules', '.cache', 'emboss-test-groups-'));
if (process.env.TEST_GROUPS !== '0') {
  const grouped = new Set();
  for (const g of GROUPS) {
    const members = files.filter((f) => g.holds(rel(f)));
    if (members.length < 2) continue;
    for (let s = 0; s < g.shards; s++) {
      const mine = members.filter((_, i) => i % g.shards === s);
      if (mine.length === 0) continue;
      const file = join(groupDir, `${g.name}-${s + 1}.test.mjs`);
      writeFileSync(file, `// ${g.name} ${s + 1}/${g.shards}, written by scripts/test.mjs\n${mine.map((f) => `await import(${JSON.stringify(pathToFileURL(resolve(f)).href)});`).join('\n')}\n`);
      run.push(file);
      for (const f of mine) grouped.add(f);
    }
  }
  // Longest first: the fuzz, then the shared processes; the single files fill in beside them.
  run.push(...files.filter((f) => !grouped.has(f)));
  const rank = (f) => (rel(f) === LONGEST ? 0 : f.startsWith(groupDir) ? 1 : 2);
  run.sort((a, b) => rank(a) - rank(b));
} else {
  run.push(...files);
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
  ...V8_FLAGS, '--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-timeout=300000', ...run,
], { stdio: 'inherit' });
rmSync(groupDir, { recursive: true, force: true });
process.exit(result.status ?? 1);
