import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jsonDepth } from './json-depth.ts';

test('the depth of a JSON text is its deepest nesting of arrays and objects', () => {
  const cases: Array<[string, number]> = [
    ['1', 0], ['"x"', 0], ['null', 0], ['[]', 1], ['{}', 1], ['[1,[2,[3]]]', 3], ['{"a":{"b":[1]}}', 3], ['[[],[],[[]]]', 3], ['[{},{"a":[{}]}]', 4],
  ];
  for (const [text, depth] of cases) {
    assert.equal(jsonDepth(text), depth, text);
    assert.equal(jsonDepth(text), depthByParse(text), `${text} agrees with a parse`);
  }
});

test('brackets inside strings do not count, escaped quotes do not end them', () => {
  assert.equal(jsonDepth('{"a":"[[[[{{{{"}'), 1);
  assert.equal(jsonDepth('["\\"[[[[", "]]]]"]'), 1);
  assert.equal(jsonDepth('["\\\\", [1]]'), 2); // an escaped backslash, then the string ends
  assert.equal(jsonDepth('{"k\\u005b":"\\u005d["}'), 1);
});

test('the scan stops past the limit and answers limit + 1', () => {
  const deep = `${'['.repeat(8800)}"\\u0041"${']'.repeat(8800)}`;
  assert.equal(jsonDepth(deep, 32), 33);
  assert.equal(jsonDepth(`${'['.repeat(32)}${']'.repeat(32)}`, 32), 32);
  assert.equal(jsonDepth(`${'{"a":'.repeat(33)}1${'}'.repeat(33)}`, 32), 33);
  // A million brackets: one pass, no stack, no parse.
  const huge = '['.repeat(1_000_000);
  assert.equal(jsonDepth(huge), 1_000_000);
});

function depthByParse(text: string): number {
  const walk = (v: unknown): number => (typeof v === 'object' && v !== null ? 1 + Math.max(0, ...Object.values(v).map(walk)) : 0);
  return walk(JSON.parse(text));
}
