import { readFileSync } from 'node:fs';
import { generateSync } from 'json-schema-faker';
import { Ajv2019 } from 'ajv/dist/2019.js';
import addFormats from 'ajv-formats';

/** A JSON schema as test/contract/upstream.json keeps it. */
export type JsonSchema = { [k: string]: unknown; properties?: Record<string, JsonSchema>; items?: JsonSchema; required?: string[] };

export interface UpstreamOperation {
  source: string;
  method: 'GET' | 'POST' | 'PUT';
  path: string;
  /** The request contract is tested with generated requests. */
  generate: boolean;
  headers: Array<{ name: string; required: boolean; schema: JsonSchema }>;
  query: Array<{ name: string; required: boolean; schema: JsonSchema }>;
  request: JsonSchema | null;
  response: JsonSchema | null;
  codes422: Array<{ code: string; text: string }>;
}

/** emboss's copy of the upstream contract, derived by `npm run contract` (scripts/contract.mjs). */
export const upstream: Record<string, UpstreamOperation> = JSON.parse(readFileSync(new URL('../contract/upstream.json', import.meta.url), 'utf8'));

/**
 * The request schema a careful client honours: upstream's schema with the lengths and value lists
 * its descriptions state (`x-documented`) made keywords.
 */
export function documented(schema: JsonSchema): JsonSchema {
  const out: JsonSchema = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k === 'x-documented') Object.assign(out, v);
    else if (k.startsWith('x-')) continue;
    else if (k === 'properties') out.properties = Object.fromEntries(Object.entries(v as Record<string, JsonSchema>).map(([p, s]) => [p, documented(s)]));
    else if (k === 'items') out.items = documented(v as JsonSchema);
    else if (!(k in out)) out[k] = v;
  }
  return out;
}

/** The response schema with every documented property required, at every level. */
export function allRequired(schema: JsonSchema): JsonSchema {
  const out: JsonSchema = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k.startsWith('x-')) continue;
    if (k === 'properties') {
      out.properties = Object.fromEntries(Object.entries(v as Record<string, JsonSchema>).map(([p, s]) => [p, allRequired(s)]));
      out.required = Object.keys(v as object);
    } else if (k === 'items') out.items = allRequired(v as JsonSchema);
    else if (k !== 'required') out[k] = v;
  }
  return out;
}

/** Amounts as a client writes them: two decimals, not a binary fraction's tail. */
function tidy(value: unknown, schema: JsonSchema): unknown {
  if (typeof value === 'number' && schema.multipleOf === 0.01) return Math.round(value * 100) / 100;
  if (Array.isArray(value) && schema.items) return value.map((v) => tidy(v, schema.items!));
  if (value && typeof value === 'object' && schema.properties) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, schema.properties![k] ? tidy(v, schema.properties![k]!) : v]));
  }
  return value;
}

/** The schema with the objects at these dotted paths present (required), so a fill can put identifiers in them. */
function withPresent(schema: JsonSchema, paths: string[]): JsonSchema {
  const out = structuredClone(schema);
  for (const path of paths) {
    let s = out;
    for (const name of path.split('.')) {
      s.required = [...new Set([...(s.required ?? []), name])];
      s = s.properties![name]!;
    }
  }
  return out;
}

/**
 * `count` requests that satisfy the operation's documented request schema, the same for a seed.
 * `present`: objects (dotted paths) every request carries — upstream-valid requests that name the
 * records the fill puts in, not requests that could be sent without them.
 */
export function generateRequests(op: UpstreamOperation, count: number, seed: number, present: string[] = []): Array<Record<string, unknown>> {
  const schema = withPresent(documented(op.request!), present);
  return Array.from({ length: count }, (_, i) => tidy(generateSync(schema as never, { seed: seed + i, optionalsProbability: 0.6, maxItems: 3 }), schema) as Record<string, unknown>);
}

const ajv = new Ajv2019({ allErrors: true, strict: false });
(addFormats as unknown as (a: Ajv2019) => void)(ajv);
const validators = new Map<string, ReturnType<typeof ajv.compile>>();

/** What is wrong with a 200 body against the upstream 200 schema, every documented property required. */
export function responseProblems(id: string, body: unknown): string[] {
  return problems(id, upstream[id]!.response!, body);
}

/**
 * What is wrong with a 200 body against a schema with every property required (emboss's own
 * OpenAPI document must describe exactly what is sent: nothing it lists may be missing).
 */
export function problems(key: string, schema: JsonSchema, body: unknown): string[] {
  return problemsOf(key, allRequired(schema), body);
}

function problemsOf(key: string, schema: JsonSchema, body: unknown): string[] {
  let validate = validators.get(key);
  if (!validate) {
    validate = ajv.compile(schema);
    validators.set(key, validate);
  }
  if (validate(body)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}${e.params && 'missingProperty' in e.params ? ` ${String(e.params.missingProperty)}` : ''}`);
}

/** What is wrong with a request against the upstream request schema and its documented lengths and value lists. */
export function requestProblems(id: string, body: unknown): string[] {
  return problemsOf(`request ${id}`, withoutCents(documented(upstream[id]!.request!)), body);
}

/**
 * The schema without the cents rule: a 15-digit amount with cents is a double whose division by
 * 0.01 is not whole, so Ajv's multipleOf cannot judge it (the generator writes two decimals).
 */
function withoutCents(schema: JsonSchema): JsonSchema {
  return JSON.parse(JSON.stringify(schema, (k, v) => (k === 'multipleOf' ? undefined : v)));
}

/** Documented response properties (at every level) and how many of them a body carries. */
export function fieldsPresent(schema: JsonSchema, body: unknown): { documented: number; present: number } {
  let documented = 0;
  let present = 0;
  const walk = (s: JsonSchema, v: unknown) => {
    for (const [k, p] of Object.entries(s.properties ?? {})) {
      documented++;
      const value = v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
      if (value !== undefined) present++;
      const inner = p.items ?? p;
      const sample = Array.isArray(value) ? value[0] : value;
      if (inner.properties) walk(inner, sample);
    }
  };
  walk(schema, body);
  return { documented, present };
}
