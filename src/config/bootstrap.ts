import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { ConfigError } from '../shared/errors.ts';
import { SCOPES } from '../shared/scopes.ts';

/**
 * The bootstrap file (YAML or JSON, `EMBOSS_CONFIG`): organizations, logos, keys and API clients,
 * applied idempotently at every start. See docs/configuration.md.
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

export function readBootstrapFile(file: string): ParsedBootstrap {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new ConfigError(`cannot read the bootstrap file ${file}`);
  }
  return parseBootstrap(text, file);
}

export function parseBootstrap(text: string, name = 'bootstrap'): ParsedBootstrap {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const line = e.linePos?.[0]?.line ?? 1;
    throw new ConfigError(`${name}:${line}: ${e.message.split('\n')[0]}`);
  }
  const where = (path: ConfigPath): string => {
    for (let p = [...path]; p.length >= 0; p = p.slice(0, -1)) {
      const node = p.length === 0 ? doc.contents : doc.getIn(p, true);
      const range = (node as { range?: [number, number, number] } | undefined)?.range;
      if (range) return `${name}:${lineCounter.linePos(range[0]).line}`;
      if (p.length === 0) break;
    }
    return `${name}:1`;
  };

  const raw = doc.toJS() ?? {};
  const withDefaults = Value.Default(BootstrapSchema, Value.Clone(raw));
  const errors = [...Value.Errors(BootstrapSchema, withDefaults)];
  if (errors.length > 0) {
    // Report the deepest error: the union/object errors above it only repeat it less precisely.
    const first = errors.reduce((a, b) => (b.path.split('/').length > a.path.split('/').length ? b : a));
    const path = first.path.split('/').slice(1).map((s) => (/^\d+$/.test(s) ? Number(s) : s));
    throw new ConfigError(`${where(path)}: ${first.path || '/'} ${first.message}`);
  }
  const config = withDefaults as BootstrapConfig;
  checkReferences(config, where);
  return { config, where };
}

/** Duplicate numbers, unknown key names and conflicting key declarations, before anything is written. */
function checkReferences(config: BootstrapConfig, where: (p: ConfigPath) => string) {
  const fail = (path: ConfigPath, message: string): never => { throw new ConfigError(`${where(path)}: ${message}`); };

  const keyTypes = new Map<string, string>();
  config.keys.forEach((k, i) => {
    if (keyTypes.has(k.name)) fail(['keys', i, 'name'], `duplicate key name ${k.name}`);
    keyTypes.set(k.name, k.type);
    const hasComponents = k.components !== undefined;
    if (hasComponents === (k.generate === true)) fail(['keys', i], `key ${k.name} needs either components or generate: true`);
    if (k.kcv !== undefined && !hasComponents) fail(['keys', i, 'kcv'], `key ${k.name}: a kcv applies only to a key given as components`);
  });
  const needKey = (path: ConfigPath, name: string, types: string[]) => {
    const type = keyTypes.get(name);
    if (type === undefined) fail(path, `unknown key ${name}`);
    if (!types.includes(type!)) fail(path, `key ${name} is a ${type} key; expected ${types.join(' or ')}`);
  };

  const orgNumbers = new Set<number>();
  config.organizations.forEach((org, i) => {
    if (orgNumbers.has(org.number)) fail(['organizations', i, 'number'], `duplicate organization number ${org.number}`);
    orgNumbers.add(org.number);
    if (org.personalization) needKey(['organizations', i, 'personalization', 'bureauKey'], org.personalization.bureauKey, ['BUR']);
    const logoNumbers = new Set<number>();
    org.logos.forEach((logo, j) => {
      const at = ['organizations', i, 'logos', j];
      if (logoNumbers.has(logo.number)) fail([...at, 'number'], `duplicate logo number ${logo.number} in organization ${org.number}`);
      logoNumbers.add(logo.number);
      if (logo.bin.length >= logo.panLength) fail([...at, 'bin'], 'the BIN must be shorter than the card number');
      if (logo.pin.method === 'PVV' && logo.pin.length !== 4) fail([...at, 'pin', 'length'], 'the PVV method works on 4-digit PINs');
      needKey([...at, 'keys', 'cvk'], logo.keys.cvk, ['CVK']);
      needKey([...at, 'keys', 'pvk'], logo.keys.pvk, ['PVK']);
    });
  });

  const clientIds = new Set<string>();
  const apikeys = new Set<string>();
  config.clients.forEach((c, i) => {
    if (clientIds.has(c.clientId)) fail(['clients', i, 'clientId'], `duplicate client ${c.clientId}`);
    if (apikeys.has(c.apikey)) fail(['clients', i, 'apikey'], 'duplicate apikey');
    clientIds.add(c.clientId);
    apikeys.add(c.apikey);
    if ((c.secret === undefined) === (c.secretEnv === undefined)) fail(['clients', i], `client ${c.clientId} needs exactly one of secret or secretEnv`);
    c.organizations.forEach((o, j) => { if (!orgNumbers.has(o)) fail(['clients', i, 'organizations', j], `unknown organization ${o}`); });
    for (const [assoc, keyName] of Object.entries(c.keyAssociations)) needKey(['clients', i, 'keyAssociations', assoc], keyName, ['ZPK']);
    if (c.cardNumberKey !== undefined) needKey(['clients', i, 'cardNumberKey'], c.cardNumberKey, ['ZEK']);
  });
}
