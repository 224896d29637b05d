#!/usr/bin/env node
// Compiles src/ into dist/ for the processes an operator runs (`npm start`, `npm run emboss`, the
// `emboss` command, the benchmarks). Development and the tests run the sources through tsx, whose
// loader translates every module at import time on a thread of its own: a compiled process starts
// in about half the time and without that thread's memory (figures in the README).
//
// Two entry points, the command line and the security module's thread, bundled with their shared
// code in chunks; npm packages stay in node_modules. Every output file lands directly in the
// output folder: module-thread.ts finds the thread's entry next to itself (`./module-thread-main.js`).
// Types are not checked here (`npm run typecheck` does that): the build takes well under a second.
//
// esbuild is a development dependency: the build needs it, the built code does not. `--prepare`
// (the `prepare` script, run by `npm install` and `npm ci`) keeps an existing build when esbuild
// is not installed, as under `npm ci --omit=dev` in a production image that copies dist/ in.
import { existsSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = resolve(import.meta.dirname, '..');

/** How emboss's TypeScript is compiled, here and for the tests (scripts/test.mjs): ES modules for Node 20, npm packages left out. */
export const BUNDLE_OPTIONS = {
  absWorkingDir: root,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  logLevel: 'warning',
};

/** Builds emboss into `outdir` (replacing what was there); answers the entry file's path. */
export async function buildEmboss(outdir = resolve(root, 'dist')) {
  const { build } = await import('esbuild');
  rmSync(outdir, { recursive: true, force: true });
  await build({
    ...BUNDLE_OPTIONS,
    entryPoints: ['src/main.ts', 'src/security-module/software/module-thread-main.ts'],
    outdir,
    entryNames: '[name]',
    chunkNames: '[name]-[hash]',
    sourcemap: 'linked',
  });
  return resolve(outdir, 'main.js');
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const args = process.argv.slice(2);
  const prepare = args.includes('--prepare');
  const outdir = args.find((a) => a !== '--prepare');
  let esbuild = true;
  try { await import('esbuild'); } catch { esbuild = false; }
  if (!esbuild && prepare && existsSync(resolve(root, 'dist', 'main.js'))) {
    process.stdout.write('emboss: esbuild is not installed (a production install): keeping the build in dist/\n');
  } else if (!esbuild) {
    process.stderr.write('emboss: the build needs esbuild, a development dependency: run `npm install` (or `npm ci`) with the development dependencies\n');
    process.exit(1);
  } else {
    await buildEmboss(outdir ? resolve(outdir) : undefined);
  }
}
