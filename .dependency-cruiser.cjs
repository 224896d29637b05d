/**
 * The layout of the README ("## Layout"), checked in `npm run lint`. Each place in src/ has one
 * rule naming what it may import (an allow-list: anything else in src/ is a violation); a few
 * finer rules cut across (a module's one public surface, crypto, cycles, Fastify, the client).
 * Every forbidden import falls under exactly one rule, so each violation is reported once.
 *
 *   main.ts        → cli, config, shared
 *   cli/           → container, http, config, db, modules (index), shared
 *   http/app.ts    → container, config, modules (index), shared, http
 *   http/ (rest)   → modules (index), shared, http; config as types only
 *   container.ts   → config, db, jobs, modules (index), security-module (port, audited, software), shared
 *   jobs/          → modules (index), db, shared
 *   modules/<m>/   → its own files, other modules' index.ts, security-module/port.ts, db, shared, crypto/luhn.ts
 *   security-module: port.ts → shared; audited.ts → port, shared; software/ → port, crypto, shared;
 *                    contract.suite.ts (the tests every implementation passes) → port, crypto, shared
 *   crypto/ → nothing; shared/ → nothing; db/ → shared; config/ → shared
 *
 * Test files (*.test.ts) are left out of the graph. test/lint/layout.test.ts plants each
 * forbidden import in a copy of src/ and checks that the rule below reports it.
 */

/** Crypto other than luhn.ts: only-the-software-module-uses-crypto reports it, the allow-lists leave it out. */
const CRYPTO_BUT_LUHN = '^src/crypto/(?!luhn\\.ts$)';

/** A place may import only `allowed` of src/. */
const onlyImports = (name, comment, from, allowed) => ({
  name, severity: 'error', comment,
  from: typeof from === 'string' ? { path: from } : from,
  to: { path: '^src/', pathNot: [...allowed, CRYPTO_BUT_LUHN] },
});

module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },

    {
      name: 'src-has-only-the-drawn-places', severity: 'error',
      comment: 'A new folder or file at the top of src/ is drawn in the README and given a rule here first.',
      from: {
        path: '^src/',
        pathNot: [
          '^src/(main|container)\\.ts$', '^src/(cli|http|jobs|config|modules|crypto|db|shared)/',
          '^src/security-module/((port|audited|contract\\.suite)\\.ts$|software/)',
        ],
      },
      to: {},
    },

    // --- the edges -------------------------------------------------------------------------------
    onlyImports('main-imports-cli-config-shared',
      'The entry parses the command and hands it to the CLI.',
      '^src/main\\.ts$', ['^src/(cli|config|shared)/']),
    onlyImports('cli-imports-container-http-config-db-modules-shared',
      'The commands build the container, serve the app, run migrations; never the security module itself.',
      '^src/cli/', ['^src/(cli|http|config|db|modules|shared)/', '^src/container\\.ts$']),
    onlyImports('http-app-is-where-http-meets-the-container',
      'buildApp takes the container and hands each route plugin the services it uses.',
      '^src/http/app\\.ts$', ['^src/(http|config|modules|shared)/', '^src/container\\.ts$']),
    onlyImports('http-routes-and-plugins-import-modules-shared',
      'Routes and plugins get services handed in: no container, store, security module, crypto, jobs or CLI.',
      { path: '^src/http/', pathNot: '^src/http/app\\.ts$' }, ['^src/(http|modules|shared|config)/']),
    {
      name: 'http-routes-and-plugins-see-config-types-only', severity: 'error',
      comment: 'Settings reach a route as values handed in; its type may be imported.',
      from: { path: '^src/http/', pathNot: '^src/http/app\\.ts$' },
      to: { path: '^src/config/', dependencyTypesNot: ['type-only'] },
    },
    onlyImports('jobs-import-modules-db-shared',
      'The container registers the jobs; jobs never reach up to it, to HTTP or to the CLI.',
      '^src/jobs/', ['^src/(jobs|modules|db|shared)/']),

    // --- the composition root ------------------------------------------------------------------
    onlyImports('container-imports-config-db-jobs-modules-security-module-shared',
      'The one place where implementations are built and wired; it never reaches HTTP or the CLI.',
      '^src/container\\.ts$',
      ['^src/(config|db|jobs|modules|shared)/', '^src/security-module/((port|audited)\\.ts$|software/)']),

    // --- modules -----------------------------------------------------------------------------------
    onlyImports('modules-import-modules-port-db-shared-luhn',
      'Modules are use cases: other modules, the security module port, the store, shared, Luhn. Never config, the edges, the container or a security module implementation.',
      '^src/modules/',
      ['^src/(modules|db|shared)/', '^src/security-module/port\\.ts$', '^src/crypto/luhn\\.ts$']),
    {
      name: 'modules-use-each-other-through-index', severity: 'error',
      comment: 'One public surface per module: other modules import its index.ts only.',
      from: { path: '^src/modules/([^/]+)/' },
      to: { path: '^src/modules/([^/]+)/', pathNot: ['^src/modules/$1/', '^src/modules/[^/]+/index\\.ts$'] },
    },
    {
      name: 'the-edges-use-a-module-through-its-index', severity: 'error',
      comment: 'One public surface per module: the CLI, HTTP, jobs and the container import its index.ts only.',
      from: { path: ['^src/(cli|http|jobs)/', '^src/container\\.ts$'] },
      to: { path: '^src/modules/[^/]+/', pathNot: '^src/modules/[^/]+/index\\.ts$' },
    },

    // --- security module -------------------------------------------------------------------------
    onlyImports('port-is-an-interface',
      'The port is types and error codes: shared only.',
      '^src/security-module/port\\.ts$', ['^src/shared/']),
    onlyImports('audited-wraps-the-port',
      'The auditing wrapper knows the interface only.',
      '^src/security-module/audited\\.ts$', ['^src/shared/', '^src/security-module/port\\.ts$']),
    onlyImports('software-module-imports-port-crypto-shared',
      'The implementation: the port, the primitives, shared; nothing above it.',
      '^src/security-module/software/', ['^src/(shared|crypto)/', '^src/security-module/(port\\.ts$|software/)']),
    onlyImports('contract-suite-imports-port-crypto-shared',
      'The tests any implementation passes use the interface, and crypto only for reference values.',
      '^src/security-module/contract\\.suite\\.ts$', ['^src/(shared|crypto)/', '^src/security-module/port\\.ts$']),
    {
      name: 'only-the-software-module-uses-crypto', severity: 'error',
      comment: 'Keys and secrets go through the security module; Luhn is a pure helper modules may use.',
      from: { path: '^src/', pathNot: ['^src/crypto/', '^src/security-module/software/', '^src/security-module/contract\\.suite\\.ts$'] },
      to: { path: CRYPTO_BUT_LUHN },
    },

    // --- the bottom --------------------------------------------------------------------------------
    onlyImports('crypto-is-pure',
      'Primitives depend on nothing else in the project.',
      '^src/crypto/', ['^src/crypto/']),
    onlyImports('shared-imports-nothing',
      'src/shared is the bottom layer.',
      '^src/shared/', ['^src/shared/']),
    onlyImports('db-imports-shared',
      'The store: schema, migrations, dialects; nothing of what uses it.',
      '^src/db/', ['^src/(db|shared)/']),
    onlyImports('config-imports-shared',
      'Settings and the bootstrap file are read and checked with shared errors and scopes only.',
      '^src/config/', ['^src/(config|shared)/']),

    // --- outside src ---------------------------------------------------------------------------
    {
      name: 'the-client-stands-alone', severity: 'error',
      comment: 'The typed client (clients/typescript) is what an integrator copies: node:crypto and openapi-fetch, nothing of emboss. The examples use the client alone.',
      from: { path: '^(clients|examples)/' }, to: { path: '^(src|test|scripts|bench)/' },
    },
    {
      name: 'fastify-only-in-http', severity: 'error',
      from: { path: '^src/', pathNot: '^src/http/' }, to: { path: 'node_modules/(fastify|@fastify|fastify-plugin)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '\\.test\\.ts$' },
  },
};
