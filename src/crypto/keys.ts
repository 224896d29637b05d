/**
 * Key utilities: DES odd parity, key check values, CMAC, clear-component
 * combination and random key generation.
 *
 * KCV conventions (both documented in ANSI X9.24-1:2017, 7.7 / Annex A):
 * - TDES ("legacy" KCV): encrypt 8 zero bytes under the key with TDES-ECB
 *   and keep the leftmost 3 bytes = 6 hex digits. This is what every payment
 *   HSM prints for DES/TDES keys.
 * - AES (default, "CMAC" KCV): AES-CMAC (NIST SP 800-38B / RFC 4493) of one
 *   block of 16 zero bytes, leftmost 5 bytes = 10 hex digits. This is the
 *   X9.24-1:2017 A.3 "CMAC-based check value", also what TR-31/ISO 20038 key
 *   blocks carry (see openemv/tr31 `crypto_aes_kcv`, which cites the same
 *   clause). Many older AES tools instead encrypt a zero block with AES-ECB
 *   and keep 3 bytes; that variant is available as `method: 'ecb'`.
 */
import { randomBytes } from 'node:crypto';
import { Buffer } from 'node:buffer';
import { CryptoInputError } from './errors.ts';
import { asAes, asTdes, bytesToHex, type BlockCipher, type KeyInput } from './cipher.ts';

function oddParityByte(b: number): number {
  // Set bit 0 so that the byte has an odd number of 1 bits.
  let v = b & 0xfe;
  v ^= v >> 4; v ^= v >> 2; v ^= v >> 1;
  return (b & 0xfe) | ((v & 1) ^ 1);
}

/** True when every byte has an odd number of set bits (DES key parity). */
export function hasOddParity(key: Uint8Array): boolean {
  for (let i = 0; i < key.length; i++) if (oddParityByte(key[i] as number) !== key[i]) return false;
  return true;
}

/** Copy of `key` with the low bit of each byte set for odd parity. */
export function adjustOddParity(key: Uint8Array): Buffer<ArrayBuffer> {
  const out = Buffer.allocUnsafe(key.length);
  for (let i = 0; i < key.length; i++) out[i] = oddParityByte(key[i] as number);
  return out;
}

function shiftLeftOne(block: Buffer, rb: number): Buffer<ArrayBuffer> {
  const out = Buffer.allocUnsafe(block.length);
  let carry = 0;
  for (let i = block.length - 1; i >= 0; i--) {
    const b = block[i] as number;
    out[i] = ((b << 1) & 0xff) | carry;
    carry = b >> 7;
  }
  if (carry) out[block.length - 1] = (out[block.length - 1] as number) ^ rb;
  return out;
}

/**
 * CMAC (NIST SP 800-38B) over any BlockCipher: Rb = 0x87 for 128-bit blocks
 * (AES-CMAC, RFC 4493), 0x1B for 64-bit blocks (TDES-CMAC). Full-length tag.
 */
export function cmac(cipher: BlockCipher, message: Uint8Array): Buffer<ArrayBuffer> {
  const bs = cipher.blockSize;
  const rb = bs === 16 ? 0x87 : 0x1b;
  const l = cipher.encryptBlock(Buffer.alloc(bs));
  const k1 = shiftLeftOne(l, rb);
  const k2 = shiftLeftOne(k1, rb);
  const nBlocks = message.length === 0 ? 1 : Math.ceil(message.length / bs);
  const complete = message.length > 0 && message.length % bs === 0;
  let x = Buffer.alloc(bs);
  for (let j = 0; j < nBlocks; j++) {
    const y = Buffer.alloc(bs);
    const start = j * bs;
    const chunk = message.subarray(start, Math.min(start + bs, message.length));
    y.set(chunk);
    if (j === nBlocks - 1) {
      if (complete) { for (let i = 0; i < bs; i++) y[i] = (y[i] as number) ^ (k1[i] as number); }
      else {
        y[chunk.length] = 0x80;
        for (let i = 0; i < bs; i++) y[i] = (y[i] as number) ^ (k2[i] as number);
      }
    }
    for (let i = 0; i < bs; i++) y[i] = (y[i] as number) ^ (x[i] as number);
    x = cipher.encryptBlock(y);
  }
  return x;
}

/** AES-CMAC (RFC 4493) with a raw key or AES BlockCipher. */
export function aesCmac(key: KeyInput, message: Uint8Array): Buffer<ArrayBuffer> {
  return cmac(asAes(key), message);
}

/** TDES KCV: leftmost `bytes` (default 3) of TDES-ECB(key, 8 zero bytes), uppercase hex. */
export function tdesKcv(key: KeyInput, bytes = 3): string {
  if (!Number.isInteger(bytes) || bytes < 1 || bytes > 8) throw new CryptoInputError('BAD_INPUT', 'KCV length must be 1..8 bytes');
  return bytesToHex(asTdes(key).encryptBlock(Buffer.alloc(8)).subarray(0, bytes));
}

export interface AesKcvOptions {
  /** 'cmac' (default, ANSI X9.24-1:2017 A.3, 5 bytes) or 'ecb' (legacy: AES-ECB of a zero block, 3 bytes). */
  method?: 'cmac' | 'ecb';
  /** Override the number of bytes kept (default 5 for cmac, 3 for ecb). */
  bytes?: number;
}

/** AES KCV, uppercase hex. See the module comment for the conventions. */
export function aesKcv(key: KeyInput, options: AesKcvOptions = {}): string {
  const method = options.method ?? 'cmac';
  const bytes = options.bytes ?? (method === 'cmac' ? 5 : 3);
  if (!Number.isInteger(bytes) || bytes < 1 || bytes > 16) throw new CryptoInputError('BAD_INPUT', 'KCV length must be 1..16 bytes');
  const zero = Buffer.alloc(16);
  const out = method === 'cmac' ? aesCmac(key, zero) : asAes(key).encryptBlock(zero);
  return bytesToHex(out.subarray(0, bytes));
}

export interface CombineOptions {
  /** Force odd parity on the result (use for DES/TDES keys). Default false. */
  oddParity?: boolean;
}

/**
 * Combine 2 or 3 clear key components by XOR. Components must all have the
 * same length, 16, 24 or 32 bytes. Note: XOR of an even number of
 * odd-parity components has even parity; pass `oddParity: true` for TDES.
 * Rejects a combined key of all zero bytes (e.g. two identical components).
 */
export function combineKeyComponents(components: readonly Uint8Array[], options: CombineOptions = {}): Buffer<ArrayBuffer> {
  if (!Array.isArray(components) || components.length < 2 || components.length > 3) {
    throw new CryptoInputError('BAD_INPUT', 'between 2 and 3 key components are required');
  }
  const len = components[0]?.length ?? 0;
  if (len !== 16 && len !== 24 && len !== 32) throw new CryptoInputError('BAD_KEY', 'key components must be 16, 24 or 32 bytes');
  const out = Buffer.alloc(len);
  for (const c of components) {
    if (!(c instanceof Uint8Array) || c.length !== len) throw new CryptoInputError('BAD_KEY', 'key components must all have the same length');
    for (let i = 0; i < len; i++) out[i] = (out[i] as number) ^ (c[i] as number);
  }
  const result = options.oddParity ? adjustOddParity(out) : out;
  const zeroish = options.oddParity ? adjustOddParity(Buffer.alloc(len)) : Buffer.alloc(len);
  if (result.equals(zeroish)) throw new CryptoInputError('WEAK_KEY', 'combined key is degenerate (components cancel out)');
  // A TDES result of one repeated nibble (all F: FEFE…FE with parity) is a weak key twice over.
  const weakness = options.oddParity && len !== 32 ? tdesKeyWeakness(result) : undefined;
  if (weakness) throw new CryptoInputError('WEAK_KEY', `combined key: ${weakness}`);
  return result;
}

/**
 * The four weak and twelve semi-weak DES keys, as listed in NIST SP 800-67 Rev. 2 (Recommendation
 * for the Triple Data Encryption Algorithm Block Cipher), §3.3.2, written with odd parity. Under a
 * weak key encryption is its own inverse; a semi-weak key has a twin that decrypts what it
 * encrypts. Compared with the parity bits cleared (the low bit of each byte), since DES ignores them.
 */
const DES_WEAK_KEYS: ReadonlySet<string> = new Set([
  // weak
  '0101010101010101', 'FEFEFEFEFEFEFEFE', 'E0E0E0E0F1F1F1F1', '1F1F1F1F0E0E0E0E',
  // semi-weak, in pairs
  '011F011F010E010E', '1F011F010E010E01', '01E001E001F101F1', 'E001E001F101F101',
  '01FE01FE01FE01FE', 'FE01FE01FE01FE01', '1FE01FE00EF10EF1', 'E01FE01FF10EF10E',
  '1FFE1FFE0EFE0EFE', 'FE1FFE1FFE0EFE0E', 'E0FEE0FEF1FEF1FE', 'FEE0FEE0FEF1FEF1',
].map((k) => withoutParity(Buffer.from(k, 'hex'))));

function withoutParity(part: Uint8Array): string {
  return Buffer.from(part.map((b) => b & 0xfe)).toString('hex');
}

/**
 * Why a DES/TDES key (8, 16 or 24 bytes) must not be used, or undefined: one of its 8-byte parts
 * is a DES weak or semi-weak key, or it degrades to single DES — K1 = K2 (E_K3 D_K2 E_K1 is then
 * E_K3), or K2 = K3 in a three-key key. K1 = K3 alone is ordinary two-key TDES. Parity bits are
 * ignored. The reason names no key bytes.
 */
export function tdesKeyWeakness(key: Uint8Array): string | undefined {
  const parts = [];
  for (let i = 0; i + 8 <= key.length; i += 8) parts.push(withoutParity(key.subarray(i, i + 8)));
  if (parts.some((p) => DES_WEAK_KEYS.has(p))) return 'the key is (or contains) a DES weak or semi-weak key';
  if (parts.length >= 2 && (parts[0] === parts[1] || (parts.length === 3 && parts[1] === parts[2]))) {
    return 'the key has equal parts and would be single DES';
  }
  return undefined;
}

export type KeyKind = 'tdes-2key' | 'tdes-3key' | 'aes-128' | 'aes-192' | 'aes-256';

/**
 * Random key from crypto.randomBytes. TDES keys get odd parity, distinct 8-byte halves/thirds
 * (so they never degrade to single DES) and no weak part (tdesKeyWeakness): such a draw is redrawn.
 */
export function generateKey(kind: KeyKind, rng: (n: number) => Buffer<ArrayBuffer> = randomBytes): Buffer<ArrayBuffer> {
  switch (kind) {
    case 'aes-128': return rng(16);
    case 'aes-192': return rng(24);
    case 'aes-256': return rng(32);
    case 'tdes-2key':
    case 'tdes-3key': {
      const n = kind === 'tdes-2key' ? 16 : 24;
      for (;;) {
        const k = adjustOddParity(rng(n));
        const p1 = k.subarray(0, 8), p3 = k.subarray(16, 24);
        if (tdesKeyWeakness(k) || (n === 24 && p1.equals(p3))) continue;
        return k;
      }
    }
    default:
      throw new CryptoInputError('BAD_INPUT', 'unknown key kind');
  }
}

// ---------------------------------------------------------------------------
// Convenience names used by the security module.

/** Alias of adjustOddParity. */
export const withOddParity = adjustOddParity;

/**
 * Lenient combination used when importing keys: 1 to 3 clear components of
 * equal length (16..64 bytes, so HMAC keys work too), XORed together. One
 * component means the clear key itself (a copy is returned). For the strict
 * 2-or-3-component TDES/AES ceremony use combineKeyComponents.
 */
export function combineComponents(components: readonly Uint8Array[]): Buffer<ArrayBuffer> {
  if (!Array.isArray(components) || components.length < 1 || components.length > 3) {
    throw new CryptoInputError('BAD_INPUT', 'between 1 and 3 key components are required');
  }
  const len = components[0]?.length ?? 0;
  if (len < 16 || len > 64) throw new CryptoInputError('BAD_KEY', 'key components must be 16 to 64 bytes');
  const out = Buffer.alloc(len);
  for (const c of components) {
    if (!(c instanceof Uint8Array) || c.length !== len) throw new CryptoInputError('BAD_KEY', 'key components must all have the same length');
    for (let i = 0; i < len; i++) out[i] = (out[i] as number) ^ (c[i] as number);
  }
  return out;
}

/**
 * KCV by algorithm name: '3des'/'tdes' → 6 hex digits (TDES-ECB of zeros);
 * 'aes' → 10 hex digits (AES-CMAC of a zero block, ANSI X9.24-1:2017 A.3).
 */
export function keyCheckValue(key: KeyInput, algorithm: '3des' | 'tdes' | 'aes'): string {
  if (algorithm === 'aes') return aesKcv(key);
  if (algorithm === '3des' || algorithm === 'tdes') return tdesKcv(key);
  throw new CryptoInputError('BAD_INPUT', 'unknown key algorithm for KCV');
}
