#!/usr/bin/env node
// The `emboss` command (npm link, npx): runs the compiled build in dist/, as `npm start` and
// `npm run emboss` do. `npm install` builds it (the `prepare` script); `npm run build` rebuilds it.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('emboss: the build is missing; run `npm run build` in the emboss folder\n');
  process.exit(78);
}
await import(entry.href);
