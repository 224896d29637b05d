/**
 * Thin, fast block-cipher helpers over node:crypto.
 *
 * - TDES (des-ede3-ecb): 8-byte keys are run as K1K1K1 (= single DES),
 *   16-byte (double length) keys as K1K2K1, 24-byte keys as K1K2K3.
 * - AES-ECB: AES-128/192/256 selected by key length.
 * - No padding anywhere: inputs must be whole blocks.
 *
 * Performance: `crypto.createCipheriv` costs ~3 µs per call, one `update()` on
 * an existing cipher object ~0.5-0.9 µs. ECB is stateless between blocks, so a
 * Cipheriv object created once with autoPadding(false) can be fed any number
 * of whole blocks through `update()` (never calling `final()`), each call
 * giving exactly the ECB encryption of those blocks. `BlockCipher` wraps that:
 * create one per key and keep it (the security module caches them per key
 * handle). The invariant that makes reuse correct — no partial block is ever
 * left buffered inside the object — is enforced by rejecting any input whose
 * length is not a multiple of the block size before it reaches `update()`.
 */
import { createCipheriv, createDecipheriv, type Cipher, type Decipher } from 'node:crypto';
import { Buffer } from 'node:buffer';
import { CryptoInputError } from './errors.ts';

export type BlockAlgorithm = 'tdes' | 'aes';

/** A keyed ECB block cipher; create once per key and reuse. */
export interface BlockCipher {
  readonly algorithm: BlockAlgorithm;
  readonly blockSize: 8 | 16;
  /** Key length in bytes as given (8/16/24 for TDES, 16/24/32 for AES). */
  readonly keyLength: number;
  /** ECB-encrypt one or more whole blocks. Returns a fresh Buffer. */
  encryptBlock(data: Uint8Array): Buffer<ArrayBuffer>;
  /** ECB-decrypt one or more whole blocks. Returns a fresh Buffer. */
  decryptBlock(data: Uint8Array): Buffer<ArrayBuffer>;
}

/** A key given either as raw bytes or as an already-created BlockCipher. */
export type KeyInput = Uint8Array | BlockCipher;

class EcbCipher implements BlockCipher {
  readonly algorithm: BlockAlgorithm;
  readonly blockSize: 8 | 16;
  readonly keyLength: number;
  readonly #name: string;
  readonly #enc: Cipher;
  #dec: Decipher | undefined;
  // The expanded key is kept only until the decipher has been created
  // (lazily, many keys are only ever used to encrypt), then wiped.
  #key: Buffer | undefined;

  constructor(algorithm: BlockAlgorithm, name: string, key: Buffer, keyLength: number) {
    this.algorithm = algorithm;
    this.blockSize = algorithm === 'tdes' ? 8 : 16;
    this.keyLength = keyLength;
    this.#name = name;
    this.#enc = createCipheriv(name, key, null);
    this.#enc.setAutoPadding(false);
    this.#key = key;
  }

  encryptBlock(data: Uint8Array): Buffer<ArrayBuffer> {
    this.#check(data);
    return this.#enc.update(data);
  }

  decryptBlock(data: Uint8Array): Buffer<ArrayBuffer> {
    this.#check(data);
    let dec = this.#dec;
    if (dec === undefined) {
      dec = createDecipheriv(this.#name, this.#key as Buffer, null);
      dec.setAutoPadding(false);
      this.#dec = dec;
      (this.#key as Buffer).fill(0);
      this.#key = undefined;
    }
    return dec.update(data);
  }

  #check(data: Uint8Array): void {
    if (!(data instanceof Uint8Array) || data.length === 0 || data.length % this.blockSize !== 0) {
      throw new CryptoInputError('BAD_LENGTH', `${this.algorithm.toUpperCase()} input must be a non-empty multiple of ${this.blockSize} bytes`);
    }
  }
}

/** Create a reusable TDES (des-ede3-ecb) cipher; 8-byte keys act as single DES. */
export function createTdesCipher(key: Uint8Array): BlockCipher {
  if (!(key instanceof Uint8Array) || (key.length !== 8 && key.length !== 16 && key.length !== 24)) {
    throw new CryptoInputError('BAD_KEY', 'TDES key must be 8, 16 or 24 bytes');
  }
  const k = Buffer.alloc(24);
  k.set(key.subarray(0, 8), 0);
  k.set(key.length === 8 ? key.subarray(0, 8) : key.subarray(8, 16), 8);
  k.set(key.length === 24 ? key.subarray(16, 24) : key.subarray(0, 8), 16);
  return new EcbCipher('tdes', 'des-ede3-ecb', k, key.length);
}

/** Create a reusable AES-ECB cipher (AES-128/192/256 by key length). */
export function createAesCipher(key: Uint8Array): BlockCipher {
  if (!(key instanceof Uint8Array) || (key.length !== 16 && key.length !== 24 && key.length !== 32)) {
    throw new CryptoInputError('BAD_KEY', 'AES key must be 16, 24 or 32 bytes');
  }
  return new EcbCipher('aes', `aes-${key.length * 8}-ecb`, Buffer.from(key), key.length);
}

export function isBlockCipher(x: unknown): x is BlockCipher {
  return typeof x === 'object' && x !== null && !(x instanceof Uint8Array)
    && typeof (x as BlockCipher).encryptBlock === 'function'
    && typeof (x as BlockCipher).decryptBlock === 'function';
}

/** Resolve a KeyInput to a TDES BlockCipher (creating one if raw bytes were given). */
export function asTdes(key: KeyInput): BlockCipher {
  if (key instanceof Uint8Array) return createTdesCipher(key);
  if (isBlockCipher(key) && key.algorithm === 'tdes') return key;
  throw new CryptoInputError('BAD_KEY', 'a TDES key or TDES BlockCipher is required');
}

/** Resolve a KeyInput to an AES BlockCipher (creating one if raw bytes were given). */
export function asAes(key: KeyInput): BlockCipher {
  if (key instanceof Uint8Array) return createAesCipher(key);
  if (isBlockCipher(key) && key.algorithm === 'aes') return key;
  throw new CryptoInputError('BAD_KEY', 'an AES key or AES BlockCipher is required');
}

/** One-shot TDES-ECB encryption (no padding). Prefer a cached BlockCipher in hot paths. */
export function tdesEncrypt(key: KeyInput, data: Uint8Array): Buffer<ArrayBuffer> {
  return asTdes(key).encryptBlock(data);
}
export function tdesDecrypt(key: KeyInput, data: Uint8Array): Buffer<ArrayBuffer> {
  return asTdes(key).decryptBlock(data);
}
/** One-shot AES-ECB encryption (no padding). Prefer a cached BlockCipher in hot paths. */
export function aesEncrypt(key: KeyInput, data: Uint8Array): Buffer<ArrayBuffer> {
  return asAes(key).encryptBlock(data);
}
export function aesDecrypt(key: KeyInput, data: Uint8Array): Buffer<ArrayBuffer> {
  return asAes(key).decryptBlock(data);
}

/**
 * CBC encryption with PKCS#7 padding of many messages under one key, each with its own IV:
 * equal to node's `createCipheriv('<alg>-cbc', key, iv)` per message (the ciphertext, without
 * the IV). The messages advance block by block together and each step is one ECB call over all
 * of them (ECB encrypts each block on its own; CBC chains each message to its own previous
 * block, XORed here), instead of a cipher object per message.
 */
export function cbcEncryptMany(cipher: BlockCipher, ivs: readonly Uint8Array[], clears: readonly Uint8Array[]): Buffer<ArrayBuffer>[] {
  const bs = cipher.blockSize;
  if (ivs.length !== clears.length) throw new CryptoInputError('BAD_LENGTH', `CBC needs one ${bs}-byte IV per message`);
  // Loops, not callbacks, here and in the other batch operations: a callback made per call loses
  // its optimized code whenever the heap is collected, and is compiled again on the next batch.
  const out: Buffer<ArrayBuffer>[] = [];
  let steps = 0;
  for (let i = 0; i < clears.length; i++) {
    const iv = ivs[i];
    if (!(iv instanceof Uint8Array) || iv.length !== bs) throw new CryptoInputError('BAD_LENGTH', `CBC needs one ${bs}-byte IV per message`);
    const blocks = Math.floor((clears[i] as Uint8Array).length / bs) + 1;
    out.push(Buffer.allocUnsafe(blocks * bs));
    if (blocks > steps) steps = blocks;
  }
  const work = Buffer.allocUnsafe(clears.length * bs);
  const who: number[] = [];
  for (let j = 0; j < steps; j++) {
    who.length = 0;
    const at = j * bs;
    for (let i = 0; i < clears.length; i++) {
      const o = out[i] as Buffer;
      if (o.length <= at) continue;
      const clear = clears[i] as Uint8Array;
      // The previous ciphertext block (the IV first), at `from` in `prev`.
      const prev = j === 0 ? (ivs[i] as Uint8Array) : o;
      const from = j === 0 ? 0 : at - bs;
      const w = who.length * bs;
      if (at + bs <= clear.length) {
        for (let k = 0; k < bs; k++) work[w + k] = (clear[at + k] as number) ^ (prev[from + k] as number);
      } else {
        const pad = o.length - clear.length; // PKCS#7: the pad bytes are the pad length
        for (let k = 0; k < bs; k++) work[w + k] = (at + k < clear.length ? (clear[at + k] as number) : pad) ^ (prev[from + k] as number);
      }
      who.push(i);
    }
    const enc = cipher.encryptBlock(work.subarray(0, who.length * bs));
    for (let m = 0; m < who.length; m++) enc.copy(out[who[m] as number] as Buffer, at, m * bs, (m + 1) * bs);
  }
  work.fill(0);
  return out;
}

/** XOR of two equal-length byte arrays into a new Buffer. */
export function xor(a: Uint8Array, b: Uint8Array): Buffer<ArrayBuffer> {
  if (a.length !== b.length) throw new CryptoInputError('BAD_LENGTH', 'XOR operands must have equal length');
  const out = Buffer.allocUnsafe(a.length);
  for (let i = 0; i < a.length; i++) out[i] = (a[i] as number) ^ (b[i] as number);
  return out;
}

/** In-place XOR: target ^= src (lengths must match). Returns target. */
export function xorInto<T extends Uint8Array>(target: T, src: Uint8Array): T {
  if (target.length !== src.length) throw new CryptoInputError('BAD_LENGTH', 'XOR operands must have equal length');
  for (let i = 0; i < target.length; i++) target[i] = (target[i] as number) ^ (src[i] as number);
  return target;
}

const HEX_RE = /^(?:[0-9A-Fa-f]{2})*$/;

export function isHex(s: unknown): s is string {
  return typeof s === 'string' && HEX_RE.test(s);
}

/** Parse an even-length hex string (either case). Throws BAD_HEX without echoing the input. */
export function hexToBytes(hex: string, expectedBytes?: number): Buffer<ArrayBuffer> {
  if (!isHex(hex)) throw new CryptoInputError('BAD_HEX', 'value is not an even-length hexadecimal string');
  if (expectedBytes !== undefined && hex.length !== expectedBytes * 2) {
    throw new CryptoInputError('BAD_LENGTH', `hex value must be ${expectedBytes} bytes`);
  }
  return Buffer.from(hex, 'hex');
}

/** Uppercase hex encoding (the convention of payment HSMs and specs). */
export function bytesToHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex').toUpperCase();
}
