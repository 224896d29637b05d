import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

export interface DemoCredentials {
  clientId: string;
  apikey: string;
  secret: string;
  organizationNumber: number;
  logo: number;
  keyAssociation: string;
  baseUrl?: string;
}

/**
 * The demo set-up used when no EMBOSS_CONFIG is given: one organization, one logo, generated
 * keys and one API client whose credentials are written once to `<data dir>/demo-credentials.json`
 * (readable by the owner only). Nothing secret is printed.
 */
export function demoBootstrap(dataDir: string): { yaml: string; credentialsFile: string; credentials: DemoCredentials } {
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
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(credentialsFile, JSON.stringify(credentials, null, 2) + '\n', { mode: 0o600 });
  }
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
  - { name: demo.zpk, type: ZPK, generate: true }
  - { name: demo.zek, type: ZEK, generate: true }
  - { name: demo.bureau, type: BUR, generate: true }
clients:
  - clientId: ${credentials.clientId}
    apikey: ${credentials.apikey}
    secretEnv: EMBOSS_DEMO_SECRET
    organizations: [100]
    scopes: [cards, pci, dcvv2, pin-admin, admin]
    keyAssociations: { ${credentials.keyAssociation}: demo.zpk }
    cardNumberKey: demo.zek
`;
  return { yaml, credentialsFile, credentials };
}
