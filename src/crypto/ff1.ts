/**
 * NIST SP 800-38G (Rev. 1) FF1 format-preserving encryption over AES-128/192/256,
 * radix 2..36. Numeral strings are either arrays of numerals (0..radix-1) or
 * strings over the alphabet 0-9a-z (input case-insensitive, output lower case).
 *
 * Implementation notes
 * - PRF(X) = CBC-MAC with zero IV = repeated AES-ECB on (block XOR state), done
 *   with one reusable ECB cipher object (see cipher.ts). CIPH(P) depends only on
 *   (radix, n, tweak length) and is cached per Ff1 instance; the Q blocks made
 *   only of tweak/zero padding are folded into the chaining state once per call,
 *   so each of the 10 rounds costs ceil((b+1+rest)/16) AES blocks — one block
 *   when the tweak is short (tweak length + b + 1 <= 16).
 * - S = R || CIPH(R^1) || CIPH(R^2)...: the extra blocks are independent and
 *   computed in one ECB call.
 * - NUM/STR conversions: when radix^v <= 2^45 every intermediate value fits in
 *   a double exactly (y mod radix^m is reduced byte by byte: acc*256+255 < 2^53),
 *   so plain numbers are used; otherwise BigInt. The half-strings A and B are
 *   kept as integers across rounds (NUM(STR(c)) = c), converted to numerals
 *   only at the end.
 * - Domain check per Rev. 1: radix^n >= 1,000,000, n >= 2.
 */
import { Buffer } from 'node:buffer';
import { CryptoInputError } from './errors.ts';
import { asAes, type BlockCipher, type KeyInput } from './cipher.ts';

export const FF1_ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';
const FAST_LIMIT = 2 ** 45;
const EMPTY = new Uint8Array(0);

interface Setup {
  u: number;
  v: number;
  b: number;
  d: number;
  qLen: number;
  /** Number of leading Q bytes made only of tweak and zero pad. */
  constLen: number;
  /** CIPH(P): CBC-MAC state after the P block. */
  pState: Buffer;
  fast: boolean;
  modU: number;
  modV: number;
  bigModU: bigint;
  bigModV: bigint;
}

function pow(radix: number, e: number): bigint {
  return BigInt(radix) ** BigInt(e);
}

export class Ff1 {
  readonly #cipher: BlockCipher;
  readonly #setups = new Map<string, Setup>();

  /** `key`: 16/24/32-byte AES key, or an AES BlockCipher from cipher.ts. */
  constructor(key: KeyInput) {
    this.#cipher = asAes(key);
  }

  encrypt(x: string, tweak?: Uint8Array, radix?: number): string;
  encrypt(x: readonly number[], tweak?: Uint8Array, radix?: number): number[];
  encrypt(x: string | readonly number[], tweak: Uint8Array = EMPTY, radix = 10): string | number[] {
    return typeof x === 'string'
      ? numeralsToString(this.encryptNumerals(stringToNumerals(x, radix), tweak, radix))
      : this.encryptNumerals(x, tweak, radix);
  }

  decrypt(x: string, tweak?: Uint8Array, radix?: number): string;
  decrypt(x: readonly number[], tweak?: Uint8Array, radix?: number): number[];
  decrypt(x: string | readonly number[], tweak: Uint8Array = EMPTY, radix = 10): string | number[] {
    return typeof x === 'string'
      ? numeralsToString(this.decryptNumerals(stringToNumerals(x, radix), tweak, radix))
      : this.decryptNumerals(x, tweak, radix);
  }

  encryptNumerals(x: readonly number[], tweak: Uint8Array, radix: number): number[] {
    return this.#run(x, tweak, radix, false);
  }

  decryptNumerals(x: readonly number[], tweak: Uint8Array, radix: number): number[] {
    return this.#run(x, tweak, radix, true);
  }

  #setup(radix: number, n: number, t: number): Setup {
    const id = `${radix}:${n}:${t}`;
    let s = this.#setups.get(id);
    if (s !== undefined) return s;
    const u = n >> 1;
    const v = n - u;
    const bigModU = pow(radix, u);
    const bigModV = pow(radix, v);
    const b = Math.ceil((bigModV - 1n).toString(2).length / 8);
    const d = 4 * Math.ceil(b / 4) + 4;
    const pad = (((-t - b - 1) % 16) + 16) % 16;
    const qLen = t + pad + 1 + b;
    const p = Buffer.alloc(16);
    p[0] = 1; p[1] = 2; p[2] = 1;
    p[3] = (radix >> 16) & 0xff; p[4] = (radix >> 8) & 0xff; p[5] = radix & 0xff;
    p[6] = 10; p[7] = u & 0xff;
    p.writeUInt32BE(n >>> 0, 8);
    p.writeUInt32BE(t >>> 0, 12);
    const fast = bigModV <= BigInt(FAST_LIMIT);
    s = {
      u, v, b, d, qLen, constLen: qLen - b - 1,
      pState: this.#cipher.encryptBlock(p),
      fast,
      modU: fast ? Number(bigModU) : 0,
      modV: fast ? Number(bigModV) : 0,
      bigModU, bigModV,
    };
    if (this.#setups.size >= 256) this.#setups.clear();
    this.#setups.set(id, s);
    return s;
  }

  /**
   * FF1 encryption of many inputs under one key, each with its own tweak: equal to
   * `xs.map((x, i) => encryptNumerals(x, tweaks[i], radix))`. When every input has the same
   * length and tweak length, and each round's PRF is a single AES block on the fast path (short
   * tweak, radix^v <= 2^45, d <= 16 — PAN tokens are), the inputs run their ten rounds in lockstep
   * and each round is one ECB call over all of them (ECB encrypts each block on its own, so
   * that is exactly each input's own PRF), instead of one cipher call per input and round.
   * Anything else runs input by input.
   */
  encryptNumeralsMany(xs: ReadonlyArray<readonly number[]>, tweaks: readonly Uint8Array[], radix: number): number[][] {
    if (!Array.isArray(xs) || !Array.isArray(tweaks) || tweaks.length !== xs.length) throw new CryptoInputError('BAD_INPUT', 'FF1 batch needs one tweak per input');
    const count = xs.length;
    if (count === 0) return [];
    for (let i = 0; i < count; i++) checkInput(xs[i] as readonly number[], tweaks[i] as Uint8Array, radix);
    const n = (xs[0] as readonly number[]).length;
    const t = (tweaks[0] as Uint8Array).length;
    const s = this.#setup(radix, n, t);
    let lockstep = s.fast && s.qLen === 16 && s.d <= 16;
    for (let i = 0; i < count && lockstep; i++) lockstep = (xs[i] as readonly number[]).length === n && (tweaks[i] as Uint8Array).length === t;
    if (!lockstep) {
      const each: number[][] = [];
      for (let i = 0; i < count; i++) each.push(this.#run(xs[i] as readonly number[], tweaks[i] as Uint8Array, radix, false));
      return each;
    }

    const { u, d, constLen, modU, modV, pState } = s;
    const a = new Float64Array(count);
    const bv = new Float64Array(count);
    // Each input's PRF block is CIPH(P) XOR Q; Q's leading constLen bytes (tweak, zero pad) never change.
    const fixed = Buffer.allocUnsafe(16 * count);
    for (let i = 0; i < count; i++) {
      const x = xs[i] as readonly number[];
      let av = 0;
      let b = 0;
      for (let k = 0; k < u; k++) av = av * radix + (x[k] as number);
      for (let k = u; k < n; k++) b = b * radix + (x[k] as number);
      a[i] = av;
      bv[i] = b;
      const tweak = tweaks[i] as Uint8Array;
      for (let k = 0; k < constLen; k++) fixed[16 * i + k] = (k < t ? (tweak[k] as number) : 0) ^ (pState[k] as number);
    }
    const blocks = Buffer.allocUnsafe(16 * count);
    for (let r = 0; r < 10; r++) {
      fixed.copy(blocks);
      const roundByte = r ^ (pState[constLen] as number);
      for (let i = 0, o = 0; i < count; i++, o += 16) {
        blocks[o + constLen] = roundByte;
        let w = bv[i] as number;
        for (let k = 15; k > constLen; k--) { blocks[o + k] = (w % 256) ^ (pState[k] as number); w = Math.floor(w / 256); }
      }
      const out = this.#cipher.encryptBlock(blocks);
      const mod = (r & 1) === 0 ? modU : modV;
      for (let i = 0, o = 0; i < count; i++, o += 16) {
        let y = 0;
        for (let k = 0; k < d; k++) y = (y * 256 + (out[o + k] as number)) % mod;
        const c = ((a[i] as number) + y) % mod;
        a[i] = bv[i] as number;
        bv[i] = c;
      }
      out.fill(0);
    }
    blocks.fill(0);
    const out: number[][] = [];
    for (let i = 0; i < count; i++) out.push([...toNumerals(a[i] as number, u, radix), ...toNumerals(bv[i] as number, n - u, radix)]);
    return out;
  }

  #run(x: readonly number[], tweak: Uint8Array, radix: number, decrypt: boolean): number[] {
    checkInput(x, tweak, radix);
    const n = x.length;
    const t = tweak.length;
    const s = this.#setup(radix, n, t);
    const cipher = this.#cipher;
    const { u, b, d, qLen, constLen } = s;

    // Q buffer: tweak || zero pad || [round] || NUM(B) (b bytes).
    const q = Buffer.alloc(qLen);
    q.set(tweak, 0);
    // Fold the constant leading whole blocks of Q into the CBC-MAC state.
    const constBlocks = Math.floor(constLen / 16);
    let state = s.pState;
    for (let j = 0; j < constBlocks; j++) {
      const blk = Buffer.allocUnsafe(16);
      for (let k = 0; k < 16; k++) blk[k] = (q[j * 16 + k] as number) ^ (state[k] as number);
      state = cipher.encryptBlock(blk);
    }
    const varStart = constBlocks * 16;
    const extra = Math.ceil(d / 16) - 1;
    const sExtra = extra > 0 ? Buffer.allocUnsafe(16 * extra) : undefined;
    const blk = Buffer.allocUnsafe(16);

    const prf = (): Buffer => {
      let y = state;
      for (let off = varStart; off < qLen; off += 16) {
        for (let k = 0; k < 16; k++) blk[k] = (q[off + k] as number) ^ (y[k] as number);
        y = cipher.encryptBlock(blk);
      }
      if (sExtra === undefined) return y;
      for (let j = 1; j <= extra; j++) {
        y.copy(sExtra, (j - 1) * 16);
        const o = (j - 1) * 16;
        sExtra[o + 12] = (sExtra[o + 12] as number) ^ ((j >>> 24) & 0xff);
        sExtra[o + 13] = (sExtra[o + 13] as number) ^ ((j >>> 16) & 0xff);
        sExtra[o + 14] = (sExtra[o + 14] as number) ^ ((j >>> 8) & 0xff);
        sExtra[o + 15] = (sExtra[o + 15] as number) ^ (j & 0xff);
      }
      return Buffer.concat([y, cipher.encryptBlock(sExtra)]);
    };

    if (s.fast) {
      const { modU, modV } = s;
      let a = 0;
      let bv = 0;
      for (let i = 0; i < u; i++) a = a * radix + (x[i] as number);
      for (let i = u; i < n; i++) bv = bv * radix + (x[i] as number);
      for (let r = 0; r < 10; r++) {
        const i = decrypt ? 9 - r : r;
        q[constLen] = i;
        let w = decrypt ? a : bv;
        for (let k = qLen - 1; k > constLen; k--) { q[k] = w % 256; w = Math.floor(w / 256); }
        const sBuf = prf();
        const mod = (i & 1) === 0 ? modU : modV;
        let y = 0;
        for (let k = 0; k < d; k++) y = (y * 256 + (sBuf[k] as number)) % mod;
        if (decrypt) { const c = (bv - y + mod) % mod; bv = a; a = c; }
        else { const c = (a + y) % mod; a = bv; bv = c; }
      }
      return [...toNumerals(a, u, radix), ...toNumerals(bv, n - u, radix)];
    }

    const bigRadix = BigInt(radix);
    let a = 0n;
    let bv = 0n;
    for (let i = 0; i < u; i++) a = a * bigRadix + BigInt(x[i] as number);
    for (let i = u; i < n; i++) bv = bv * bigRadix + BigInt(x[i] as number);
    for (let r = 0; r < 10; r++) {
      const i = decrypt ? 9 - r : r;
      q[constLen] = i;
      const w = decrypt ? a : bv;
      Buffer.from(w.toString(16).padStart(2 * b, '0'), 'hex').copy(q, constLen + 1);
      const sBuf = prf();
      const mod = (i & 1) === 0 ? s.bigModU : s.bigModV;
      const y = BigInt('0x' + sBuf.toString('hex', 0, d)) % mod;
      if (decrypt) { const c = (((bv - y) % mod) + mod) % mod; bv = a; a = c; }
      else { const c = (a + y) % mod; a = bv; bv = c; }
    }
    return [...bigToNumerals(a, u, bigRadix), ...bigToNumerals(bv, n - u, bigRadix)];
  }
}

/** The checks of SP 800-38G on one input: radix, tweak type, length (domain size) and numerals. */
function checkInput(x: readonly number[], tweak: Uint8Array, radix: number): void {
  if (!Number.isInteger(radix) || radix < 2 || radix > 36) throw new CryptoInputError('BAD_RADIX', 'FF1 radix must be an integer from 2 to 36');
  if (!(tweak instanceof Uint8Array)) throw new CryptoInputError('BAD_TWEAK', 'FF1 tweak must be a byte array');
  if (!Array.isArray(x)) throw new CryptoInputError('BAD_INPUT', 'FF1 input must be a numeral array or string');
  const n = x.length;
  if (n < 2 || radix ** n < 1_000_000) throw new CryptoInputError('BAD_LENGTH', 'FF1 input too short: radix^length must be at least 1,000,000');
  for (let i = 0; i < n; i++) {
    const c = x[i];
    if (!Number.isInteger(c) || (c as number) < 0 || (c as number) >= radix) throw new CryptoInputError('BAD_RADIX', 'FF1 numeral out of range for the radix');
  }
}

function toNumerals(value: number, m: number, radix: number): number[] {
  const out = new Array<number>(m);
  for (let i = m - 1; i >= 0; i--) { out[i] = value % radix; value = Math.floor(value / radix); }
  return out;
}

function bigToNumerals(value: bigint, m: number, radix: bigint): number[] {
  const out = new Array<number>(m);
  for (let i = m - 1; i >= 0; i--) { out[i] = Number(value % radix); value /= radix; }
  return out;
}

/** Numerals of a string over 0-9a-z (case-insensitive). */
export function stringToNumerals(s: string, radix: number): number[] {
  if (typeof s !== 'string') throw new CryptoInputError('BAD_INPUT', 'FF1 input must be a numeral array or string');
  const out = new Array<number>(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i) | 0x20; // ASCII lower-case fold
    const v = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 122 ? c - 87 : 99;
    if (s.charCodeAt(i) < 48 || v >= radix) throw new CryptoInputError('BAD_RADIX', 'FF1 input contains a character outside the radix alphabet');
    out[i] = v;
  }
  return out;
}

export function numeralsToString(x: readonly number[]): string {
  let s = '';
  for (const v of x) s += FF1_ALPHABET[v];
  return s;
}

/** One-shot FF1 encryption. Pass an Ff1 instance (cached per key) in hot paths. */
export function ff1Encrypt(key: KeyInput | Ff1, tweak: Uint8Array, radix: number, x: string): string;
export function ff1Encrypt(key: KeyInput | Ff1, tweak: Uint8Array, radix: number, x: readonly number[]): number[];
export function ff1Encrypt(key: KeyInput | Ff1, tweak: Uint8Array, radix: number, x: string | readonly number[]): string | number[] {
  const f = key instanceof Ff1 ? key : new Ff1(key as KeyInput);
  return typeof x === 'string' ? f.encrypt(x, tweak, radix) : f.encrypt(x, tweak, radix);
}

/** One-shot FF1 decryption. */
export function ff1Decrypt(key: KeyInput | Ff1, tweak: Uint8Array, radix: number, x: string): string;
export function ff1Decrypt(key: KeyInput | Ff1, tweak: Uint8Array, radix: number, x: readonly number[]): number[];
export function ff1Decrypt(key: KeyInput | Ff1, tweak: Uint8Array, radix: number, x: string | readonly number[]): string | number[] {
  const f = key instanceof Ff1 ? key : new Ff1(key as KeyInput);
  return typeof x === 'string' ? f.decrypt(x, tweak, radix) : f.decrypt(x, tweak, radix);
}

