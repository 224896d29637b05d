import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import { Value } from '@sinclair/typebox/value';
import { BootstrapSchema, type BootstrapConfig, type ConfigPath, type ParsedBootstrap } from '../shared/bootstrap-document.ts';
import { ConfigError } from '../shared/errors.ts';

/**
 * The bootstrap file (YAML or JSON, `EMBOSS_CONFIG`): organizations, logos, keys and API clients,
 * applied idempotently at every start. See docs/configuration.md. Its shape: shared/bootstrap-document.ts.
 */
export type { BootstrapConfig, ConfigPath, ParsedBootstrap } from '../shared/bootstrap-document.ts';

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
