import { parseCanonicalDecimal, parseCanonicalInteger, spellsUnusableNumber } from './usable-number.ts';

/**
 * A request value made ready for schema validation, guided by the route's JSON schema, before
 * the validator sees it (the validator coerces nothing):
 *
 * - A number sent as text where the schema wants a number (query strings and headers carry every
 *   number as text; some FirstVision clients send body numbers as text) becomes that number when
 *   it is canonical decimal digits, and is refused otherwise: no "Infinity", "1e400", "007", " 1",
 *   "-0" or 400 digits, which a validator's type coercion turns into Infinity or a number nobody
 *   sent. The schema's minimum and maximum then apply to the number.
 * - A JSON number where the schema wants text becomes its decimal text (as the validator's
 *   coercion did: FirstVision clients send record numbers either way). Booleans and null are
 *   not turned into anything.
 * - Fields the schema does not model, where it keeps them (`additionalProperties` not false), are
 *   measured: they are stored as sent (a record's profile), so their depth, count and size are
 *   bounded (`extras`).
 *
 * The value is changed in place and walked with a stack of its own, guided by the schema: no
 * recursion, and nothing is visited that the schema does not describe, except extra fields,
 * whose measure is iterative too.
 */

/** Bounds of the fields kept as sent, over one request body. */
export interface ExtraFieldLimits {
  /** Nesting levels inside one extra field's value (`"x"` is 0, `{"a":"x"}` 1). */
  depth: number;
  /** JSON values in all extra fields together (each field, each member, each element). */
  values: number;
  /** Characters of their names and texts (numbers and literals by their JSON length). */
  chars: number;
}

export type InputIssue =
  | { kind: 'number-text'; path: string; expected: 'integer' | 'number'; unusable: boolean }
  | { kind: 'extra-fields'; path: string; limit: 'depth' | 'values' | 'chars' };

type Schema = Record<string, unknown>;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isSchema = (v: unknown): v is Schema => isObject(v);
const branchesOf = (s: Schema): Schema[] | undefined => {
  const b = (s.anyOf ?? s.oneOf) as unknown;
  return Array.isArray(b) ? b.filter(isSchema) : undefined;
};

/** 'integer' or 'number' when the schema accepts numbers only (a union of numeric branches included). */
export function numericKind(s: Schema): 'integer' | 'number' | undefined {
  if (typeof s.const === 'number') return Number.isInteger(s.const) ? 'integer' : 'number';
  if (s.type === 'integer') return 'integer';
  if (s.type === 'number') return 'number';
  const branches = branchesOf(s);
  if (!branches || branches.length === 0) return undefined;
  const kinds = branches.map(numericKind);
  if (kinds.some((k) => k === undefined)) return undefined;
  return kinds.includes('number') ? 'number' : 'integer';
}

/** Whether the schema accepts text only. */
const textOnly = (s: Schema): boolean => s.type === 'string' || (branchesOf(s)?.every(textOnly) ?? false);

/** The object schema to walk an object value with: the schema itself, or its one object branch. */
function objectSchema(s: Schema): Schema | undefined {
  if (s.type === 'object' || isSchema(s.properties)) return s;
  const objects = branchesOf(s)?.filter((b) => b.type === 'object' || isSchema(b.properties));
  return objects?.length === 1 ? objects[0] : undefined;
}

const join = (path: string, key: string | number) => `${path}/${key}`;

interface Budget { values: number; chars: number }

/** Measures one extra field (its name and value) against the limits; the budget is shared by all of a body's extras. */
function measureExtra(name: string, value: unknown, limits: ExtraFieldLimits, budget: Budget): 'depth' | 'values' | 'chars' | undefined {
  budget.chars += name.length;
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    budget.values++;
    if (budget.values > limits.values) return 'values';
    if (typeof v === 'string') budget.chars += v.length;
    else if (Array.isArray(v) || isObject(v)) {
      if (depth + 1 > limits.depth) return 'depth';
      if (Array.isArray(v)) for (const item of v) stack.push([item, depth + 1]);
      else for (const [k, item] of Object.entries(v)) { budget.chars += k.length; stack.push([item, depth + 1]); }
    } else budget.chars += String(v).length;
    if (budget.chars > limits.chars) return 'chars';
  }
  return undefined;
}

/**
 * Canonicalises `holder[key]` (and what it contains) after `schema`; answers the first issue, or
 * undefined. `path` names the value in issues (e.g. "body"), as the validator's messages do.
 */
export function canonicalizeInput(schema: unknown, holder: Record<string, unknown>, key: string, path: string, extras?: ExtraFieldLimits): InputIssue | undefined {
  const budget: Budget = { values: 0, chars: 0 };
  const stack: Array<{ s: Schema; holder: Record<string, unknown> | unknown[]; key: string | number; path: string }> = [];
  if (isSchema(schema)) stack.push({ s: schema, holder, key, path });
  while (stack.length > 0) {
    const { s, holder: h, key: k, path: p } = stack.pop()!;
    const v = (h as Record<string | number, unknown>)[k];
    const numeric = numericKind(s);
    if (numeric) {
      if (typeof v === 'string') {
        const n = numeric === 'integer' ? parseCanonicalInteger(v) : parseCanonicalDecimal(v);
        if (n === undefined) return { kind: 'number-text', path: p, expected: numeric, unusable: spellsUnusableNumber(v) };
        (h as Record<string | number, unknown>)[k] = n;
      }
      continue;
    }
    if (typeof v === 'number' && textOnly(s)) {
      if (Number.isFinite(v)) (h as Record<string | number, unknown>)[k] = String(v);
      continue;
    }
    if (Array.isArray(v)) {
      if (isSchema(s.items)) for (let i = 0; i < v.length; i++) stack.push({ s: s.items, holder: v, key: i, path: join(p, i) });
      continue;
    }
    if (!isObject(v)) continue;
    const o = objectSchema(s);
    if (!o) continue;
    const properties = isSchema(o.properties) ? o.properties : {};
    for (const [name, item] of Object.entries(v)) {
      const described = Object.hasOwn(properties, name) ? properties[name] : undefined;
      if (isSchema(described)) { stack.push({ s: described, holder: v, key: name, path: join(p, name) }); continue; }
      // Not described: refused by the validator (additionalProperties false), walked after
      // its schema (modelled), or kept as sent, and then measured.
      if (o.additionalProperties === false) continue;
      if (isSchema(o.additionalProperties)) { stack.push({ s: o.additionalProperties, holder: v, key: name, path: join(p, name) }); continue; }
      if (extras) {
        const over = measureExtra(name, item, extras, budget);
        if (over) return { kind: 'extra-fields', path: join(p, name), limit: over };
      }
    }
  }
  return undefined;
}
