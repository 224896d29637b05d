import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startHarness } from '../helpers/harness.ts';
import { SCHEMA_FILE, schemaSource } from '../../scripts/generate-client.mjs';

test('the typed client\'s committed schema (clients/typescript/schema.d.ts) is what `npm run client` generates from the OpenAPI document now', async () => {
  const h = await startHarness('pglite');
  try {
    const expected = await schemaSource(h.app.swagger());
    const committed = readFileSync(SCHEMA_FILE, 'utf8');
    assert.ok(committed === expected, 'clients/typescript/schema.d.ts is stale: run `npm run client` and commit the result');
  } finally {
    await h.close();
  }
});
