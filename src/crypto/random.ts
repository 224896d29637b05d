/**
 * Fast CSPRNG bytes for small requests.
 *
 * `crypto.randomBytes(n)` has a fixed per-call cost of ~1-2 µs, which
 * dominates when only 8-12 bytes are needed (PIN-block fill, GCM IVs). This
 * helper draws 4 KiB at a time with `crypto.randomFillSync` and hands out
 * slices; every byte is handed out once and wiped from the pool when taken.
 * The output is exactly as unpredictable as randomBytes' (same OpenSSL CSPRNG).
 * Requests above 256 bytes go straight to randomBytes.
 */
import { randomBytes, randomFillSync } from 'node:crypto';
import { Buffer } from 'node:buffer';

const POOL_SIZE = 4096;
const pool = Buffer.alloc(POOL_SIZE);
let pos = POOL_SIZE;

/** `n` cryptographically secure random bytes (fresh Buffer). */
export function secureRandomBytes(n: number): Buffer<ArrayBuffer> {
  if (!Number.isInteger(n) || n < 0) throw new RangeError('byte count must be a non-negative integer');
  if (n > 256) return randomBytes(n);
  if (pos + n > POOL_SIZE) {
    randomFillSync(pool);
    pos = 0;
  }
  const out = Buffer.allocUnsafe(n);
  pool.copy(out, 0, pos, pos + n);
  pool.fill(0, pos, pos + n);
  pos += n;
  return out;
}
