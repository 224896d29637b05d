/**
 * The dependency direction of STYLE.md, checked in `npm run lint`:
 *   http | cli | jobs  →  container  →  modules  →  ports  →  shared
 *   security-module/software  →  crypto (pure primitives)
 */
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    {
      name: 'shared-imports-nothing', severity: 'error',
      comment: 'src/shared is the bottom layer.',
      from: { path: '^src/shared/' }, to: { path: '^src/', pathNot: '^src/shared/' },
    },
    {
      name: 'crypto-is-pure', severity: 'error',
      comment: 'Primitives depend on nothing else in the project.',
      from: { path: '^src/crypto/' }, to: { path: '^src/', pathNot: '^src/crypto/' },
    },
    {
      name: 'only-the-software-module-uses-crypto', severity: 'error',
      comment: 'Keys and secrets go through the security module; Luhn and masking are pure helpers anyone may use.',
      from: { path: '^src/', pathNot: ['^src/crypto/', '^src/security-module/software/', '^src/security-module/contract\\.suite\\.ts$'] },
      to: { path: '^src/crypto/', pathNot: ['^src/crypto/luhn\\.ts$'] },
    },
    {
      name: 'port-is-an-interface', severity: 'error',
      from: { path: '^src/security-module/port\\.ts$' }, to: { path: '^src/', pathNot: ['^src/shared/', '^src/security-module/port\\.ts$'] },
    },
    {
      name: 'security-module-stays-below-modules', severity: 'error',
      from: { path: '^src/security-module/' }, to: { path: '^src/(modules|http|cli|jobs|container|db|config)' },
    },
    {
      name: 'modules-stay-below-the-edges', severity: 'error',
      comment: 'Modules never reach up to HTTP, the CLI, jobs or the composition root, nor into a software security module.',
      from: { path: '^src/modules/' }, to: { path: ['^src/(http|cli|jobs)/', '^src/container\\.ts$', '^src/main\\.ts$', '^src/security-module/software/'] },
    },
    {
      name: 'modules-use-each-other-through-index', severity: 'error',
      comment: 'One public surface per module: other modules import its index.ts only.',
      from: { path: '^src/modules/([^/]+)/' }, to: { path: '^src/modules/([^/]+)/', pathNot: ['^src/modules/$1/', '^src/modules/[^/]+/index\\.ts$'] },
    },
    {
      name: 'db-and-config-stay-low', severity: 'error',
      from: { path: '^src/(db|config)/' }, to: { path: '^src/(modules|http|cli|jobs|container|security-module)' },
    },
    {
      name: 'only-the-edges-use-the-container', severity: 'error',
      from: { path: '^src/', pathNot: ['^src/(http|cli)/', '^src/main\\.ts$', '^src/container\\.ts$'] }, to: { path: '^src/container\\.ts$' },
    },
    {
      name: 'http-only-from-the-cli', severity: 'error',
      from: { path: '^src/', pathNot: ['^src/http/', '^src/cli/'] }, to: { path: '^src/http/' },
    },
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
