/**
 * What an integrator computes on its own side of emboss's PCI calls, on node:crypto alone (no
 * emboss code): ISO 9564-1 PIN blocks under the client's zone PIN key (ZPK), the security values
 * (CVV, CVV2, iCVV, dCVV2) it receives encrypted under that key, and card numbers under its
 * card-number key (ZEK) for card-pan. Keys are given in hexadecimal: a 3DES key of 32 or 48 hex
 * digits, an AES key of 32, 48 or 64.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export type PinBlockFormat = 0 | 1 | 3 | 4;

/** Random bytes for the fill of formats 1, 3 and 4 (a test can make them fixed). */
export type RandomBytes = (n: number) => Uint8Array;

const HEX = /^(?:[0-9A-Fa-f]{2})+$/;

function hexBytes(hex: string, what: string): Buffer {
  if (!HEX.test(hex)) throw new TypeError(`${what} must be hexadecimal digits, an even number of them`);
  return Buffer.from(hex, 'hex');
}

function tdesKey(keyHex: string): Buffer {
  const key = hexBytes(keyHex, 'the key');
  if (key.length !== 16 && key.length !== 24) throw new TypeError('a 3DES key has 32 or 48 hex digits');
  return key;
}

function tdes(keyHex: string, data: Buffer, decrypt = false): Buffer {
  const key = tdesKey(keyHex);
  const algorithm = key.length === 16 ? 'des-ede-ecb' : 'des-ede3-ecb';
  const c = (decrypt ? createDecipheriv : createCipheriv)(algorithm, key, null).setAutoPadding(false);
  return Buffer.concat([c.update(data), c.final()]);
}

function aes(keyHex: string, data: Buffer, decrypt = false): Buffer {
  const key = hexBytes(keyHex, 'the key');
  if (![16, 24, 32].includes(key.length)) throw new TypeError('an AES key has 32, 48 or 64 hex digits');
  const c = (decrypt ? createDecipheriv : createCipheriv)(`aes-${key.length * 8}-ecb`, key, null).setAutoPadding(false);
  return Buffer.concat([c.update(data), c.final()]);
}

const xor = (a: Buffer, b: Buffer) => Buffer.from(a.map((x, i) => x ^ b[i]!));
const toHex = (b: Buffer) => b.toString('hex').toUpperCase();

/** n hex digits, each uniform in [from, to] (rejection sampling: no bias for A–F). */
function randomNibbles(n: number, from: number, to: number, random: RandomBytes): string {
  const span = to - from + 1;
  const limit = 256 - (256 % span);
  let out = '';
  while (out.length < n) {
    for (const b of random(n)) {
      if (out.length === n) break;
      if (b < limit) out += (from + (b % span)).toString(16).toUpperCase();
    }
  }
  return out;
}

function checkPin(pin: string): void {
  if (!/^[0-9]{4,12}$/.test(pin)) throw new TypeError('a PIN has 4 to 12 digits');
}

/** The PAN field of formats 0 and 3: four zeros and the 12 rightmost digits of the PAN without its check digit. */
function panField03(pan: string): Buffer {
  if (!/^[0-9]{13,19}$/.test(pan)) throw new TypeError('a card number has 13 to 19 digits');
  return Buffer.from(`0000${pan.slice(-13, -1)}`, 'hex');
}

/** The PAN field of format 4: M (PAN length − 12, 0 for 12 digits or fewer), the PAN left-padded with zeros to 12 digits, zeros to 32. */
function panField4(pan: string): Buffer {
  if (!/^[0-9]{1,19}$/.test(pan)) throw new TypeError('a card number has 1 to 19 digits');
  const m = pan.length > 12 ? pan.length - 12 : 0;
  return Buffer.from((String(m) + pan.padStart(12, '0')).padEnd(32, '0'), 'hex');
}

/**
 * The clear ISO 9564-1 PIN block of format 0, 1 or 3 (16 hex digits): control nibble, PIN
 * length, PIN, fill (F for format 0, random 0–F for 1, random A–F for 3), XORed with the PAN
 * field for formats 0 and 3 (format 1 takes no PAN).
 */
export function clearPinBlock(format: 0 | 1 | 3, pin: string, pan?: string, random: RandomBytes = randomBytes): string {
  checkPin(pin);
  const head = `${format}${pin.length.toString(16).toUpperCase()}${pin}`;
  const fill = 16 - head.length;
  const pinField = Buffer.from(head + (format === 0 ? 'F'.repeat(fill) : format === 1 ? randomNibbles(fill, 0, 15, random) : randomNibbles(fill, 10, 15, random)), 'hex');
  if (format === 1) return toHex(pinField);
  if (pan === undefined) throw new TypeError(`format ${format} needs the card number`);
  return toHex(xor(pinField, panField03(pan)));
}

/** The clear PIN field of format 4 (32 hex digits): 4, PIN length, PIN, A fill to 16 nibbles, 16 random nibbles. */
export function pinField4(pin: string, random: RandomBytes = randomBytes): string {
  checkPin(pin);
  return `4${pin.length.toString(16).toUpperCase()}${pin}`.padEnd(16, 'A') + randomNibbles(16, 0, 15, random);
}

/**
 * An ISO 9564-1 PIN block as emboss takes it (PIN validation, PIN change): formats 0, 1 and 3
 * encrypted under a 3DES zone PIN key (16 hex digits out), format 4 under an AES zone PIN key
 * (32 hex digits out: the PIN field enciphered, XORed with the PAN field, enciphered again).
 * `pinBlockFormat` in the request names the format; the key association names the key.
 */
export function buildPinBlock(format: PinBlockFormat, pin: string, pan: string, zpkHex: string, random: RandomBytes = randomBytes): string {
  if (format === 4) {
    const field = Buffer.from(pinField4(pin, random), 'hex');
    return toHex(aes(zpkHex, xor(aes(zpkHex, field), panField4(pan))));
  }
  if (format !== 0 && format !== 1 && format !== 3) throw new TypeError('PIN block formats are 0, 1, 3 and 4');
  return toHex(tdes(zpkHex, Buffer.from(clearPinBlock(format, pin, pan, random), 'hex')));
}

/**
 * The PIN in an encrypted PIN block: formats 0, 1 and 3 under a 3DES ZPK (the format is read
 * from the block's control nibble; format 0 is what the security-value endpoints return), format
 * 4 under an AES ZPK (a block of 32 hex digits). Throws when the block does not decode (a wrong
 * key or card number).
 */
export function readPinBlock(blockHex: string, pan: string, zpkHex: string): string {
  const block = hexBytes(blockHex, 'the PIN block');
  if (block.length === 16) {
    const field = toHex(aes(zpkHex, xor(aes(zpkHex, block, true), panField4(pan)), true));
    const length = parseInt(field[1]!, 16);
    const pin = field.slice(2, 2 + length);
    if (field[0] !== '4' || length < 4 || length > 12 || !/^[0-9]+$/.test(pin) || !/^A*$/.test(field.slice(2 + length, 16))) {
      throw new Error('not a format 4 PIN block under this key and card number');
    }
    return pin;
  }
  if (block.length !== 8) throw new TypeError('a PIN block has 16 (3DES) or 32 (AES) hex digits');
  const clear = tdes(zpkHex, block, true);
  const format = clear[0]! >> 4;
  const field = toHex(format === 1 ? clear : xor(clear, panField03(pan)));
  const length = parseInt(field[1]!, 16);
  const pin = field.slice(2, 2 + length);
  const fill = field.slice(2 + length);
  const fillOk = format === 0 ? /^F*$/.test(fill) : format === 3 ? /^[A-F]*$/.test(fill) : format === 1;
  if (![0, 1, 3].includes(format) || length < 4 || length > 12 || !/^[0-9]+$/.test(pin) || !fillOk) {
    throw new Error('not a PIN block of format 0, 1 or 3 under this key and card number');
  }
  return pin;
}

/**
 * A card security value (CVV, CVV2, iCVV, dCVV2) as emboss returns it: its digits right-padded
 * with F to a 3DES block, encrypted 3DES-ECB under the key association's ZPK. Answers the digits.
 */
export function decryptSecurityValue(valueHex: string, zpkHex: string): string {
  const clear = toHex(tdes(zpkHex, hexBytes(valueHex, 'the value'), true));
  const digits = clear.replace(/F+$/, '');
  if (!/^[0-9]{3,5}$/.test(digits)) throw new Error('not a security value under this key');
  return digits;
}

/**
 * A card number as card-pan and the PCI fields carry it: right-padded with F to 32 hex digits,
 * encrypted 3DES-ECB under the client's card-number key (ZEK). Also what card-pan takes to find
 * a card by its number (`functionType` P).
 */
export function encryptCardNumber(pan: string, zekHex: string): string {
  if (!/^[0-9]{12,19}$/.test(pan)) throw new TypeError('a card number has 12 to 19 digits');
  return toHex(tdes(zekHex, Buffer.from(pan.padEnd(32, 'F'), 'hex')));
}

/** The clear number of an encrypted card number (card-pan's `cardNumber`). */
export function decryptCardNumber(encryptedHex: string, zekHex: string): string {
  const clear = toHex(tdes(zekHex, hexBytes(encryptedHex, 'the encrypted card number'), true));
  const pan = clear.replace(/F+$/, '');
  if (!/^[0-9]{12,19}$/.test(pan)) throw new Error('not a card number under this key');
  return pan;
}

/** A key from its clear components (XOR of equal-length hex strings), as a key ceremony combines them. */
export function combineComponents(components: readonly string[]): string {
  if (components.length === 0) throw new TypeError('at least one component');
  const parts = components.map((c) => hexBytes(c, 'a component'));
  if (parts.some((p) => p.length !== parts[0]!.length)) throw new TypeError('components have the same length');
  return toHex(parts.reduce((a, b) => xor(a, b)));
}
