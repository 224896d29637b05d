/**
 * Values encrypted for a client system under keys shared with that client
 * (FirstVision-style "encrypted CVV / PIN / card number" fields).
 *
 * All three use TDES-ECB with a double-length (16-byte, keying option 2:
 * K1 K2 K1) or triple-length (24-byte) client key, no IV, no padding beyond the
 * 'F' fill described below. Output is uppercase hex.
 *
 * (a) CVV / CVV2 / iCVV (3 or 4 digits)
 *     clear  = digits right-padded with 'F' to 16 hex digits, e.g. 561 → 561FFFFFFFFFFFFF
 *     result = hex(TDES-ECB(key, clear as 8 bytes))          → 16 hex digits
 *     client side, e.g. with OpenSSL:
 *       echo -n <16 hex> | xxd -r -p | openssl enc -d -des-ede-ecb -K <32 hex key> -nopad | xxd -p
 *     (use -des-ede3-ecb with a 48-hex-digit key), then strip the trailing F's.
 *
 * (b) PIN: ISO 9564-1 format 0 PIN block (see pin-block.ts) for the card's
 *     PAN, TDES-ECB under the key → 16 hex digits. Decrypt, XOR with
 *     0000 || 12 rightmost PAN digits excluding the check digit, read
 *     0 | length | PIN | F fill.
 *
 * (c) Card number (PAN, 12..19 digits)
 *     clear  = PAN right-padded with 'F' to 32 hex digits (16 bytes, two blocks)
 *     result = hex(TDES-ECB(key, clear))                      → 32 hex digits
 *     e.g. 4123456789012345 → clear 4123456789012345FFFFFFFFFFFFFFFF.
 *
 * Decryption rejects non-hex input, wrong lengths and bad padding with
 * CryptoInputError (codes BAD_HEX, BAD_LENGTH, BAD_PADDING); messages never
 * include the ciphertext, the key or the decrypted value.
 */
import { Buffer } from 'node:buffer';
import { CryptoInputError } from './errors.ts';
import { asTdes, bytesToHex, hexToBytes, isBlockCipher, type BlockCipher, type KeyInput } from './cipher.ts';
import { decryptPinBlock, encryptPinBlock } from './pin-block.ts';
import { isDigits } from './decimalize.ts';

function clientKey(key: KeyInput): BlockCipher {
  if (key instanceof Uint8Array && key.length !== 16 && key.length !== 24) {
    throw new CryptoInputError('BAD_KEY', 'client key must be a double or triple length TDES key (16 or 24 bytes)');
  }
  if (!(key instanceof Uint8Array) && (!isBlockCipher(key) || key.keyLength === 8)) {
    throw new CryptoInputError('BAD_KEY', 'client key must be double/triple length TDES key bytes or such a TDES BlockCipher');
  }
  return asTdes(key);
}

/** Parse "digits then F fill" from a decrypted block; null when malformed. */
function stripF(hex: string, minDigits: number, maxDigits: number): string | null {
  let end = 0;
  while (end < hex.length && hex.charCodeAt(end) >= 48 && hex.charCodeAt(end) <= 57) end++;
  if (end < minDigits || end > maxDigits) return null;
  for (let i = end; i < hex.length; i++) if (hex[i] !== 'F') return null;
  return hex.slice(0, end);
}

/** Encrypt a 3- or 4-digit card verification value → 16 hex digits. */
export function encryptCvvForClient(key: KeyInput, cvv: string): string {
  if (!isDigits(cvv) || cvv.length < 3 || cvv.length > 4) throw new CryptoInputError('BAD_INPUT', 'CVV must be 3 or 4 digits');
  return bytesToHex(clientKey(key).encryptBlock(Buffer.from(cvv.padEnd(16, 'F'), 'hex')));
}

/** Decrypt a value produced by encryptCvvForClient. */
export function decryptCvvFromClient(key: KeyInput, ciphertextHex: string): string {
  const ct = hexToBytes(ciphertextHex);
  if (ct.length !== 8) throw new CryptoInputError('BAD_LENGTH', 'encrypted CVV must be 16 hex digits');
  const clear = bytesToHex(clientKey(key).decryptBlock(ct));
  const cvv = stripF(clear, 3, 4);
  if (cvv === null) throw new CryptoInputError('BAD_PADDING', 'decrypted CVV block is not digits followed by F padding');
  return cvv;
}

/** Encrypt a PIN as an ISO 9564-1 format 0 PIN block → 16 hex digits. */
export function encryptPinForClient(key: KeyInput, pin: string, pan: string): string {
  return bytesToHex(encryptPinBlock(clientKey(key), 0, pin, pan));
}

/** Decrypt a format 0 PIN block produced by encryptPinForClient (throws PinBlockError on malformed blocks). */
export function decryptPinFromClient(key: KeyInput, ciphertextHex: string, pan: string): string {
  const ct = hexToBytes(ciphertextHex);
  if (ct.length !== 8) throw new CryptoInputError('BAD_LENGTH', 'encrypted PIN block must be 16 hex digits');
  return decryptPinBlock(clientKey(key), 0, ct, pan);
}

/** Encrypt a card number (12..19 digits) → 32 hex digits. */
export function encryptPanForClient(key: KeyInput, pan: string): string {
  if (!isDigits(pan) || pan.length < 12 || pan.length > 19) throw new CryptoInputError('BAD_PAN', 'PAN must be 12 to 19 digits');
  return bytesToHex(clientKey(key).encryptBlock(Buffer.from(pan.padEnd(32, 'F'), 'hex')));
}

/** Decrypt a value produced by encryptPanForClient. */
export function decryptPanFromClient(key: KeyInput, ciphertextHex: string): string {
  const ct = hexToBytes(ciphertextHex);
  if (ct.length !== 16) throw new CryptoInputError('BAD_LENGTH', 'encrypted card number must be 32 hex digits');
  const clear = bytesToHex(clientKey(key).decryptBlock(ct));
  const pan = stripF(clear, 12, 19);
  if (pan === null) throw new CryptoInputError('BAD_PADDING', 'decrypted card number is not digits followed by F padding');
  return pan;
}
