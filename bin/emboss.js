#!/usr/bin/env node
// The `emboss` command (npm link, npx): runs the TypeScript sources through tsx, as `npm start`
// and `npm run emboss` do.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
