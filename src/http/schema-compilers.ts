import { AjvCompiler } from '@fastify/ajv-compiler';
import { SerializerSelector } from '@fastify/fast-json-stringify-compiler';

/**
 * The compilers Fastify turns route schemas into validators (Ajv) and serializers
 * (fast-json-stringify) with, kept for every app this process builds.
 *
 * Fastify's own make a new Ajv for each app and compile every route's schemas again. A server
 * builds one app, so that costs it nothing; a test process builds an app for each test file it
 * runs, and compiling the same schemas again was about 9 % of an HTTP test process's CPU. Here a
 * schema is compiled once a process, found again by the compiler's options and the schema's
 * content (its JSON text: a route plugin that makes its schema objects afresh for each app still
 * finds it). Both compilers make their function from the schema alone, and the functions keep no
 * state from one call to the next, so apps can share them.
 */
function keptBy<F>(pool: Map<string, Map<string, F>>, options: unknown, compile: (route: { schema?: unknown }) => F) {
  const key = JSON.stringify(options);
  let compiled = pool.get(key);
  if (!compiled) pool.set(key, (compiled = new Map()));
  const kept = compiled;
  return <R extends { schema?: unknown }>(route: R): F => {
    const text = JSON.stringify(route.schema);
    let fn = kept.get(text);
    if (fn === undefined) kept.set(text, (fn = compile(route)));
    return fn;
  };
}

const ajv = AjvCompiler();
const fastJsonStringify = SerializerSelector();
const validators = new Map<string, Map<string, ReturnType<ReturnType<typeof ajv>>>>();
const serializers = new Map<string, Map<string, ReturnType<ReturnType<typeof fastJsonStringify>>>>();

/** For Fastify's `schemaController.compilersFactory`. */
export const sharedSchemaCompilers = {
  buildValidator: ((externalSchemas, options) => {
    const compile = ajv(externalSchemas, options);
    return keptBy(validators, [externalSchemas, options], (route) => compile(route as Parameters<typeof compile>[0]));
  }) as typeof ajv,
  buildSerializer: ((externalSchemas, options) => {
    const compile = fastJsonStringify(externalSchemas, options);
    return keptBy(serializers, [externalSchemas, options], (route) => compile(route as Parameters<typeof compile>[0]));
  }) as typeof fastJsonStringify,
};
