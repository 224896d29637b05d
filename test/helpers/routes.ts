import type { App } from '../../src/http/app.ts';

/** A JSON schema as the OpenAPI document gives it. */
export type JsonSchema = Record<string, unknown>;

export interface Parameter { name: string; required: boolean; schema: JsonSchema }

/** One route of the API, as its OpenAPI document describes what a request carries. */
export interface ApiRoute {
  method: 'GET' | 'POST' | 'PUT';
  url: string;
  /** false for the routes without authentication (token, health). */
  signed: boolean;
  body: JsonSchema | undefined;
  query: Parameter[];
  headers: Parameter[];
  path: Parameter[];
}

/**
 * Every documented route of the app, from its OpenAPI document (`app.swagger()`, the same one
 * /openapi.json serves): what the fuzz and the schema-bound checks enumerate. The app must be
 * built with docs.
 */
export function apiRoutes(app: App): ApiRoute[] {
  const doc = app.swagger() as unknown as { paths: Record<string, Record<string, Record<string, unknown>>> };
  const out: ApiRoute[] = [];
  for (const [url, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const parameters = (op.parameters ?? []) as Array<{ in: string; name: string; required?: boolean; schema: JsonSchema }>;
      const of = (where: string) => parameters.filter((p) => p.in === where).map((p) => ({ name: p.name, required: p.required === true, schema: p.schema }));
      const content = (op.requestBody as { content?: Record<string, { schema: JsonSchema }> } | undefined)?.content;
      const security = op.security as unknown[] | undefined;
      out.push({
        method: method.toUpperCase() as ApiRoute['method'],
        url,
        signed: !(Array.isArray(security) && security.length === 0) && !url.startsWith('/health'),
        body: content?.['application/json']?.schema,
        query: of('query'),
        headers: of('header'),
        path: of('path'),
      });
    }
  }
  return out;
}

/** The JSON schemas of what a request of the route carries, named for messages. */
export function requestSchemas(route: ApiRoute): Array<[string, JsonSchema]> {
  const out: Array<[string, JsonSchema]> = [];
  if (route.body) out.push([`${route.method} ${route.url} body`, route.body]);
  for (const [where, list] of [['query', route.query], ['header', route.headers], ['path', route.path]] as const) {
    for (const p of list) out.push([`${route.method} ${route.url} ${where} ${p.name}`, p.schema]);
  }
  return out;
}

const INT4_MAX = 2147483647;

/**
 * What a request schema leaves unbounded: an integer without minimum and maximum within
 * PostgreSQL's integer, a number without both, a string without a maximum length (a const or an
 * enum bounds itself). Walks every property, item and union branch.
 */
export function unboundedFields(name: string, schema: JsonSchema): string[] {
  const found: string[] = [];
  const stack: Array<[string, JsonSchema]> = [[name, schema]];
  while (stack.length > 0) {
    const [path, s] = stack.pop()!;
    if (s.const !== undefined || Array.isArray(s.enum)) continue;
    if (s.type === 'integer') {
      if (typeof s.minimum !== 'number' || typeof s.maximum !== 'number') found.push(`${path}: integer without minimum and maximum`);
      else if (s.minimum < -INT4_MAX || s.maximum > INT4_MAX) found.push(`${path}: integer range past PostgreSQL integer`);
    } else if (s.type === 'number') {
      if (typeof s.minimum !== 'number' || typeof s.maximum !== 'number') found.push(`${path}: number without minimum and maximum`);
    } else if (s.type === 'string') {
      if (typeof s.maxLength !== 'number') found.push(`${path}: string without maxLength`);
    }
    for (const [k, v] of Object.entries((s.properties ?? {}) as Record<string, JsonSchema>)) stack.push([`${path}.${k}`, v]);
    if (s.items && typeof s.items === 'object') stack.push([`${path}[]`, s.items as JsonSchema]);
    for (const b of [...((s.anyOf ?? []) as JsonSchema[]), ...((s.oneOf ?? []) as JsonSchema[])]) stack.push([`${path}|`, b]);
  }
  return found;
}
