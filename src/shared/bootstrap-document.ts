import { Type, type Static } from '@sinclair/typebox';
import { SCOPES } from './scopes.ts';

/**
 * The bootstrap document: organizations, logos, keys and API clients, as an operator writes them
 * (YAML or JSON, `EMBOSS_CONFIG`; docs/configuration.md). Its shape lives here, below everything:
 * config reads and checks the file against it, the setup module applies it.
 */

const Hex = (min: number, max: number) => Type.String({ pattern: `^[0-9A-Fa-f]{${min},${max}}$` });
const Digits = (min: number, max: number) => Type.String({ pattern: `^[0-9]{${min},${max}}$` });
const KeyName = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' });

const PinSchema = Type.Object({
  method: Type.Union([Type.Literal('IBM3624'), Type.Literal('PVV')]),
  length: Type.Integer({ minimum: 4, maximum: 12, default: 4 }),
  decimalizationTable: Type.String({ pattern: '^[0-9]{16}$', default: '0123456789012345' }),
  pvki: Type.Integer({ minimum: 0, maximum: 6, default: 1 }),
  maxInvalidTries: Type.Integer({ minimum: 1, maximum: 99, default: 3 }),
  exceededAction: Type.Union(['C', 'D', 'K', 'R', 'S', 'V', ' '].map((v) => Type.Literal(v)), { default: 'D' }),
}, { additionalProperties: false });

const LogoSchema = Type.Object({
  number: Type.Integer({ minimum: 1, maximum: 998 }),
  description: Type.String({ maxLength: 30, default: '' }),
  bin: Digits(6, 8),
  panLength: Type.Integer({ minimum: 16, maximum: 19, default: 16 }),
  expiryMonths: Type.Integer({ minimum: 1, maximum: 120, default: 36 }),
  serviceCode: Digits(3, 3),
  cardType: Type.Union([Type.Literal('credit'), Type.Literal('debit'), Type.Literal('prepaid')], { default: 'credit' }),
  currency: Type.Integer({ minimum: 1, maximum: 999, default: 840 }),
  pin: PinSchema,
  dcvv2ValidityMinutes: Type.Integer({ minimum: 1, maximum: 1440, default: 60 }),
  keys: Type.Object({ cvk: KeyName, pvk: KeyName }, { additionalProperties: false }),
}, { additionalProperties: false });

const OrganizationSchema = Type.Object({
  number: Type.Integer({ minimum: 1, maximum: 998 }),
  name: Type.String({ minLength: 1, maxLength: 40 }),
  panToken: Type.Boolean({ default: true }),
  /** The card bureau: its key (type BUR) for personalization records, optionally its OpenPGP public key file. */
  personalization: Type.Optional(Type.Object({
    bureauKey: KeyName,
    pgpPublicKeyFile: Type.Optional(Type.String({ minLength: 1 })),
  }, { additionalProperties: false })),
  logos: Type.Array(LogoSchema, { default: [] }),
}, { additionalProperties: false });

const KeySchema = Type.Object({
  name: KeyName,
  type: Type.Union(['CVK', 'PVK', 'ZPK', 'ZEK', 'DEK', 'HMK', 'TOK', 'BUR'].map((t) => Type.Literal(t))),
  algorithm: Type.Optional(Type.Union([Type.Literal('3DES'), Type.Literal('AES'), Type.Literal('HMAC')])),
  components: Type.Optional(Type.Array(Hex(16, 128), { minItems: 1, maxItems: 9 })),
  kcv: Type.Optional(Hex(4, 10)),
  generate: Type.Optional(Type.Boolean()),
}, { additionalProperties: false });

const ClientSchema = Type.Object({
  clientId: Type.String({ pattern: '^[A-Za-z0-9._-]{1,64}$' }),
  apikey: Type.String({ pattern: '^[A-Za-z0-9._~-]{16,128}$' }),
  /** The shared secret, or the name of an environment variable that holds it. */
  secret: Type.Optional(Type.String({ minLength: 16, maxLength: 256 })),
  secretEnv: Type.Optional(Type.String({ pattern: '^[A-Z_][A-Z0-9_]*$' })),
  organizations: Type.Array(Type.Integer({ minimum: 1, maximum: 998 }), { minItems: 1 }),
  scopes: Type.Array(Type.Union(SCOPES.map((s) => Type.Literal(s))), { minItems: 1, uniqueItems: true }),
  keyAssociations: Type.Record(Type.String({ pattern: '^[A-Z0-9]{1,8}$' }), KeyName, { default: {} }),
  cardNumberKey: Type.Optional(KeyName),
  tokenTtlSeconds: Type.Integer({ minimum: 60, maximum: 86400, default: 900 }),
  /** Success bodies wrapped in the envelope, for clients written against a gateway that wraps them (docs/wire-compatibility.md). */
  successEnvelope: Type.Boolean({ default: false }),
  /**
   * What a request must carry to authenticate: `signed` (the default: signature, timestamp and
   * request id), `upstream` (what the upstream files declare: X-ClientID, bearer token and
   * apikey; a signature checked when sent), or each part on its own (docs/security.md).
   */
  authentication: Type.Union([
    Type.Literal('signed'),
    Type.Literal('upstream'),
    Type.Object({
      signature: Type.Union([Type.Literal('required'), Type.Literal('optional'), Type.Literal('off')], { default: 'required' }),
      requestId: Type.Union([Type.Literal('required'), Type.Literal('optional')], { default: 'required' }),
      clientIdHeader: Type.Union([Type.Literal('required'), Type.Literal('optional')], { default: 'optional' }),
    }, { additionalProperties: false }),
  ], { default: 'signed' }),
}, { additionalProperties: false });

export const BootstrapSchema = Type.Object({
  organizations: Type.Array(OrganizationSchema, { default: [] }),
  keys: Type.Array(KeySchema, { default: [] }),
  clients: Type.Array(ClientSchema, { default: [] }),
}, { additionalProperties: false });

export type BootstrapConfig = Static<typeof BootstrapSchema>;
export type BootstrapOrganization = Static<typeof OrganizationSchema>;
export type BootstrapLogo = Static<typeof LogoSchema>;
export type BootstrapKey = Static<typeof KeySchema>;
export type BootstrapClient = Static<typeof ClientSchema>;

export type ConfigPath = ReadonlyArray<string | number>;

export interface ParsedBootstrap {
  config: BootstrapConfig;
  /** "file:line" of a value in the file, for error messages. */
  where(path: ConfigPath): string;
}
