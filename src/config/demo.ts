import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ConfigError } from '../shared/errors.ts';
import type { ParsedBootstrap } from './bootstrap.ts';

/**
 * TEST-ONLY key components of the demo's sandbox keys, published here and in the demo
 * credentials file so that a new user can play the client side: build PIN blocks, decrypt
 * security values and card numbers. Anyone can read them, so they protect nothing: a process in
 * production mode (EMBOSS_ENV=production or NODE_ENV=production) refuses the demo set-up and any
 * bootstrap file whose keys combine to one of them.
 */
export const SANDBOX_ZPK_COMPONENTS = ['0123456789ABCDEFFEDCBA9876543210', '11111111111111112222222222222222'] as const;
/** TEST-ONLY: the sandbox AES zone PIN key (PIN block format 4, key association IY4). */
export const SANDBOX_ZPK_AES_COMPONENTS = ['00112233445566778899AABBCCDDEEFF', '0123456789ABCDEF0123456789ABCDEF'] as const;
/** TEST-ONLY: the sandbox card-number key (card-pan and the other PCI fields). */
export const SANDBOX_ZEK_COMPONENTS = ['FEDCBA98765432100123456789ABCDEF', '22222222222222221111111111111111'] as const;

/** A sandbox key as the credentials file gives it: its components, the key they combine to, its check value. */
export interface SandboxKey {
  name: string;
  type: 'ZPK' | 'ZEK';
  algorithm: '3DES' | 'AES';
  /** The key association that names it in PIN and security-value requests (ZPKs). */
  keyAssociation?: string;
  components: string[];
  key: string;
  kcv: string;
}

export interface SandboxKeys {
  warning: string;
  zpk: SandboxKey;
  zpkAes: SandboxKey;
  zek: SandboxKey;
}

const combine = (components: readonly string[]) =>
  components.map((c) => Buffer.from(c, 'hex')).reduce((a, b) => Buffer.from(a.map((x, i) => x ^ b[i]!))).toString('hex').toUpperCase();

/** The sandbox keys (check values as the security module computes them: 3DES over a zero block, AES by CMAC). */
export const SANDBOX_KEYS: SandboxKeys = {
  warning: 'TEST-ONLY sandbox keys, published in the emboss sources: never use them for real cards. A process with EMBOSS_ENV=production (or NODE_ENV=production) refuses them.',
  zpk: { name: 'sandbox.zpk', type: 'ZPK', algorithm: '3DES', keyAssociation: 'IYY', components: [...SANDBOX_ZPK_COMPONENTS], key: combine(SANDBOX_ZPK_COMPONENTS), kcv: '2284A8' },
  zpkAes: { name: 'sandbox.zpk.aes', type: 'ZPK', algorithm: 'AES', keyAssociation: 'IY4', components: [...SANDBOX_ZPK_AES_COMPONENTS], key: combine(SANDBOX_ZPK_AES_COMPONENTS), kcv: 'EA1A9D2E47' },
  zek: { name: 'sandbox.zek', type: 'ZEK', algorithm: '3DES', components: [...SANDBOX_ZEK_COMPONENTS], key: combine(SANDBOX_ZEK_COMPONENTS), kcv: 'FC022D' },
};

export interface DemoCredentials {
  clientId: string;
  apikey: string;
  secret: string;
  organizationNumber: number;
  logo: number;
  keyAssociation: string;
  baseUrl?: string;
  /** The client's zone PIN and card-number keys in clear: published test keys (see SANDBOX_KEYS). */
  sandboxKeys?: SandboxKeys;
}

/**
 * The demo set-up used when no EMBOSS_CONFIG is given: one organization, one logo, generated
 * card and PIN verification keys, the sandbox's published zone PIN and card-number keys, and one
 * API client whose credentials (with the sandbox keys) are written to
 * `<data dir>/demo-credentials.json` (readable by the owner only). Nothing secret is printed.
 * Refused in production mode: its keys are public.
 */
export function demoBootstrap(dataDir: string, options: { production?: boolean } = {}): { yaml: string; credentialsFile: string; credentials: DemoCredentials } {
  if (options.production) {
    throw new ConfigError('the demo set-up uses published test keys (SANDBOX_KEYS) and is refused in production mode (EMBOSS_ENV or NODE_ENV is production): set EMBOSS_CONFIG to your bootstrap file');
  }
  const credentialsFile = join(dataDir, 'demo-credentials.json');
  let credentials: DemoCredentials;
  if (existsSync(credentialsFile)) {
    credentials = JSON.parse(readFileSync(credentialsFile, 'utf8')) as DemoCredentials;
  } else {
    credentials = {
      clientId: 'demo',
      apikey: `demo-${randomBytes(12).toString('hex')}`,
      secret: randomBytes(24).toString('base64url'),
      organizationNumber: 100,
      logo: 1,
      keyAssociation: 'IYY',
    };
  }
  // Written on first run, and added to the file of a data folder made before the sandbox keys.
  if (JSON.stringify(credentials.sandboxKeys) !== JSON.stringify(SANDBOX_KEYS)) {
    credentials = { ...credentials, sandboxKeys: SANDBOX_KEYS };
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(credentialsFile, JSON.stringify(credentials, null, 2) + '\n', { mode: 0o600 });
  }
  const key = (k: SandboxKey) => `  - { name: ${k.name}, type: ${k.type}, algorithm: ${k.algorithm}, components: [${k.components.map((c) => `"${c}"`).join(', ')}], kcv: "${k.kcv}" }`;
  const { zpk, zpkAes, zek } = SANDBOX_KEYS;
  const yaml = `
organizations:
  - number: 100
    name: Demo Bank
    panToken: true
    personalization: { bureauKey: demo.bureau }
    logos:
      - number: 1
        description: Demo Classic Credit
        bin: "400000"
        panLength: 16
        expiryMonths: 48
        serviceCode: "201"
        cardType: credit
        currency: 840
        pin: { method: PVV, length: 4, pvki: 1, maxInvalidTries: 3, exceededAction: D }
        dcvv2ValidityMinutes: 60
        keys: { cvk: demo.cvk, pvk: demo.pvk }
keys:
  - { name: demo.cvk, type: CVK, generate: true }
  - { name: demo.pvk, type: PVK, generate: true }
  - { name: demo.bureau, type: BUR, generate: true }
${key(zpk)}
${key(zpkAes)}
${key(zek)}
clients:
  - clientId: ${credentials.clientId}
    apikey: ${credentials.apikey}
    secretEnv: EMBOSS_DEMO_SECRET
    organizations: [100]
    scopes: [cards, pci, dcvv2, pin-admin, admin]
    keyAssociations: { ${zpk.keyAssociation}: ${zpk.name}, ${zpkAes.keyAssociation}: ${zpkAes.name} }
    cardNumberKey: ${zek.name}
`;
  return { yaml, credentialsFile, credentials };
}

/** A DES key's bytes without their parity bits (a key with other parity bits is the same key). */
const withoutParity = (hex: string) => Buffer.from(Buffer.from(hex, 'hex').map((b) => b & 0xfe));

/**
 * In production mode, refuses a bootstrap whose keys include one of the published sandbox keys
 * (whatever its components: they are combined and compared), naming the line.
 */
export function refuseSandboxKeys(parsed: ParsedBootstrap, production: boolean): void {
  if (!production) return;
  const sandbox = [SANDBOX_KEYS.zpk, SANDBOX_KEYS.zpkAes, SANDBOX_KEYS.zek].map((k) => ({ k, bytes: k.algorithm === 'AES' ? Buffer.from(k.key, 'hex') : withoutParity(k.key) }));
  for (const [i, k] of parsed.config.keys.entries()) {
    if (!k.components || k.components.some((c) => c.length !== k.components![0]!.length)) continue;
    const key = combine(k.components);
    for (const s of sandbox) {
      const bytes = s.k.algorithm === 'AES' ? Buffer.from(key, 'hex') : withoutParity(key);
      if (bytes.equals(s.bytes)) {
        throw new ConfigError(`${parsed.where(['keys', i])}: key ${k.name} is the published sandbox key ${s.k.name} (test only), refused in production mode`);
      }
    }
  }
}
