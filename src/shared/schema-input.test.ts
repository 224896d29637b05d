import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Type } from '@sinclair/typebox';
import { canonicalizeInput, numericKind, type ExtraFieldLimits } from './schema-input.ts';

const LIMITS: ExtraFieldLimits = { depth: 3, values: 10, chars: 50 };
const Schema = Type.Object({
  organizationNumber: Type.Integer({ minimum: 1, maximum: 998 }),
  amount: Type.Optional(Type.Number({ minimum: 0, maximum: 1000 })),
  name: Type.Optional(Type.String({ maxLength: 10 })),
  sequence: Type.Optional(Type.Union([Type.String({ pattern: '^[0-9]{1,4}$' }), Type.Integer({ minimum: 0, maximum: 9998 })])),
  format: Type.Optional(Type.Union([Type.Literal(0), Type.Literal(4)])),
  nested: Type.Optional(Type.Object({ count: Type.Integer({ minimum: 0, maximum: 9 }) }, { additionalProperties: true })),
  closed: Type.Optional(Type.Object({ n: Type.Integer({ minimum: 0, maximum: 9 }) }, { additionalProperties: false })),
  list: Type.Optional(Type.Array(Type.Integer({ minimum: 0, maximum: 9 }))),
}, { additionalProperties: true });

const run = (value: unknown, limits: ExtraFieldLimits | null = LIMITS) => {
  const holder = { body: value };
  const issue = canonicalizeInput(Schema, holder, 'body', 'body', limits ?? undefined);
  return { value: holder.body, issue };
};

test('numbers sent as canonical text become numbers, wherever the schema wants one', () => {
  const { value, issue } = run({ organizationNumber: '100', amount: '12.50', nested: { count: '3' }, list: ['1', 2, '0'], format: '4' });
  assert.equal(issue, undefined);
  assert.deepEqual(value, { organizationNumber: 100, amount: 12.5, nested: { count: 3 }, list: [1, 2, 0], format: 4 });
});

test('any other text where a number goes is an issue naming the field, and tells which spell unusable numbers', () => {
  for (const [text, unusable] of [['Infinity', true], ['1e400', true], ['9'.repeat(400), true], ['NaN', true], ['007', false], ['-0', false], [' 1', false], ['1e2', false], ['', false], ['abc', false]] as const) {
    assert.deepEqual(run({ organizationNumber: text }).issue, { kind: 'number-text', path: 'body/organizationNumber', expected: 'integer', unusable }, text);
  }
  assert.deepEqual(run({ organizationNumber: 1, nested: { count: '01' } }).issue, { kind: 'number-text', path: 'body/nested/count', expected: 'integer', unusable: false });
  assert.deepEqual(run({ organizationNumber: 1, list: [1, 'x'] }).issue, { kind: 'number-text', path: 'body/list/1', expected: 'integer', unusable: false });
  assert.deepEqual(run({ organizationNumber: 1, amount: '1.5e2' }).issue, { kind: 'number-text', path: 'body/amount', expected: 'number', unusable: false });
  // A literal 0 | 4 is an integer: "4.0" is not its canonical text.
  assert.equal(run({ organizationNumber: 1, format: '4.0' }).issue?.kind, 'number-text');
});

test('a union with a text branch keeps text as sent; numbers for text become their decimal text; the rest is left to the validator', () => {
  const { value, issue } = run({ organizationNumber: 1, sequence: '0007', name: 42, closed: { n: '1' } });
  assert.equal(issue, undefined);
  assert.deepEqual(value, { organizationNumber: 1, sequence: '0007', name: '42', closed: { n: 1 } });
  // Booleans and null are not turned into anything (the validator refuses them).
  assert.deepEqual(run({ organizationNumber: true, name: null }).value, { organizationNumber: true, name: null });
});

test('fields kept as sent are measured: depth, values and characters, over the whole body', () => {
  assert.equal(run({ organizationNumber: 1, extra: { a: { b: { c: 'x' } } } }).issue, undefined); // 3 levels
  assert.deepEqual(run({ organizationNumber: 1, extra: { a: { b: { c: { d: 'x' } } } } }).issue, { kind: 'extra-fields', path: 'body/extra', limit: 'depth' });
  assert.deepEqual(run({ organizationNumber: 1, nested: { count: 1, deep: [[[['x']]]] } }).issue, { kind: 'extra-fields', path: 'body/nested/deep', limit: 'depth' });
  assert.deepEqual(run({ organizationNumber: 1, a: 'x'.repeat(30), b: 'y'.repeat(30) }).issue, { kind: 'extra-fields', path: 'body/b', limit: 'chars' });
  assert.deepEqual(run({ organizationNumber: 1, a: [1, 2, 3, 4, 5], b: [1, 2, 3, 4, 5] }).issue, { kind: 'extra-fields', path: 'body/b', limit: 'values' });
  // Modelled fields do not count, nor fields of a closed object (the validator refuses those).
  assert.equal(run({ organizationNumber: 1, name: 'x'.repeat(10), closed: { n: 1, other: 'y'.repeat(100) } }).issue, undefined);
  // Without limits (query strings, headers), nothing is measured.
  assert.equal(run({ organizationNumber: 1, a: 'x'.repeat(100) }, null).issue, undefined);
});

test('numeric kinds of schemas', () => {
  assert.equal(numericKind(Type.Integer()), 'integer');
  assert.equal(numericKind(Type.Number()), 'number');
  assert.equal(numericKind(Type.Union([Type.Literal(1), Type.Literal(2)])), 'integer');
  assert.equal(numericKind(Type.Union([Type.Literal(1), Type.Number()])), 'number');
  assert.equal(numericKind(Type.Union([Type.String(), Type.Integer()])), undefined);
  assert.equal(numericKind(Type.String()), undefined);
});
