import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseBootstrap } from './bootstrap.ts';
import { ConfigError } from '../shared/errors.ts';

const valid = `organizations:
  - number: 100
    name: Bank
    logos:
      - number: 1
        bin: "411111"
        serviceCode: "201"
        pin: { method: PVV }
        keys: { cvk: k.cvk, pvk: k.pvk }
keys:
  - { name: k.cvk, type: CVK, components: ["0123456789ABCDEFFEDCBA9876543210"], kcv: "08D7B4" }
  - { name: k.pvk, type: PVK, generate: true }
  - { name: k.zpk, type: ZPK, generate: true }
clients:
  - clientId: c1
    apikey: apikey-0123456789abcdef
    secret: secret-0123456789abcdef
    organizations: [100]
    scopes: [cards]
    keyAssociations: { IYY: k.zpk }
`;

function refusal(text: string): string {
  try {
    parseBootstrap(text, 'boot.yaml');
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message;
  }
  assert.fail('expected a configuration error');
}

test('a valid file parses, with defaults filled in', () => {
  const { config } = parseBootstrap(valid, 'boot.yaml');
  const logo = config.organizations[0]!.logos[0]!;
  assert.equal(logo.panLength, 16);
  assert.equal(logo.expiryMonths, 36);
  assert.equal(logo.pin.length, 4);
  assert.equal(logo.pin.decimalizationTable, '0123456789012345');
  assert.equal(logo.pin.maxInvalidTries, 3);
  assert.equal(logo.dcvv2ValidityMinutes, 60);
  assert.equal(config.clients[0]!.tokenTtlSeconds, 900);
  assert.equal(config.organizations[0]!.panToken, true);
});

test('JSON is YAML too', () => {
  const { config } = parseBootstrap(JSON.stringify({ organizations: [{ number: 5, name: 'X' }] }), 'boot.json');
  assert.equal(config.organizations[0]!.number, 5);
});

test('errors name the file and line of the offending value', () => {
  assert.match(refusal(valid.replace('bin: "411111"', 'bin: "41"')), /^boot\.yaml:6: .*bin/);
  assert.match(refusal(valid.replace('number: 100', 'number: 1000')), /^boot\.yaml:2: /);
  assert.match(refusal(valid.replace('method: PVV', 'method: XYZ')), /^boot\.yaml:8: /);
  assert.match(refusal(valid.replace('scopes: [cards]', 'scopes: [root]')), /^boot\.yaml:19: .*scopes/);
  assert.match(refusal(valid + '    extra: 1\n'), /^boot\.yaml:\d+: .*extra|additional/i);
  assert.match(refusal('organizations: [\n  - bad'), /^boot\.yaml:\d+: /);
});

test('duplicate numbers and names are refused with their line', () => {
  const dupLogo = valid.replace('keys:\n  - { name: k.cvk', `      - number: 1
        bin: "422222"
        serviceCode: "201"
        pin: { method: PVV }
        keys: { cvk: k.cvk, pvk: k.pvk }
keys:
  - { name: k.cvk`);
  assert.match(refusal(dupLogo), /^boot\.yaml:10: duplicate logo number 1/);
  const dupOrg = valid.replace('keys:\n  - { name: k.cvk', '  - number: 100\n    name: Again\nkeys:\n  - { name: k.cvk');
  assert.match(refusal(dupOrg), /^boot\.yaml:10: duplicate organization number 100/);
  const dupKey = valid.replace('  - { name: k.zpk', '  - { name: k.pvk, type: PVK, generate: true }\n  - { name: k.zpk');
  assert.match(refusal(dupKey), /^boot\.yaml:13: duplicate key name k\.pvk/);
  const dupKeyYaml = valid.replace('    secret: secret', '    apikey: again-0123456789abcdef\n    secret: secret');
  assert.match(refusal(dupKeyYaml), /^boot\.yaml:\d+: /);
});

test('unknown or wrongly typed key references are refused', () => {
  assert.match(refusal(valid.replace('cvk: k.cvk,', 'cvk: k.missing,')), /^boot\.yaml:9: unknown key k\.missing/);
  assert.match(refusal(valid.replace('cvk: k.cvk,', 'cvk: k.pvk,')), /^boot\.yaml:9: key k\.pvk is a PVK key; expected CVK/);
  assert.match(refusal(valid.replace('{ IYY: k.zpk }', '{ IYY: k.cvk }')), /^boot\.yaml:20: key k\.cvk is a CVK key; expected ZPK/);
  assert.match(refusal(valid.replace('organizations: [100]', 'organizations: [300]')), /^boot\.yaml:18: unknown organization 300/);
});

test('a key needs components or generate, and a kcv only with components', () => {
  assert.match(refusal(valid.replace('{ name: k.pvk, type: PVK, generate: true }', '{ name: k.pvk, type: PVK }')), /^boot\.yaml:12: key k\.pvk needs either components or generate/);
  assert.match(refusal(valid.replace('{ name: k.pvk, type: PVK, generate: true }', '{ name: k.pvk, type: PVK, generate: true, kcv: "ABCDEF" }')), /^boot\.yaml:12: key k\.pvk: a kcv applies only/);
});

test('a client needs exactly one of secret or secretEnv', () => {
  assert.match(refusal(valid.replace('    secret: secret-0123456789abcdef\n', '')), /^boot\.yaml:15: client c1 needs exactly one of secret or secretEnv/);
});
