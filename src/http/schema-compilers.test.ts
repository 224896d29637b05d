import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sharedSchemaCompilers } from './schema-compilers.ts';

const STRICT = { customOptions: { coerceTypes: false } };
const route = (schema: Record<string, unknown>) => ({ schema, method: 'POST', url: '/x', httpPart: 'body', httpStatus: '200' });
const body = () => ({ type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] });

test('a schema is compiled once a process: two apps (two builds of the compiler) with equal schemas, made apart, get the same validator and serializer', () => {
  const first = sharedSchemaCompilers.buildValidator({}, STRICT)(route(body()));
  const second = sharedSchemaCompilers.buildValidator({}, STRICT)(route(body()));
  assert.equal(second, first);
  assert.equal(first({ n: 1 }), true);
  assert.equal(first({ n: '1' }), false, 'no coercion, as the options say');

  const out = sharedSchemaCompilers.buildSerializer({}, {})(route(body()));
  assert.equal(sharedSchemaCompilers.buildSerializer({}, {})(route(body())), out);
  assert.equal(out({ n: 7, extra: 'left out' }), '{"n":7}');
});

test('another schema, or the same schema under other options, gets a validator of its own', () => {
  const strict = sharedSchemaCompilers.buildValidator({}, STRICT)(route(body()));
  const other = sharedSchemaCompilers.buildValidator({}, STRICT)(route({ ...body(), properties: { n: { type: 'string' } } }));
  assert.notEqual(other, strict);
  assert.equal(other({ n: '1' }), true);
  assert.equal(other({ n: 1 }), false);

  const coercing = sharedSchemaCompilers.buildValidator({}, { customOptions: { coerceTypes: true } })(route(body()));
  assert.notEqual(coercing, strict);
  assert.equal(coercing({ n: '1' }), true, 'coerced under its own options');
  assert.equal(strict({ n: '1' }), false, 'and the strict one is not changed by it');
});
