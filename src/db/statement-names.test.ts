import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StatementNames } from './database.ts';

test('StatementNames: one name per text, the same each time; texts of one length apart; past its size, named but not kept', () => {
  const names = new StatementNames(2);
  const a = names.of('select 1 from a');
  const b = names.of('select 1 from b');
  assert.notEqual(a, b, 'two texts of the same length');
  // A text equal to a known one but another string: found by comparison, not by identity.
  assert.equal(names.of(['select 1', 'from a'].join(' ')), a);
  assert.equal(names.of('select 1 from b'), b);
  assert.match(a, /^k[0-9a-f]{20}$/);
  // Full: a new text still gets its digest's name, the same each time.
  const c = names.of('select 2');
  assert.equal(names.of('select 2'), c);
  assert.ok(![a, b].includes(c));
});
