import { test } from 'node:test';
import assert from 'node:assert/strict';
import { API_SEMI_SPACE_MB, apiProcessArgs } from './api-processes.ts';

test('an API process gets a larger young generation, unless the operator sized it', () => {
  assert.deepEqual(apiProcessArgs(['--enable-source-maps'], undefined), ['--enable-source-maps', `--max-semi-space-size=${API_SEMI_SPACE_MB}`]);
  assert.deepEqual(apiProcessArgs(['--max-semi-space-size=8'], undefined), ['--max-semi-space-size=8']);
  assert.deepEqual(apiProcessArgs([], '--max-old-space-size=512 --max-semi-space-size=64'), []);
  assert.deepEqual(apiProcessArgs([], '--max-semi-space-size-other=1'), [`--max-semi-space-size=${API_SEMI_SPACE_MB}`]);
});
