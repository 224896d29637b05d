/**
 * Visa-style decimalisation shared by CVV, PVV and dCVV2: scan the hex digits
 * of a cipher block left to right keeping the decimal digits 0-9; if fewer
 * than `count` were found, scan again keeping A-F converted to 0-5 (digit
 * minus 10). Return the first `count` digits.
 * (Visa CVV/PVV algorithm as documented e.g. in psec `generate_visa_pvv`
 * and pyemv `generate_cvv`.)
 */
export function decimalize(block: Uint8Array, count: number): string {
  let out = '';
  const n = block.length;
  for (let i = 0; i < n; i++) {
    const byte = block[i] as number;
    const hi = byte >> 4;
    if (hi < 10) { out += hi; if (out.length === count) return out; }
    const lo = byte & 15;
    if (lo < 10) { out += lo; if (out.length === count) return out; }
  }
  for (let i = 0; i < n; i++) {
    const byte = block[i] as number;
    const hi = byte >> 4;
    if (hi >= 10) { out += hi - 10; if (out.length === count) return out; }
    const lo = byte & 15;
    if (lo >= 10) { out += lo - 10; if (out.length === count) return out; }
  }
  return out; // only reachable if count > 2 * block.length
}

const DIGITS_RE = /^[0-9]+$/;
export function isDigits(s: unknown): s is string {
  return typeof s === 'string' && DIGITS_RE.test(s);
}
