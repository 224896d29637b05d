#!/usr/bin/env node
// Derives emboss's copy of the upstream contract (test/contract/upstream.json) from the FirstVision
// LATAM OpenAPI files, so the contract test runs in a clean clone without them.
//
//   npm run contract              re-derive, report what changed, write the fixture
//   npm run contract -- --check   re-derive and report; exit 1 if the fixture differs
//
// The upstream files are looked for in EMBOSS_UPSTREAM_DIR, else ../shared/reference/firstvision-latam
// beside the checkout. Without them the committed fixture stands and this says so.
//
// What is kept per operation: the request body, query and header parameters, the 200 response
// schema (every $ref inlined, OpenAPI 3.0 → JSON Schema), and the 422 codes its description lists.
// Upstream writes most lengths and value lists in the descriptions ("* Max Length: 19",
// "Values: * P = Pan Token;"), not in the schema; those are made schema keywords under
// `x-documented` so a generated request honours them, as a careful client would. A few upstream
// schemas no client could meet as written are corrected, what upstream wrote kept under
// `x-erratum` (see errata() and docs/wire-compatibility.md).
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const fixture = join(root, 'test', 'contract', 'upstream.json');
const upstreamDir = process.env.EMBOSS_UPSTREAM_DIR ?? resolve(root, '..', 'shared', 'reference', 'firstvision-latam');

/**
 * The operations emboss serves that upstream documents. `generate`: the request contract is tested
 * with generated requests (the seed operations, customer add and account add).
 */
export const OPERATIONS = [
  { id: 'customerAdd', file: 'Customers-1.3.0.yaml', method: 'post', path: '/customer/l8v2', generate: true },
  { id: 'accountAdd', file: 'Accounts-1.3.0.yaml', method: 'post', path: '/account/add-L8V3', generate: true },
  { id: 'cardAdd', file: 'Cards-1.3.0.yaml', method: 'post', path: '/cards/embosser/l8vf', generate: true },
  { id: 'cardPan', file: 'Cards-1.3.0.yaml', method: 'post', path: '/cards/embosser/card-pan-l8v2', generate: true },
  { id: 'massIssue', file: 'Cards-1.3.0.yaml', method: 'post', path: '/cards/mass-card-issue-L8V3', generate: true },
  { id: 'massIssueInquiry', file: 'Cards-1.3.0.yaml', method: 'get', path: '/cards/mass-card-issue-L8V3' },
  { id: 'cardAction', file: 'Cards-1.3.0.yaml', method: 'put', path: '/cards/embosser/cardAction-L8V2', generate: true },
  { id: 'instantCard', file: 'Accounts-1.3.0.yaml', method: 'post', path: '/account/v2/instantCard', generate: true },
  { id: 'securityCodes', file: 'Cards-1.0.0.yaml', method: 'post', path: '/cards/pin/security-codes', generate: true },
  { id: 'dynamicValues', file: 'Cards-1.3.0.yaml', method: 'post', path: '/cards/pin/dynamic-values', generate: true },
  { id: 'invalidAttempts', file: 'Cards-1.3.0.yaml', method: 'post', path: '/cards/pin/invalid-attempts', generate: true },
  { id: 'pinValidation', file: 'Cards-1.3.0.yaml', method: 'post', path: '/cards/pin/validation', generate: true },
  { id: 'cardDetails', file: 'Cards-1.3.0.yaml', method: 'post', path: '/cards/v2/embosser/details' },
  { id: 'customerCards', file: 'Customers-1.3.0.yaml', method: 'get', path: '/customer/v3/cards/details' },
  { id: 'cardStatus', file: 'Cards-1.3.0.yaml', method: 'put', path: '/cards/status-L8V1' },
  { id: 'cardActivation', file: 'Cards-1.3.0.yaml', method: 'put', path: '/cards/activation' },
  { id: 'pinCodes', file: 'Cards-1.3.0.yaml', method: 'post', path: '/cards/v1/pin/codes' },
  { id: 'pinChange', file: 'Cards-1.3.0.yaml', method: 'put', path: '/cards/pin/pin-change' },
  { id: 'pinStatus', file: 'Cards-1.3.0.yaml', method: 'put', path: '/cards/pin/status' },
  { id: 'accounts', file: 'Accounts-1.3.0.yaml', method: 'get', path: '/account/v2/accounts' },
  { id: 'accountBlockCode', file: 'Accounts-1.3.0.yaml', method: 'put', path: '/account/block-code' },
  { id: 'customerDemographics', file: 'Customers-1.3.0.yaml', method: 'post', path: '/customer/demographicData-l8v2' },
  { id: 'customerUpdate', file: 'Customers-1.3.0.yaml', method: 'put', path: '/customer/' },
  { id: 'customerOfAccount', file: 'Customers-1.3.0.yaml', method: 'post', path: '/customer/accountNumber' },
];

const KEEP = ['type', 'format', 'enum', 'pattern', 'minLength', 'maxLength', 'minimum', 'maximum', 'required', 'minItems', 'maxItems'];

/** OpenAPI 3.0 schema → JSON Schema, every local $ref inlined, documentation dropped. */
function convert(schema, doc, seen = []) {
  if (schema.$ref) {
    const name = schema.$ref.replace('#/components/schemas/', '');
    if (seen.includes(name)) return {};
    return convert(doc.components.schemas[name], doc, [...seen, name]);
  }
  const out = {};
  for (const k of KEEP) if (schema[k] !== undefined) out[k] = schema[k];
  if (schema.properties) {
    out.properties = {};
    for (const [k, v] of Object.entries(schema.properties)) out.properties[k] = convert(v, doc, seen);
  }
  if (schema.items) out.items = convert(schema.items, doc, seen);
  for (const k of ['allOf', 'oneOf', 'anyOf']) if (schema[k]) out[k] = schema[k].map((s) => convert(s, doc, seen));
  if (schema.nullable && typeof out.type === 'string') out.type = [out.type, 'null'];
  const erratum = errata(out);
  if (erratum) out['x-erratum'] = erratum;
  const documented = documentedConstraints(schema);
  if (Object.keys(documented).length > 0) out['x-documented'] = documented;
  return out;
}

/**
 * Upstream enums that no client could send as written, corrected (and the correction kept, under
 * `x-erratum`): `["Y,N"]` is the list Y, N; `[null]` on an integer and `["range[19,19]"]` are a
 * generator's leftovers, not value lists.
 */
function errata(out) {
  // A value list written as a pattern with \s for "space" (channel: `^(I|A|W|\s){1}$`) would let
  // a tab or a newline through: VisionPLUS means the space.
  if (typeof out.pattern === 'string' && /^\^\(([A-Z0-9]\|)+\\s\)\{1\}\$$/.test(out.pattern)) {
    const written = out.pattern;
    out.pattern = written.replace('\\s', ' ');
    return `upstream pattern ${written}`;
  }
  if (!Array.isArray(out.enum)) return undefined;
  const written = JSON.stringify(out.enum);
  if (out.enum.length === 1 && typeof out.enum[0] === 'string' && /^[A-Z0-9](,[A-Z0-9])+$/.test(out.enum[0])) out.enum = out.enum[0].split(',');
  else if (out.enum.every((v) => v === null || (typeof v === 'string' && /^range\[/.test(v)))) delete out.enum;
  else return undefined;
  return `upstream enum ${written}`;
}

/** What a description states that the schema does not: the largest "Max Length", a value list. */
function documentedConstraints(schema) {
  const text = typeof schema.description === 'string' ? schema.description : '';
  const out = {};
  const lengths = [...text.matchAll(/\*\s*Max Length:\s*(\d+)/g)].map((m) => Number(m[1]));
  if (lengths.length > 0) {
    const n = Math.max(...lengths);
    if (schema.type === 'string' && schema.maxLength === undefined) out.maxLength = n;
    // An int32 holds no more than 10 digits, whatever the description says.
    if (schema.type === 'integer' && schema.maximum === undefined && n <= 15) { out.minimum = 0; out.maximum = Math.min(10 ** n - 1, schema.format === 'int32' ? 2147483647 : Infinity); }
    // An amount's length counts two decimals (VisionPLUS S9(15)V99 is "Max Length: 17").
    if (schema.type === 'number' && schema.maximum === undefined && n > 2 && n <= 17) { out.minimum = 0; out.maximum = 10 ** (n - 2) - 1; out.multipleOf = 0.01; }
  }
  const values = text.split(/(?:Values|Valid):\s*\n/)[1];
  if (values && !schema.enum && !schema.pattern && (schema.type === 'string' || schema.type === 'integer')) {
    const list = [];
    for (const line of values.split('\n')) {
      const m = /^\s*\*\s*(.+?)\s*(?:=|-\s|;|\.$|$)/.exec(line);
      if (!m) { if (line.trim() === '') continue; break; }
      const token = m[1].trim();
      if (/^spaces?$/i.test(token)) { if (schema.type === 'string') list.push(' '); continue; }
      if (!/^[A-Za-z0-9]{1,4}$/.test(token)) continue;
      if (schema.type === 'integer') { if (/^\d+$/.test(token)) list.push(Number(token)); } else list.push(token);
    }
    if (list.length > 0) out.enum = [...new Set(list)];
  }
  return out;
}

/** The 422 codes an operation's description lists: `CODE - TEXT` lines. */
function codes422(op) {
  const text = op.responses?.['422']?.description ?? '';
  return [...text.matchAll(/^([A-Z0-9]{8,12})\s*-\s*(.+)$/gm)].map((m) => ({ code: m[1], text: m[2].trim() }));
}

function derive() {
  const docs = {};
  const out = {};
  for (const o of OPERATIONS) {
    docs[o.file] ??= parse(readFileSync(join(upstreamDir, o.file), 'utf8'), { maxAliasCount: -1 });
    const doc = docs[o.file];
    const op = doc.paths[o.path]?.[o.method];
    if (!op) throw new Error(`${o.file}: no ${o.method.toUpperCase()} ${o.path}`);
    const params = (op.parameters ?? []).map((p) => (p.$ref ? doc.components.parameters[p.$ref.split('/').pop()] : p));
    const paramsIn = (where) => params.filter((p) => p.in === where).map((p) => ({ name: p.name, required: p.required === true, schema: convert(p.schema ?? {}, doc) }));
    const body = op.requestBody?.content?.['application/json']?.schema;
    const ok = op.responses?.['200']?.content?.['application/json']?.schema;
    out[o.id] = {
      source: o.file, method: o.method.toUpperCase(), path: o.path, operationId: op.operationId ?? null, generate: o.generate === true,
      headers: paramsIn('header'), query: paramsIn('query'),
      request: body ? convert(body, doc) : null,
      response: ok ? convert(ok, doc) : null,
      codes422: codes422(op),
    };
  }
  return out;
}

/** Field-level differences between two derivations, as lines. */
function differences(before, after) {
  const lines = [];
  const fields = (s, prefix = '', acc = new Map()) => {
    if (!s || typeof s !== 'object') return acc;
    for (const [k, v] of Object.entries(s.properties ?? {})) { acc.set(prefix + k, JSON.stringify({ ...v, properties: undefined, items: undefined })); fields(v, `${prefix}${k}.`, acc); if (v.items) fields(v.items, `${prefix}${k}[].`, acc); }
    return acc;
  };
  for (const id of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (!before[id]) { lines.push(`+ ${id}`); continue; }
    if (!after[id]) { lines.push(`- ${id}`); continue; }
    for (const part of ['request', 'response']) {
      const a = fields(before[id][part]);
      const b = fields(after[id][part]);
      for (const [k, v] of b) if (!a.has(k)) lines.push(`+ ${id} ${part} ${k}`); else if (a.get(k) !== v) lines.push(`~ ${id} ${part} ${k}`);
      for (const k of a.keys()) if (!b.has(k)) lines.push(`- ${id} ${part} ${k}`);
    }
    if (JSON.stringify(before[id].codes422) !== JSON.stringify(after[id].codes422)) lines.push(`~ ${id} 422 codes`);
    if (JSON.stringify(before[id].headers) !== JSON.stringify(after[id].headers)) lines.push(`~ ${id} headers`);
    if (before[id].operationId !== after[id].operationId) lines.push(`~ ${id} operationId`);
  }
  return lines;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const check = process.argv.includes('--check');
  if (!existsSync(upstreamDir)) {
    console.log(`upstream files not found in ${upstreamDir}: the committed fixture (test/contract/upstream.json) stands`);
    process.exit(0);
  }
  const derived = derive();
  const before = existsSync(fixture) ? JSON.parse(readFileSync(fixture, 'utf8')) : {};
  const diff = differences(before, derived);
  console.log(diff.length === 0 ? 'the fixture matches the upstream files' : `${diff.length} differences from the fixture:\n${diff.join('\n')}`);
  if (check) process.exit(diff.length === 0 ? 0 : 1);
  mkdirSync(dirname(fixture), { recursive: true });
  writeFileSync(fixture, `${JSON.stringify(derived, null, 1)}\n`);
  console.log(`wrote ${fixture}`);
}
