/**
 * The contract suite: tests every SecurityModule implementation must pass (software, HSM adapters,
 * cloud payment-cryptography adapters). Not a test file of its own (the runner takes *.test.ts
 * only): register the suite from an implementation's test file:
 *
 *     securityModuleContract('software', async () => new SoftwareSecurityModule(randomBytes(32)));
 *
 * The tests use the interface only. The client side (a partner system holding a ZPK or ZEK) is
 * played with node:crypto directly (des-ede3-ecb, aes-*-ecb), so what is checked is the documented
 * wire encoding, not this code base's own helpers; the pure primitives of src/crypto serve only as
 * reference values (CVV, PVV, IBM 3624 offset, dCVV2), themselves tested against published vectors.
 *
 * Every value an operation returns and every error it raises is collected during the run; the last
 * tests check that all operations were exercised, that no result ever contained a clear key, and
 * that no error text contained a key, a card number, a PIN block or a token.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import {
  PERSONALIZATION_RECORD_FIELDS,
  SECURITY_MODULE_OPERATIONS,
  SecurityModuleError,
  type KeyBlock,
  type PinBlockFormat,
  type PinVerificationMethod,
  type ProtectedKey,
  type SecurityModule,
  type SecurityModuleErrorCode,
} from './port.ts';
import {
  computeCvv, computeCvv2, computeDcvv2, computeIcvv, computePvv, dcvv2Window, ibm3624Offset,
  ibm3624ValidationData, prepareCvk,
} from '../crypto/index.ts';
import { parseDiscretionaryData, parseTrack1, parseTrack2, parseTrack2Equivalent } from '../crypto/track-data.ts';

// --- the client side, with node:crypto only -----------------------------------------------------

function ecb(name: string, key: Buffer, data: Buffer, decrypt: boolean): Buffer {
  const c = decrypt ? createDecipheriv(name, key, null) : createCipheriv(name, key, null);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(data), c.final()]);
}

/** 3DES-ECB with a double (K1K2K1) or triple length key, as any 3DES tool does it. */
export function clientTdes(keyHex: string, data: Buffer, decrypt = false): Buffer {
  let key = Buffer.from(keyHex, 'hex');
  if (key.length === 16) key = Buffer.concat([key, key.subarray(0, 8)]);
  return ecb('des-ede3-ecb', key, data, decrypt);
}

export function clientAes(keyHex: string, data: Buffer, decrypt = false): Buffer {
  const key = Buffer.from(keyHex, 'hex');
  return ecb(`aes-${key.length * 8}-ecb`, key, data, decrypt);
}

function xorBuf(a: Buffer, b: Buffer): Buffer {
  return Buffer.from(a.map((x, i) => x ^ (b[i] as number)));
}

const panField03 = (pan: string) => Buffer.from('0000' + pan.slice(-13, -1), 'hex');
const panField4 = (pan: string) => Buffer.from((String(pan.length - 12) + pan).padEnd(32, '0'), 'hex');

function randomNibbles(count: number, alphabet: string): string {
  let s = '';
  for (const b of randomBytes(count)) s += alphabet[b % alphabet.length];
  return s;
}

/** An ISO 9564-1 PIN block as a client builds it (hex, uppercase). */
export function clientPinBlock(format: PinBlockFormat, pin: string, pan: string, keyHex: string): string {
  if (format === 4) {
    const pinField = Buffer.from(('4' + pin.length.toString(16) + pin).padEnd(16, 'A') + randomBytes(8).toString('hex'), 'hex');
    const a = xorBuf(clientAes(keyHex, pinField), panField4(pan));
    return clientAes(keyHex, a).toString('hex').toUpperCase();
  }
  const fill = format === 0 ? 'F'.repeat(14) : format === 1 ? randomNibbles(14, '0123456789ABCDEF') : randomNibbles(14, 'ABCDEF');
  let clear: Buffer = Buffer.from((String(format) + pin.length.toString(16) + pin + fill).slice(0, 16), 'hex');
  if (format !== 1) clear = xorBuf(clear, panField03(pan));
  return clientTdes(keyHex, clear).toString('hex').toUpperCase();
}

/** Reads a PIN block as a client does; throws when it is not a well-formed block. */
export function clientReadPinBlock(format: PinBlockFormat, blockHex: string, pan: string, keyHex: string): string {
  let nibbles: string;
  if (format === 4) {
    const b = xorBuf(clientAes(keyHex, Buffer.from(blockHex, 'hex'), true), panField4(pan));
    nibbles = clientAes(keyHex, b, true).toString('hex').toUpperCase().slice(0, 16);
  } else {
    let clear = clientTdes(keyHex, Buffer.from(blockHex, 'hex'), true);
    if (format !== 1) clear = xorBuf(clear, panField03(pan));
    nibbles = clear.toString('hex').toUpperCase();
  }
  assert.equal(nibbles[0], String(format), 'PIN block control nibble');
  const n = parseInt(nibbles[1] as string, 16);
  const pin = nibbles.slice(2, 2 + n);
  assert.match(pin, /^[0-9]{4,12}$/);
  const fill = nibbles.slice(2 + n);
  if (format === 0) assert.match(fill, /^F*$/);
  if (format === 3) assert.match(fill, /^[A-F]*$/);
  if (format === 4) assert.match(fill, /^A*$/);
  return pin;
}

/** Decrypts a card security value (digits right-padded with F, 3DES-ECB) as a client does. */
export function clientReadValue(encryptedHex: string, keyHex: string): string {
  assert.match(encryptedHex, /^[0-9A-F]{16}$/);
  const clear = clientTdes(keyHex, Buffer.from(encryptedHex, 'hex'), true).toString('hex').toUpperCase();
  const m = /^([0-9]{3,4})F+$/.exec(clear);
  assert.ok(m, 'value is digits followed by F padding');
  return m[1] as string;
}

/**
 * Decrypts a personalization record as the bureau does: base64(IV || CBC ciphertext), PKCS#7,
 * 3DES (K1K2K1 for a double-length key) or AES; returns the fields by name.
 */
export function clientReadPersonalizationRecord(encryptedRecord: string, keyHex: string, cipher: '3DES-CBC' | 'AES-CBC'): Record<(typeof PERSONALIZATION_RECORD_FIELDS)[number], string> {
  let key = Buffer.from(keyHex, 'hex');
  const raw = Buffer.from(encryptedRecord, 'base64');
  const ivLength = cipher === '3DES-CBC' ? 8 : 16;
  if (cipher === '3DES-CBC' && key.length === 16) key = Buffer.concat([key, key.subarray(0, 8)]);
  const d = createDecipheriv(cipher === '3DES-CBC' ? 'des-ede3-cbc' : `aes-${key.length * 8}-cbc`, key, raw.subarray(0, ivLength));
  const clearText = Buffer.concat([d.update(raw.subarray(ivLength)), d.final()]).toString('utf8');
  const parts = clearText.split('|');
  assert.equal(parts.length, PERSONALIZATION_RECORD_FIELDS.length, 'record has every field');
  return Object.fromEntries(PERSONALIZATION_RECORD_FIELDS.map((f, i) => [f, parts[i] as string])) as Record<(typeof PERSONALIZATION_RECORD_FIELDS)[number], string>;
}

function isWeak(pin: string): boolean {
  const steps = new Set<number>();
  for (let i = 1; i < pin.length; i++) steps.add((pin.charCodeAt(i) - pin.charCodeAt(i - 1) + 10) % 10);
  return steps.size === 1 && (steps.has(0) || steps.has(1) || steps.has(9));
}

// --- fixtures --------------------------------------------------------------------------------

const CVK_HEX = '0123456789ABCDEFFEDCBA9876543210';
const CVK_KCV = '08D7B4';
const PAN = '4123456789012345';
/** Another card whose number differs from PAN only in digits that overlay PIN-block fill. */
const OTHER_PAN = '4123456789019995';
const EXPIRY = '8701';
const SERVICE_CODE = '101';
const PVV_METHOD: PinVerificationMethod = { kind: 'PVV', pvki: '1' };
const IBM_METHOD: Extract<PinVerificationMethod, { kind: 'IBM3624' }> = { kind: 'IBM3624', decimalizationTable: '0123456789012345', pinLength: 6 };
const hex = (n: number) => randomBytes(n).toString('hex').toUpperCase();

async function refused(p: Promise<unknown>, code: SecurityModuleErrorCode): Promise<SecurityModuleError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof SecurityModuleError, `expected a SecurityModuleError, got ${String(e)}`);
    assert.equal(e.code, code, `expected ${code}, got ${e.code}: ${e.message}`);
    return e;
  }
  assert.fail(`expected the operation to be refused with ${code}`);
}

export function securityModuleContract(name: string, make: () => Promise<SecurityModule>): void {
  describe(`SecurityModule contract: ${name}`, () => {
    let sm: SecurityModule;
    const called = new Set<string>();
    const results: unknown[] = [];
    const errors: unknown[] = [];
    /** Clear key material (hex) that must never come out of the module. */
    const clearKeys: string[] = [];
    /** Values that must never appear in an error text. */
    const secretsForErrors: string[] = [PAN, OTHER_PAN];

    const k = {} as Record<'cvk' | 'pvk' | 'zpk' | 'zpkAes' | 'zek' | 'tok' | 'dek' | 'hmk' | 'api' | 'bur' | 'burAes', ProtectedKey>;
    const clear = {
      pvk: hex(16), zpk: hex(16), zpkAes: hex(16), zek: hex(16), hmk: hex(32), api: `api-secret-${hex(12)}`, bur: hex(16), burAes: hex(32),
    };

    before(async () => {
      const inner = await make();
      // Records every operation's name, result and error, through the interface only.
      sm = new Proxy(inner, {
        get(target, property) {
          const value: unknown = Reflect.get(target, property, target);
          if (typeof value !== 'function' || typeof property !== 'string') return value;
          return async (...args: unknown[]) => {
            called.add(property);
            try {
              const r = await Reflect.apply(value as (...a: unknown[]) => unknown, target, args);
              results.push(r);
              return r;
            } catch (e) {
              errors.push(e);
              throw e;
            }
          };
        },
      });
      clearKeys.push(CVK_HEX, ...Object.entries(clear).filter(([n]) => n !== 'api').map(([, v]) => v));
      secretsForErrors.push(...clearKeys, clear.api);
      k.cvk = await sm.importKey({ type: 'CVK', components: [CVK_HEX], kcv: CVK_KCV });
      k.pvk = await sm.importKey({ type: 'PVK', components: [clear.pvk] });
      k.zpk = await sm.importKey({ type: 'ZPK', components: [clear.zpk] });
      k.zpkAes = await sm.importKey({ type: 'ZPK', algorithm: 'AES', components: [clear.zpkAes] });
      k.zek = await sm.importKey({ type: 'ZEK', components: [clear.zek] });
      k.hmk = await sm.importKey({ type: 'HMK', components: [clear.hmk] });
      k.tok = await sm.generateKey({ type: 'TOK' });
      k.dek = await sm.generateKey({ type: 'DEK' });
      k.api = await sm.importSecret(clear.api);
      k.bur = await sm.importKey({ type: 'BUR', algorithm: '3DES', components: [clear.bur] });
      k.burAes = await sm.importKey({ type: 'BUR', algorithm: 'AES', components: [clear.burAes] });
    });

    describe('keys', () => {
      it('imports a key with its check value and reports the same check value later', async () => {
        assert.equal(k.cvk.kcv, CVK_KCV);
        assert.equal(k.cvk.type, 'CVK');
        assert.equal(k.cvk.algorithm, '3DES');
        assert.equal(await sm.keyCheckValue(k.cvk.keyBlock), CVK_KCV);
        assert.equal(k.zpkAes.algorithm, 'AES');
        assert.equal(await sm.keyCheckValue(k.zpkAes.keyBlock), k.zpkAes.kcv);
      });

      it('combines clear components by XOR (a key ceremony)', async () => {
        const c1 = hex(16);
        const c2 = xorBuf(Buffer.from(c1, 'hex'), Buffer.from(CVK_HEX, 'hex')).toString('hex').toUpperCase();
        clearKeys.push(c1, c2);
        secretsForErrors.push(c1, c2);
        const combined = await sm.importKey({ type: 'CVK', components: [c1, c2], kcv: CVK_KCV.slice(0, 4) });
        assert.equal(combined.kcv, CVK_KCV);
      });

      it('refuses a key whose check value does not match', async () => {
        const e = await refused(sm.importKey({ type: 'ZPK', components: [clear.zpk], kcv: k.zpk.kcv === 'FFFFFF' ? '000000' : 'FFFFFF' }), 'KCV_MISMATCH');
        assert.ok(!e.message.includes(clear.zpk));
      });

      it('refuses malformed components', async () => {
        await refused(sm.importKey({ type: 'ZPK', components: ['not hex at all'] }), 'BAD_INPUT');
        await refused(sm.importKey({ type: 'ZPK', components: [hex(16), hex(24)] }), 'BAD_INPUT');
      });

      it('refuses DES weak and semi-weak keys and TDES keys that are single DES (NIST SP 800-67 Rev. 2 §3.3.2), whatever the parity', async () => {
        const good = hex(8);
        const weak = ['0101010101010101', 'FEFEFEFEFEFEFEFE', 'E0E0E0E0F1F1F1F1', '1F1F1F1F0E0E0E0E', '011F011F010E010E', 'FE1FFE1FFE0EFE0E'];
        for (const w of [...weak, '0000000000000000', 'FFFFFFFFFFFFFFFF']) {
          for (const components of [[w + good], [good + w], [good + hex(8) + w]]) {
            const e = await refused(sm.importKey({ type: 'ZEK', components }), 'WEAK_KEY');
            assert.ok(!e.message.includes(w) && !e.message.includes(good), 'the message never carries the key');
          }
        }
        // Components that combine to all F (a double-length key of two equal weak halves).
        await refused(sm.importKey({ type: 'ZEK', components: ['89ABCDEF0123456789ABCDEF01234567', '76543210FEDCBA9876543210FEDCBA98'] }), 'WEAK_KEY');
        await refused(sm.importKey({ type: 'CVK', components: [good + good] }), 'WEAK_KEY');
        const other = hex(8);
        await refused(sm.importKey({ type: 'BUR', algorithm: '3DES', components: [other + good + good] }), 'WEAK_KEY');
        await refused(sm.importKey({ type: 'BUR', algorithm: '3DES', components: [good + good + other] }), 'WEAK_KEY');
        // K1 = K3 is two-key TDES, which is allowed; AES and HMAC keys have no DES weak keys.
        await sm.importKey({ type: 'BUR', algorithm: '3DES', components: [good + other + good] });
        await sm.importKey({ type: 'ZPK', algorithm: 'AES', components: ['FE'.repeat(16)] });
      });

      it('generates keys of every type', async () => {
        for (const type of ['CVK', 'PVK', 'ZPK', 'ZEK', 'DEK', 'HMK', 'TOK', 'API', 'BUR'] as const) {
          const g = await sm.generateKey({ type });
          assert.equal(g.type, type);
          assert.equal(typeof g.keyBlock, 'string');
          assert.match(g.kcv, /^[0-9A-F]{4,}$/);
          assert.equal(await sm.keyCheckValue(g.keyBlock), g.kcv);
        }
        await refused(sm.generateKey({ type: 'ZPK', length: 7 }), 'BAD_KEY');
      });

      it('refuses a tampered key block and something that is no key block', async () => {
        const block = k.zpk.keyBlock;
        const i = block.length - 10;
        const tampered = block.slice(0, i) + (block[i] === 'A' ? 'B' : 'A') + block.slice(i + 1);
        await refused(sm.keyCheckValue(tampered), 'BAD_KEY_BLOCK');
        await refused(sm.cardSecurityValues({ cvk: k.cvk.keyBlock, pan: PAN, expiryYYMM: EXPIRY, serviceCode: SERVICE_CODE, zpk: tampered, which: ['CVV'] }), 'BAD_KEY_BLOCK');
        await refused(sm.keyCheckValue('hello'), 'BAD_KEY_BLOCK');
        await refused(sm.keyCheckValue(clear.zpk), 'BAD_KEY_BLOCK');
      });

      it('refuses a key of the wrong type for every kind of operation', async () => {
        const cv = (cvk: KeyBlock, zpk: KeyBlock) => sm.cardSecurityValues({ cvk, pan: PAN, expiryYYMM: EXPIRY, serviceCode: SERVICE_CODE, zpk, which: ['CVV2'] });
        await refused(cv(k.pvk.keyBlock, k.zpk.keyBlock), 'WRONG_KEY_TYPE');
        await refused(cv(k.cvk.keyBlock, k.zek.keyBlock), 'WRONG_KEY_TYPE');
        await refused(cv(k.cvk.keyBlock, k.zpkAes.keyBlock), 'WRONG_KEY_TYPE');
        await refused(sm.generatePin({ pvk: k.cvk.keyBlock, pan: PAN, method: PVV_METHOD }), 'WRONG_KEY_TYPE');
        await refused(sm.tokenizePan({ tok: k.dek.keyBlock, pan: PAN }), 'WRONG_KEY_TYPE');
        await refused(sm.encryptPanForClient({ zek: k.zpk.keyBlock, pan: PAN }), 'WRONG_KEY_TYPE');
        await refused(sm.encryptData(k.hmk.keyBlock, PAN), 'WRONG_KEY_TYPE');
        await refused(sm.panLookupHash(k.dek.keyBlock, PAN), 'WRONG_KEY_TYPE');
        await refused(sm.verifySecret(k.hmk.keyBlock, clear.api), 'WRONG_KEY_TYPE');
        await refused(sm.verifyCvv2({ cvk: k.zpk.keyBlock, pan: PAN, expiryYYMM: EXPIRY, cvv2: '123' }), 'WRONG_KEY_TYPE');
        // PIN block format and ZPK algorithm must agree.
        await refused(sm.verifyPin({
          zpk: k.zpk.keyBlock, pinBlock: hex(16), format: 4, pan: PAN, pvk: k.pvk.keyBlock, method: PVV_METHOD, pvv: '1234',
        }), 'WRONG_KEY_TYPE');
        await refused(sm.verifyPin({
          zpk: k.zpkAes.keyBlock, pinBlock: hex(8), format: 0, pan: PAN, pvk: k.pvk.keyBlock, method: PVV_METHOD, pvv: '1234',
        }), 'WRONG_KEY_TYPE');
      });
    });

    describe('API secrets, data at rest, look-up hashes', () => {
      it('verifies a client secret and HMAC signatures in constant time', async () => {
        assert.equal(await sm.verifySecret(k.api.keyBlock, clear.api), true);
        assert.equal(await sm.verifySecret(k.api.keyBlock, clear.api + 'x'), false);
        assert.equal(await sm.verifySecret(k.api.keyBlock, ''), false);
        const message = 'apikey1700000000{"a":1}/path';
        const good = createHmac('sha256', clear.api).update(message).digest('base64');
        assert.equal(await sm.verifyHmac(k.api.keyBlock, message, good), true);
        assert.equal(await sm.verifyHmac(k.api.keyBlock, message + ' ', good), false);
        assert.equal(await sm.verifyHmac(k.api.keyBlock, message, 'AAAA'), false);
        await refused(sm.importSecret('short'), 'BAD_INPUT');
      });

      it('encrypts data at rest, randomised, and refuses altered data', async () => {
        const a = await sm.encryptData(k.dek.keyBlock, PAN);
        const b = await sm.encryptData(k.dek.keyBlock, PAN);
        assert.notEqual(a, b);
        assert.ok(!a.includes(PAN));
        assert.equal(await sm.decryptData(k.dek.keyBlock, a), PAN);
        const raw = Buffer.from(a, 'base64');
        raw[raw.length - 20] = (raw[raw.length - 20] as number) ^ 1;
        await refused(sm.decryptData(k.dek.keyBlock, raw.toString('base64')), 'BAD_INPUT');
        await refused(sm.decryptData(k.dek.keyBlock, 'AAAA'), 'BAD_INPUT');
        const otherDek = await sm.generateKey({ type: 'DEK' });
        await refused(sm.decryptData(otherDek.keyBlock, a), 'BAD_INPUT');
      });

      it('gives the HMAC-SHA-256 look-up hash of a card number', async () => {
        const h = await sm.panLookupHash(k.hmk.keyBlock, PAN);
        assert.equal(h, createHmac('sha256', Buffer.from(clear.hmk, 'hex')).update(PAN).digest('hex'));
        assert.equal(await sm.panLookupHash(k.hmk.keyBlock, PAN), h);
        assert.notEqual(await sm.panLookupHash(k.hmk.keyBlock, OTHER_PAN), h);
      });
    });

    describe('PINs', () => {
      it('generatePin (PVV) → translatePin: the client decrypts the PIN and it verifies in every format', async () => {
        const issued = await sm.generatePin({ pvk: k.pvk.keyBlock, pan: PAN, method: PVV_METHOD });
        assert.equal(typeof issued.storedPinBlock, 'string');
        assert.equal(issued.offset, undefined);
        assert.match(issued.pvv ?? '', /^[0-9]{4}$/);
        const mailer = await sm.translatePin({ storedPinBlock: issued.storedPinBlock, pan: PAN, zpk: k.zpk.keyBlock });
        assert.match(mailer, /^[0-9A-F]{16}$/);
        secretsForErrors.push(mailer, issued.storedPinBlock);
        const pin = clientReadPinBlock(0, mailer, PAN, clear.zpk);
        assert.equal(pin.length, 4);
        assert.equal(issued.pvv, computePvv(Buffer.from(clear.pvk, 'hex'), PAN, '1', pin));

        for (const format of [0, 1, 3, 4] as const) {
          const zpk = format === 4 ? k.zpkAes.keyBlock : k.zpk.keyBlock;
          const keyHex = format === 4 ? clear.zpkAes : clear.zpk;
          const ok = await sm.verifyPin({
            zpk, pinBlock: clientPinBlock(format, pin, PAN, keyHex), format, pan: PAN, pvk: k.pvk.keyBlock, method: PVV_METHOD, pvv: issued.pvv,
          });
          assert.equal(ok, true, `format ${format} accepts the right PIN`);
          // A wrong PIN whose PVV differs (a different PIN can share a PVV: 1 in 10 000).
          let wrong = pin;
          do wrong = String((Number(wrong) + 1) % 10000).padStart(4, '0');
          while (computePvv(Buffer.from(clear.pvk, 'hex'), PAN, '1', wrong) === issued.pvv);
          const bad = await sm.verifyPin({
            zpk, pinBlock: clientPinBlock(format, wrong, PAN, keyHex), format, pan: PAN, pvk: k.pvk.keyBlock, method: PVV_METHOD, pvv: issued.pvv,
          });
          assert.equal(bad, false, `format ${format} rejects a wrong PIN`);
        }

        // The stored PIN can be sent in any format, each readable by the client.
        for (const format of [0, 1, 3, 4] as const) {
          const zpk = format === 4 ? k.zpkAes : k.zpk;
          const block = await sm.translatePin({ storedPinBlock: issued.storedPinBlock, pan: PAN, zpk: zpk.keyBlock, format });
          assert.equal(clientReadPinBlock(format, block, PAN, format === 4 ? clear.zpkAes : clear.zpk), pin);
        }
      });

      it('generatePin (IBM 3624) gives a PIN of the asked length and its offset', async () => {
        const issued = await sm.generatePin({ pvk: k.pvk.keyBlock, pan: PAN, method: IBM_METHOD });
        assert.equal(issued.pvv, undefined);
        assert.match(issued.offset ?? '', /^[0-9]{6}$/);
        const pin = clientReadPinBlock(0, await sm.translatePin({ storedPinBlock: issued.storedPinBlock, pan: PAN, zpk: k.zpk.keyBlock }), PAN, clear.zpk);
        assert.equal(pin.length, 6);
        assert.equal(issued.offset, ibm3624Offset(Buffer.from(clear.pvk, 'hex'), ibm3624ValidationData(PAN), IBM_METHOD.decimalizationTable, pin));
        const verify = (p: string, format: PinBlockFormat) => sm.verifyPin({
          zpk: format === 4 ? k.zpkAes.keyBlock : k.zpk.keyBlock,
          pinBlock: clientPinBlock(format, p, PAN, format === 4 ? clear.zpkAes : clear.zpk),
          format, pan: PAN, pvk: k.pvk.keyBlock, method: IBM_METHOD, offset: issued.offset,
        });
        for (const format of [0, 1, 3, 4] as const) {
          assert.equal(await verify(pin, format), true);
          assert.equal(await verify(pin.slice(0, 5) + String((Number(pin[5]) + 1) % 10), format), false);
        }
        assert.equal(await verify(pin.slice(0, 4), 0), false, 'a shorter PIN does not verify');
        // Explicit validation data.
        const withData: PinVerificationMethod = { ...IBM_METHOD, pinLength: 4, validationData: '1234567890ABCDEF' };
        const again = await sm.generatePin({ pvk: k.pvk.keyBlock, pan: PAN, method: withData });
        const pin2 = clientReadPinBlock(0, await sm.translatePin({ storedPinBlock: again.storedPinBlock, pan: PAN, zpk: k.zpk.keyBlock }), PAN, clear.zpk);
        assert.equal(again.offset, ibm3624Offset(Buffer.from(clear.pvk, 'hex'), '1234567890ABCDEF', IBM_METHOD.decimalizationTable, pin2));
      });

      it('never generates repeated or sequential PINs', async () => {
        for (let i = 0; i < 150; i++) {
          const issued = await sm.generatePin({ pvk: k.pvk.keyBlock, pan: PAN, method: PVV_METHOD });
          const pin = clientReadPinBlock(0, await sm.translatePin({ storedPinBlock: issued.storedPinBlock, pan: PAN, zpk: k.zpk.keyBlock }), PAN, clear.zpk);
          assert.ok(!isWeak(pin), 'generated PIN is not weak');
        }
      });

      it('importPin takes a new PIN from a client PIN block and re-derives PVV / offset', async () => {
        for (const format of [0, 1, 3, 4] as const) {
          const zpk = format === 4 ? k.zpkAes : k.zpk;
          const keyHex = format === 4 ? clear.zpkAes : clear.zpk;
          const newPin = '4827';
          const issued = await sm.importPin({
            zpk: zpk.keyBlock, pinBlock: clientPinBlock(format, newPin, PAN, keyHex), format, pan: PAN, pvk: k.pvk.keyBlock, method: PVV_METHOD,
          });
          assert.equal(issued.pvv, computePvv(Buffer.from(clear.pvk, 'hex'), PAN, '1', newPin));
          const back = await sm.translatePin({ storedPinBlock: issued.storedPinBlock, pan: PAN, zpk: k.zpk.keyBlock });
          assert.equal(clientReadPinBlock(0, back, PAN, clear.zpk), newPin);
          assert.equal(await sm.verifyPin({
            zpk: k.zpk.keyBlock, pinBlock: clientPinBlock(0, newPin, PAN, clear.zpk), format: 0, pan: PAN, pvk: k.pvk.keyBlock, method: PVV_METHOD, pvv: issued.pvv,
          }), true);
        }
        const ibm = await sm.importPin({
          zpk: k.zpk.keyBlock, pinBlock: clientPinBlock(0, '48271', PAN, clear.zpk), format: 0, pan: PAN, pvk: k.pvk.keyBlock, method: IBM_METHOD,
        });
        assert.equal(ibm.offset, ibm3624Offset(Buffer.from(clear.pvk, 'hex'), ibm3624ValidationData(PAN), IBM_METHOD.decimalizationTable, '48271'));
      });

      it('importPin refuses weak PINs unless allowed, and non-4-digit PINs under PVV', async () => {
        const block = (pin: string) => clientPinBlock(0, pin, PAN, clear.zpk);
        const base = { zpk: k.zpk.keyBlock, format: 0 as const, pan: PAN, pvk: k.pvk.keyBlock, method: PVV_METHOD };
        for (const weak of ['1111', '1234', '7890', '4321']) {
          await refused(sm.importPin({ ...base, pinBlock: block(weak) }), 'WEAK_PIN');
        }
        const allowed = await sm.importPin({ ...base, pinBlock: block('1111'), allowWeak: true });
        assert.match(allowed.pvv ?? '', /^[0-9]{4}$/);
        await refused(sm.importPin({ ...base, pinBlock: block('482719') }), 'BAD_INPUT');
      });

      it('refuses malformed PIN blocks with BAD_PIN_BLOCK', async () => {
        const base = { zpk: k.zpk.keyBlock, format: 0 as const, pan: PAN, pvk: k.pvk.keyBlock, method: PVV_METHOD, pvv: '1234' };
        await refused(sm.verifyPin({ ...base, pinBlock: 'XYZ' }), 'BAD_PIN_BLOCK');
        await refused(sm.verifyPin({ ...base, pinBlock: hex(9) }), 'BAD_PIN_BLOCK');
        await refused(sm.verifyPin({ ...base, format: 4, zpk: k.zpkAes.keyBlock, pinBlock: hex(8) }), 'BAD_PIN_BLOCK');
        // Made under another key, or for another card.
        const otherZpk = hex(16);
        secretsForErrors.push(otherZpk);
        await refused(sm.verifyPin({ ...base, pinBlock: clientPinBlock(0, '4827', PAN, otherZpk) }), 'BAD_PIN_BLOCK');
        await refused(sm.verifyPin({ ...base, pinBlock: clientPinBlock(0, '4827', OTHER_PAN, clear.zpk) }), 'BAD_PIN_BLOCK');
        await refused(sm.importPin({ ...base, pinBlock: 'XYZ' }), 'BAD_PIN_BLOCK');
        // A PIN block that does not hold a PIN: wrong control nibble.
        const notPin = clientTdes(clear.zpk, xorBuf(Buffer.from('5412345FFFFFFFFF', 'hex'), panField03(PAN))).toString('hex');
        await refused(sm.verifyPin({ ...base, pinBlock: notPin }), 'BAD_PIN_BLOCK');
        await refused(sm.verifyPin({ ...base, pvv: undefined, pinBlock: clientPinBlock(0, '4827', PAN, clear.zpk) }), 'BAD_INPUT');
      });

      it('a stored PIN block works only with its own card number and refuses tampering', async () => {
        const issued = await sm.generatePin({ pvk: k.pvk.keyBlock, pan: PAN, method: PVV_METHOD });
        await refused(sm.translatePin({ storedPinBlock: issued.storedPinBlock, pan: OTHER_PAN, zpk: k.zpk.keyBlock }), 'BAD_PIN_BLOCK');
        const s = issued.storedPinBlock;
        const i = s.length - 3;
        const tampered = s.slice(0, i) + (s[i] === '0' ? '1' : '0') + s.slice(i + 1);
        await refused(sm.translatePin({ storedPinBlock: tampered, pan: PAN, zpk: k.zpk.keyBlock }), 'BAD_PIN_BLOCK');
        await refused(sm.translatePin({ storedPinBlock: 'garbage', pan: PAN, zpk: k.zpk.keyBlock }), 'BAD_PIN_BLOCK');
        await refused(sm.translatePin({ storedPinBlock: s, pan: PAN, zpk: k.zpk.keyBlock, format: 4 }), 'WRONG_KEY_TYPE');
      });
    });

    describe('card security values', () => {
      it('CVV, CVV2 and iCVV decrypt under the ZPK to the Visa CVV method values (vector: CVV 561)', async () => {
        const values = await sm.cardSecurityValues({
          cvk: k.cvk.keyBlock, pan: PAN, expiryYYMM: EXPIRY, serviceCode: SERVICE_CODE, zpk: k.zpk.keyBlock, which: ['CVV', 'CVV2', 'ICVV'],
        });
        const cvk = prepareCvk(Buffer.from(CVK_HEX, 'hex'));
        assert.equal(clientReadValue(values.CVV ?? '', clear.zpk), '561');
        assert.equal(computeCvv(cvk, PAN, EXPIRY, SERVICE_CODE), '561');
        assert.equal(clientReadValue(values.CVV2 ?? '', clear.zpk), computeCvv2(cvk, PAN, EXPIRY));
        assert.equal(clientReadValue(values.ICVV ?? '', clear.zpk), computeIcvv(cvk, PAN, EXPIRY));
        // Exactly the documented encoding: 561FFFFFFFFFFFFF under 3DES-ECB.
        assert.equal(values.CVV, clientTdes(clear.zpk, Buffer.from('561FFFFFFFFFFFFF', 'hex')).toString('hex').toUpperCase());
        const only = await sm.cardSecurityValues({ cvk: k.cvk.keyBlock, pan: PAN, expiryYYMM: EXPIRY, zpk: k.zpk.keyBlock, which: ['CVV2'] });
        assert.deepEqual(Object.keys(only), ['CVV2']);
        await refused(sm.cardSecurityValues({ cvk: k.cvk.keyBlock, pan: PAN, expiryYYMM: EXPIRY, zpk: k.zpk.keyBlock, which: ['CVV'] }), 'BAD_INPUT');
        await refused(sm.cardSecurityValues({ cvk: k.cvk.keyBlock, pan: PAN, expiryYYMM: '871', serviceCode: SERVICE_CODE, zpk: k.zpk.keyBlock, which: ['CVV'] }), 'BAD_INPUT');
        await refused(sm.cardSecurityValues({ cvk: k.cvk.keyBlock, pan: '4123', expiryYYMM: EXPIRY, zpk: k.zpk.keyBlock, which: ['CVV2'] }), 'BAD_INPUT');
      });

      it('verifies a CVV2', async () => {
        const cvv2 = computeCvv2(prepareCvk(Buffer.from(CVK_HEX, 'hex')), PAN, EXPIRY);
        const wrong = String((Number(cvv2) + 1) % 1000).padStart(3, '0');
        assert.equal(await sm.verifyCvv2({ cvk: k.cvk.keyBlock, pan: PAN, expiryYYMM: EXPIRY, cvv2 }), true);
        assert.equal(await sm.verifyCvv2({ cvk: k.cvk.keyBlock, pan: PAN, expiryYYMM: EXPIRY, cvv2: wrong }), false);
        assert.equal(await sm.verifyCvv2({ cvk: k.cvk.keyBlock, pan: PAN, expiryYYMM: '8702', cvv2 }), computeCvv2(prepareCvk(Buffer.from(CVK_HEX, 'hex')), PAN, '8702') === cvv2);
      });

      it('dynamic CVV2: encrypted under the ZPK, valid in its window only', async () => {
        const nowMs = Date.UTC(2030, 0, 1, 12, 3, 0);
        const d = await sm.generateDcvv2({ cvk: k.cvk.keyBlock, pan: PAN, nowMs, validityMinutes: 10, zpk: k.zpk.keyBlock });
        assert.equal(d.windowIndex, dcvv2Window(nowMs, 10));
        assert.equal(d.validFromMs, Date.UTC(2030, 0, 1, 12, 0, 0));
        assert.equal(d.expiresAtMs, Date.UTC(2030, 0, 1, 12, 10, 0));
        const cvk = prepareCvk(Buffer.from(CVK_HEX, 'hex'));
        const value = clientReadValue(d.encryptedValue, clear.zpk);
        assert.equal(value, computeDcvv2(cvk, PAN, d.windowIndex));
        const verify = (at: number, v = value, acceptPreviousWindow = false) =>
          sm.verifyDcvv2({ cvk: k.cvk.keyBlock, pan: PAN, dcvv2: v, nowMs: at, validityMinutes: 10, acceptPreviousWindow });
        assert.equal(await verify(nowMs), true);
        assert.equal(await verify(d.expiresAtMs - 1), true);
        const next = computeDcvv2(cvk, PAN, d.windowIndex + 1);
        assert.equal(await verify(d.expiresAtMs), next === value);
        assert.equal(await verify(d.expiresAtMs, value, true), true);
        assert.equal(await verify(nowMs, String((Number(value) + 1) % 1000).padStart(3, '0')), false);
        await refused(sm.generateDcvv2({ cvk: k.cvk.keyBlock, pan: PAN, nowMs, validityMinutes: 0, zpk: k.zpk.keyBlock }), 'BAD_INPUT');
      });
    });

    describe('card numbers', () => {
      it('tokenizes and detokenizes a card number', async () => {
        const token = await sm.tokenizePan({ tok: k.tok.keyBlock, pan: PAN, binLength: 6 });
        secretsForErrors.push(token);
        assert.equal(token.length, 19);
        assert.match(token, /[A-Z]/);
        assert.equal(token.slice(0, 6), PAN.slice(0, 6));
        assert.equal(token.slice(-4), PAN.slice(-4));
        assert.equal(await sm.tokenizePan({ tok: k.tok.keyBlock, pan: PAN }), token, 'deterministic, BIN length 6 by default');
        assert.equal(await sm.detokenizePan({ tok: k.tok.keyBlock, token }), PAN);
        const t8 = await sm.tokenizePan({ tok: k.tok.keyBlock, pan: '4123456789012345678', binLength: 8 });
        assert.equal(await sm.detokenizePan({ tok: k.tok.keyBlock, token: t8, binLength: 8 }), '4123456789012345678');
        await refused(sm.detokenizePan({ tok: k.tok.keyBlock, token: PAN }), 'BAD_INPUT');
        const otherTok = await sm.generateKey({ type: 'TOK' });
        const other = await sm.detokenizePan({ tok: otherTok.keyBlock, token }).catch((e: unknown) => e);
        assert.ok(other instanceof SecurityModuleError ? other.code === 'BAD_INPUT' : other !== PAN, 'another key does not give the card number back');
      });

      it('encrypts a card number for a client and decrypts one from it', async () => {
        const enc = await sm.encryptPanForClient({ zek: k.zek.keyBlock, pan: PAN });
        assert.match(enc, /^[0-9A-F]{32}$/);
        assert.equal(clientTdes(clear.zek, Buffer.from(enc, 'hex'), true).toString('hex').toUpperCase(), PAN + 'FFFFFFFFFFFFFFFF');
        const fromClient = clientTdes(clear.zek, Buffer.from(OTHER_PAN + 'FFFFFFFFFFFFFFFF', 'hex')).toString('hex');
        assert.equal(await sm.decryptPanFromClient({ zek: k.zek.keyBlock, encrypted: fromClient }), OTHER_PAN);
        await refused(sm.decryptPanFromClient({ zek: k.zek.keyBlock, encrypted: 'zz' }), 'BAD_INPUT');
        await refused(sm.decryptPanFromClient({ zek: k.zek.keyBlock, encrypted: hex(16) }), 'BAD_INPUT');
        const badPad = clientTdes(clear.zek, Buffer.from(PAN + '0000000000000000', 'hex')).toString('hex');
        await refused(sm.decryptPanFromClient({ zek: k.zek.keyBlock, encrypted: badPad }), 'BAD_INPUT');
      });
    });

    describe('personalization', () => {
      const cvkRef = () => prepareCvk(Buffer.from(CVK_HEX, 'hex'));
      const pvkBytes = () => Buffer.from(clear.pvk, 'hex');

      it('builds a record the bureau decrypts (3DES and AES): tracks, CVV, PVV, iCVV, CVV2, PIN mailer', async () => {
        for (const [bur, keyHex, format] of [[k.bur, clear.bur, 0], [k.burAes, clear.burAes, 4]] as const) {
          const issued = await sm.generatePin({ pvk: k.pvk.keyBlock, pan: PAN, method: PVV_METHOD });
          const r = await sm.personalizationRecord({
            bur: bur.keyBlock, cvk: k.cvk.keyBlock, reference: 'card-0001', pan: PAN, expiryYYMM: EXPIRY, serviceCode: SERVICE_CODE,
            cardholder: { surname: 'Lovelace', givenNames: 'Ada' }, embossLine2: 'Analytical Engines Ltd',
            pvk: k.pvk.keyBlock, pin: { method: PVV_METHOD, storedPinBlock: issued.storedPinBlock, pvv: issued.pvv as string },
          });
          assert.equal(r.reference, 'card-0001');
          assert.equal(r.cipher, format === 0 ? '3DES-CBC' : 'AES-CBC');
          assert.equal(r.bureauKcv, bur.kcv);
          assert.ok(!r.encryptedRecord.includes(PAN));
          const f = clientReadPersonalizationRecord(r.encryptedRecord, keyHex, r.cipher);
          assert.equal(f.version, 'EMBR1');
          assert.equal(f.reference, 'card-0001');
          assert.equal(f.pan, PAN);
          assert.equal(f.embossedPan, '4123 4567 8901 2345');
          assert.equal(f.embossLine1, 'ADA LOVELACE');
          assert.equal(f.embossLine2, 'ANALYTICAL ENGINES LTD');
          assert.equal(f.embossedExpiry, '01/87');
          assert.equal(f.expiryYYMM, EXPIRY);
          assert.equal(f.serviceCode, SERVICE_CODE);
          const t1 = parseTrack1(f.track1);
          const t2 = parseTrack2(f.track2);
          assert.ok(f.track1.startsWith('%B') && f.track1.endsWith('?'), 'track 1 with sentinels, no LRC');
          assert.ok(f.track2.startsWith(';') && f.track2.endsWith('?'), 'track 2 with sentinels, no LRC');
          assert.equal(t1.name, 'LOVELACE/ADA');
          for (const t of [t1, t2]) {
            assert.equal(t.pan, PAN);
            assert.equal(t.expiryYYMM, EXPIRY);
            assert.equal(t.serviceCode, SERVICE_CODE);
          }
          assert.equal(t1.discretionary, t2.discretionary);
          assert.equal(f.track2.length, 39, '37 characters between the sentinels');
          const dd = parseDiscretionaryData(t2.discretionary, { kind: 'PVV' });
          assert.equal(dd.cvv, '561', 'the stripe CVV is the Visa CVV method value (vector)');
          assert.equal(dd.pvki, '1');
          assert.equal(dd.pvv, issued.pvv);
          const chip = parseTrack2Equivalent(f.chipTrack2);
          assert.equal(chip.pan, PAN);
          assert.equal(parseDiscretionaryData(chip.discretionary, { kind: 'PVV' }).cvv, computeIcvv(cvkRef(), PAN, EXPIRY));
          assert.equal(f.cvv2, computeCvv2(cvkRef(), PAN, EXPIRY));
          assert.equal(f.pinBlockFormat, String(format));
          const pin = clientReadPinBlock(format, f.pinBlock, PAN, keyHex);
          assert.equal(computePvv(pvkBytes(), PAN, '1', pin), issued.pvv);
          secretsForErrors.push(f.pinBlock, issued.storedPinBlock);
        }
      });

      it('IBM 3624 offset on the stripe; no PIN gives 00000 and no mailer; records are randomised', async () => {
        const issued = await sm.generatePin({ pvk: k.pvk.keyBlock, pan: PAN, method: IBM_METHOD });
        const base = {
          bur: k.burAes.keyBlock, cvk: k.cvk.keyBlock, reference: 'TOK4123AB12CD34E2345', pan: PAN, expiryYYMM: EXPIRY, serviceCode: '201',
          cardholder: { surname: 'Hopper', givenNames: 'Grace Brewster Murray' },
        };
        const r = await sm.personalizationRecord({ ...base, pvk: k.pvk.keyBlock, pin: { method: IBM_METHOD, storedPinBlock: issued.storedPinBlock, offset: issued.offset as string, mailer: false } });
        const f = clientReadPersonalizationRecord(r.encryptedRecord, clear.burAes, r.cipher);
        const dd = parseDiscretionaryData(parseTrack2(f.track2).discretionary, { kind: 'IBM3624', offsetLength: 6 });
        assert.equal(dd.offset, issued.offset);
        assert.equal(dd.cvv, computeCvv(cvkRef(), PAN, EXPIRY, '201'));
        assert.equal(f.pinBlock, '');
        assert.equal(f.pinBlockFormat, '');
        assert.equal(parseTrack1(f.track1).name, 'HOPPER/GRACE BREWSTER MURR');
        const none = await sm.personalizationRecord(base);
        const g = clientReadPersonalizationRecord(none.encryptedRecord, clear.burAes, none.cipher);
        assert.ok(parseTrack2(g.track2).discretionary.startsWith('00000'));
        assert.equal(g.pinBlock, '');
        const again = await sm.personalizationRecord(base);
        assert.notEqual(again.encryptedRecord, none.encryptedRecord, 'a fresh IV each time');
      });

      it('refuses a wrong key type, a PVV that does not match the stored PIN, a card number as reference', async () => {
        const issued = await sm.generatePin({ pvk: k.pvk.keyBlock, pan: PAN, method: PVV_METHOD });
        const wrongPvv = String((Number(issued.pvv) + 1) % 10000).padStart(4, '0');
        const base = {
          bur: k.bur.keyBlock, cvk: k.cvk.keyBlock, reference: 'card-2', pan: PAN, expiryYYMM: EXPIRY, serviceCode: SERVICE_CODE,
          cardholder: { surname: 'Lovelace', givenNames: 'Ada' },
        };
        await refused(sm.personalizationRecord({ ...base, bur: k.zpk.keyBlock }), 'WRONG_KEY_TYPE');
        await refused(sm.personalizationRecord({ ...base, cvk: k.pvk.keyBlock }), 'WRONG_KEY_TYPE');
        await refused(sm.personalizationRecord({
          ...base, pvk: k.pvk.keyBlock, pin: { method: PVV_METHOD, storedPinBlock: issued.storedPinBlock, pvv: wrongPvv },
        }), 'BAD_PIN_BLOCK');
        await refused(sm.personalizationRecord({
          ...base, pan: OTHER_PAN, pvk: k.pvk.keyBlock, pin: { method: PVV_METHOD, storedPinBlock: issued.storedPinBlock, pvv: issued.pvv as string },
        }), 'BAD_PIN_BLOCK');
        await refused(sm.personalizationRecord({ ...base, reference: PAN }), 'BAD_INPUT');
        await refused(sm.personalizationRecord({ ...base, reference: 'a|b' }), 'BAD_INPUT');
        await refused(sm.personalizationRecord({ ...base, expiryYYMM: '871' }), 'BAD_INPUT');
        await refused(sm.personalizationRecord({ ...base, serviceCode: '1' }), 'BAD_INPUT');
        await refused(sm.personalizationRecord({ ...base, pan: '4123' }), 'BAD_INPUT');
        await refused(sm.personalizationRecord({ ...base, cardholder: { surname: '  ' } }), 'BAD_INPUT');
      });
    });

    describe('new cards in bulk', () => {
      const cvkRef = () => prepareCvk(Buffer.from(CVK_HEX, 'hex'));
      const pans = [PAN, OTHER_PAN, '4123456789012343'];
      const batch = () => ({
        pans, tok: k.tok.keyBlock, dek: k.dek.keyBlock, hmk: k.hmk.keyBlock, pvk: k.pvk.keyBlock, method: PVV_METHOD as PinVerificationMethod,
        expiryYYMM: EXPIRY, serviceCode: SERVICE_CODE, cardholder: { surname: 'CARDHOLDER' },
      });

      it('gives each card what the single operations give: hash, token, stored number, PIN with PVV, bureau record with PIN mailer', async () => {
        const cards = await sm.issueCards({ ...batch(), bur: k.burAes.keyBlock, cvk: k.cvk.keyBlock, referenceSuffix: '1' });
        assert.equal(cards.length, pans.length);
        for (const [i, card] of cards.entries()) {
          const pan = pans[i]!;
          assert.equal(card.hash, await sm.panLookupHash(k.hmk.keyBlock, pan));
          assert.equal(card.token, await sm.tokenizePan({ tok: k.tok.keyBlock, pan }));
          assert.equal(await sm.decryptData(k.dek.keyBlock, card.encrypted), pan);
          const pin = clientReadPinBlock(0, await sm.translatePin({ storedPinBlock: card.pin!.storedPinBlock, pan, zpk: k.zpk.keyBlock }), pan, clear.zpk);
          assert.equal(card.pin!.pvv, computePvv(Buffer.from(clear.pvk, 'hex'), pan, '1', pin));
          const r = card.record!;
          assert.equal(r.reference, `${card.token}.1`);
          assert.equal(r.bureauKcv, k.burAes.kcv);
          const f = clientReadPersonalizationRecord(r.encryptedRecord, clear.burAes, r.cipher);
          assert.equal(f.pan, pan);
          assert.equal(f.reference, r.reference);
          const dd = parseDiscretionaryData(parseTrack2(f.track2).discretionary, { kind: 'PVV' });
          assert.equal(dd.cvv, computeCvv(cvkRef(), pan, EXPIRY, SERVICE_CODE));
          assert.equal(dd.pvv, card.pin!.pvv);
          assert.equal(f.cvv2, computeCvv2(cvkRef(), pan, EXPIRY));
          assert.equal(parseDiscretionaryData(parseTrack2Equivalent(f.chipTrack2).discretionary, { kind: 'PVV' }).cvv, computeIcvv(cvkRef(), pan, EXPIRY));
          assert.equal(clientReadPinBlock(4, f.pinBlock, pan, clear.burAes), pin, 'the PIN mailer carries the stored PIN');
          secretsForErrors.push(f.pinBlock, card.pin!.storedPinBlock, card.token);
        }
        assert.notEqual(cards[0]!.encrypted, (await sm.issueCards({ ...batch(), pans: [PAN] }))[0]!.encrypted, 'stored numbers are randomised');
      });

      it('IBM 3624 offsets, no record without a bureau key; refuses a bad number, an empty batch, a wrong key type', async () => {
        const [card] = await sm.issueCards({ ...batch(), pans: [PAN], method: IBM_METHOD });
        assert.equal(card!.record, undefined);
        const pin = clientReadPinBlock(0, await sm.translatePin({ storedPinBlock: card!.pin!.storedPinBlock, pan: PAN, zpk: k.zpk.keyBlock }), PAN, clear.zpk);
        assert.equal(pin.length, IBM_METHOD.pinLength);
        assert.equal(card!.pin!.offset, ibm3624Offset(Buffer.from(clear.pvk, 'hex'), ibm3624ValidationData(PAN), IBM_METHOD.decimalizationTable, pin));
        await refused(sm.issueCards({ ...batch(), pans: [PAN, '4123'] }), 'BAD_INPUT');
        await refused(sm.issueCards({ ...batch(), pans: [] }), 'BAD_INPUT');
        await refused(sm.issueCards({ ...batch(), tok: k.dek.keyBlock }), 'WRONG_KEY_TYPE');
        await refused(sm.issueCards({ ...batch(), bur: k.zpk.keyBlock, cvk: k.cvk.keyBlock }), 'WRONG_KEY_TYPE');
      });

      it('faces: each card its own expiry, service code, names and reference suffix, as personalizationRecord makes them one by one', async () => {
        const faces = [
          { expiryYYMM: '3101', serviceCode: '201', cardholder: { surname: 'LOVELACE', givenNames: 'ADA' }, embossLine1: 'ADA LOVELACE', referenceSuffix: '1' },
          { expiryYYMM: '2912', serviceCode: '101', cardholder: { surname: 'HOPPER', givenNames: 'GRACE' }, embossLine2: 'NAVY', referenceSuffix: '2' },
          { expiryYYMM: EXPIRY, serviceCode: SERVICE_CODE, cardholder: { surname: 'CARDHOLDER' } },
        ];
        const cards = await sm.issueCards({ ...batch(), faces, bur: k.burAes.keyBlock, cvk: k.cvk.keyBlock, referenceSuffix: '7' });
        for (const [i, card] of cards.entries()) {
          const pan = pans[i]!;
          const face = faces[i]!;
          const f = clientReadPersonalizationRecord(card.record!.encryptedRecord, clear.burAes, card.record!.cipher);
          assert.equal(f.reference, `${card.token}.${face.referenceSuffix ?? '7'}`, 'a face without a suffix takes the batch one');
          assert.equal(f.expiryYYMM, face.expiryYYMM);
          assert.equal(f.serviceCode, face.serviceCode);
          assert.equal(f.embossLine2, face.embossLine2 ?? '');
          const dd = parseDiscretionaryData(parseTrack2(f.track2).discretionary, { kind: 'PVV' });
          assert.equal(dd.cvv, computeCvv(cvkRef(), pan, face.expiryYYMM, face.serviceCode));
          assert.equal(f.cvv2, computeCvv2(cvkRef(), pan, face.expiryYYMM));
          secretsForErrors.push(f.pinBlock, card.pin!.storedPinBlock);
        }
        await refused(sm.issueCards({ ...batch(), faces: faces.slice(0, 2) }), 'BAD_INPUT');
        await refused(sm.issueCards({ ...batch(), faces: [faces[0]!, { ...faces[1]!, expiryYYMM: '13' }, faces[2]!] }), 'BAD_INPUT');
      });

      it('pins: false gives no PIN, a record without PVV and without a PIN mailer, and needs no PVK', async () => {
        const { pvk: _pvk, ...noPvk } = batch();
        const [card] = await sm.issueCards({ ...noPvk, pans: [PAN], pins: false, bur: k.burAes.keyBlock, cvk: k.cvk.keyBlock });
        assert.equal(card!.pin, undefined);
        const f = clientReadPersonalizationRecord(card!.record!.encryptedRecord, clear.burAes, card!.record!.cipher);
        assert.equal(f.pinBlock, '');
        assert.equal(parseDiscretionaryData(parseTrack2(f.track2).discretionary, { kind: 'PVV' }).pvv, '0000');
        await refused(sm.issueCards({ ...noPvk, pans: [PAN] }), 'BAD_INPUT');
      });
    });

    describe('track data for a client', () => {
      const cvkRef = () => prepareCvk(Buffer.from(CVK_HEX, 'hex'));
      /** As a client reads a field: 3DES-ECB under the ZEK, ASCII, trailing spaces dropped. */
      const read = (hexText: string, blocks: number) => {
        assert.match(hexText, /^([0-9A-F]{16})+$/);
        assert.equal(hexText.length, blocks * 16);
        return clientTdes(clear.zek, Buffer.from(hexText, 'hex'), true).toString('latin1').replace(/ +$/, '');
      };

      it('gives tracks 1 and 2 and the embosser block, each 3DES-ECB under the ZEK, space-padded to whole blocks', async () => {
        const r = await sm.trackDataForClient({
          zek: k.zek.keyBlock, cvk: k.cvk.keyBlock, pan: PAN, expiryYYMM: EXPIRY, serviceCode: SERVICE_CODE,
          cardholder: { surname: 'Lovelace', givenNames: 'Ada' }, embossLine2: 'Analytical Engines Ltd', pin: { kind: 'PVV', pvki: '1', pvv: '0123' },
        });
        const t2 = read(r.encryptedTrack2, 5);
        assert.equal(t2.length, 39);
        const track2 = parseTrack2(t2);
        assert.equal(track2.pan, PAN);
        assert.equal(track2.expiryYYMM, EXPIRY);
        assert.equal(track2.serviceCode, SERVICE_CODE);
        const dd = parseDiscretionaryData(track2.discretionary, { kind: 'PVV' });
        assert.equal(dd.cvv, '561', 'the stripe CVV is the Visa CVV method value (vector)');
        assert.equal(dd.pvki, '1');
        assert.equal(dd.pvv, '0123');
        const t1 = read(r.encryptedTrack1, Math.ceil(r.encryptedTrack1.length / 16));
        assert.ok(r.encryptedTrack1.length <= 160);
        const track1 = parseTrack1(t1);
        assert.equal(track1.name, 'LOVELACE/ADA');
        assert.equal(track1.pan, PAN);
        assert.equal(track1.discretionary, track2.discretionary);
        const block = clientTdes(clear.zek, Buffer.from(r.embosserBlockData, 'hex'), true).toString('latin1');
        assert.equal(block.length, 88);
        assert.equal(block.slice(0, 23), '4123 4567 8901 2345'.padEnd(23, ' '));
        assert.equal(block.slice(23, 28), '01/87');
        assert.equal(block.slice(28, 54), 'ADA LOVELACE'.padEnd(26, ' '));
        assert.equal(block.slice(54, 80), 'ANALYTICAL ENGINES LTD'.padEnd(26, ' '));
        assert.equal(block.slice(80, 83), computeCvv2(cvkRef(), PAN, EXPIRY));
        assert.equal(block.slice(83), '     ');

        const ibm = await sm.trackDataForClient({
          zek: k.zek.keyBlock, cvk: k.cvk.keyBlock, pan: PAN, expiryYYMM: EXPIRY, serviceCode: '201', cardholder: { surname: 'Hopper' }, pin: { kind: 'IBM3624', offset: '123456' },
        });
        const ibmDd = parseDiscretionaryData(parseTrack2(read(ibm.encryptedTrack2, 5)).discretionary, { kind: 'IBM3624', offsetLength: 6 });
        assert.equal(ibmDd.offset, '123456');
        assert.equal(ibmDd.cvv, computeCvv(cvkRef(), PAN, EXPIRY, '201'));
        const none = await sm.trackDataForClient({ zek: k.zek.keyBlock, cvk: k.cvk.keyBlock, pan: PAN, expiryYYMM: EXPIRY, serviceCode: '201', cardholder: { surname: 'Hopper' } });
        assert.ok(parseTrack2(read(none.encryptedTrack2, 5)).discretionary.startsWith('00000'));
        const again = await sm.trackDataForClient({ zek: k.zek.keyBlock, cvk: k.cvk.keyBlock, pan: PAN, expiryYYMM: EXPIRY, serviceCode: '201', cardholder: { surname: 'Hopper' } });
        assert.deepEqual(again, none, 'ECB: the same card gives the same fields');
        assert.ok(!JSON.stringify(r).includes(PAN));
      });

      it('refuses a key of another type, a malformed card number, expiry or PVV', async () => {
        const base = { zek: k.zek.keyBlock, cvk: k.cvk.keyBlock, pan: PAN, expiryYYMM: EXPIRY, serviceCode: SERVICE_CODE, cardholder: { surname: 'Lovelace' } };
        await refused(sm.trackDataForClient({ ...base, zek: k.zpk.keyBlock }), 'WRONG_KEY_TYPE');
        await refused(sm.trackDataForClient({ ...base, cvk: k.zek.keyBlock }), 'WRONG_KEY_TYPE');
        await refused(sm.trackDataForClient({ ...base, pan: '4123' }), 'BAD_INPUT');
        await refused(sm.trackDataForClient({ ...base, expiryYYMM: '871' }), 'BAD_INPUT');
        await refused(sm.trackDataForClient({ ...base, serviceCode: '1' }), 'BAD_INPUT');
        await refused(sm.trackDataForClient({ ...base, pin: { kind: 'PVV', pvki: '1', pvv: '12' } }), 'BAD_INPUT');
        await refused(sm.trackDataForClient({ ...base, cardholder: { surname: '  ' } }), 'BAD_INPUT');
      });
    });

    describe('whole run', () => {
      it('exercised every operation of the interface', () => {
        const missing = SECURITY_MODULE_OPERATIONS.filter((op) => !called.has(op));
        assert.deepEqual(missing, []);
      });

      it('no operation ever returned a clear key', () => {
        const text = JSON.stringify(results).toUpperCase();
        for (const key of clearKeys) {
          const bytes = Buffer.from(key, 'hex');
          for (const form of [key.toUpperCase(), bytes.toString('base64').toUpperCase(), bytes.toString('base64url').toUpperCase()]) {
            assert.ok(!text.includes(form), 'a result contains clear key material');
          }
        }
        assert.ok(!JSON.stringify(results).includes(clear.api), 'a result contains the API secret');
      });

      it('no error text contains a key, card number, PIN block, stored PIN or token', () => {
        assert.ok(errors.length > 20, 'the run provoked errors');
        for (const e of errors) {
          const text = e instanceof Error ? `${e.message}\n${String(e)}\n${e.stack ?? ''}` : String(e);
          for (const secret of secretsForErrors) {
            assert.ok(!text.toUpperCase().includes(secret.toUpperCase()), 'an error text contains secret material');
          }
        }
      });
    });
  });
}
