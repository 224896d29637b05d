/**
 * PAN tokens: reversible, keyed, 19-character surrogates for card numbers.
 *
 * ============================================================================
 * Construction (version 1)
 * ============================================================================
 * Token layout (always 19 characters):
 *
 *     BIN (binLength = 6 or 8 digits) | body (m = 15 - binLength chars) | last 4 digits
 *
 * The body is over the 36-character alphabet 0-9A-Z (numeral values 0..35)
 * and is an FF1 (NIST SP 800-38G) ciphertext, radix 36, length m (9 or 7),
 * under the token key (AES-128/192/256).
 *
 * 1. Encoding the PAN middle (the digits between BIN and last four):
 *      k      = PAN length - binLength - 4       (number of middle digits)
 *      x[0]   = 10 + (PAN length - 12)           (a letter 'A'..'H' for 12..19)
 *      x[1..] = the middle digits read as a decimal integer (0 <= value < 10^k),
 *               written in base 36 on m-1 numerals.
 *    Capacity: 10^9 < 36^8 (binLength 6, k <= 9) and 10^7 < 36^6 (binLength 8,
 *    k <= 7), so the encoding is injective: x[0] fixes k, and k plus the value
 *    fix the middle digits including leading zeros. The PAN length is thus
 *    carried inside the encrypted body — it is not visible in the token
 *    (every token has 19 characters) but is recovered on detokenisation.
 *
 * 2. Tweak: T = 'T' (0x54) || version 0x01 || binLength || BIN (BCD)
 *    || last four (BCD): 7 bytes for binLength 6, 8 for binLength 8. Binding
 *    BIN and last four into the tweak makes every (BIN, last4) bucket its own
 *    independent permutation. The PAN length cannot be part of the tweak:
 *    detokenisation needs the tweak before it can learn the length; the length
 *    is instead encoded in the plaintext (step 1). The short tweak keeps each
 *    FF1 round at a single AES block (7 or 8 + b + 1 <= 16).
 *
 * 3. "Never looks like a PAN": let D = all radix-36 strings of length m and
 *    W ⊂ D the strings containing at least one letter (numeral >= 10). Every
 *    encoded plaintext x is in W (x[0] is a letter). E = FF1_K,T is a
 *    permutation of D. Tokenise by cycle-walking inside W:
 *        y = E(x); while y ∉ W: y = E(y)
 *    Detokenise:
 *        x = E^-1(y); while x ∉ W: x = E^-1(x)
 *    Proof of reversibility: D is finite and E a permutation, so the orbit of
 *    x under E is a cycle through x; since x ∈ W the forward walk stops (at
 *    the latest back at x) at the FIRST element of W after x on the cycle.
 *    Every element strictly between x and y on that cycle is outside W, so
 *    walking backwards from y with E^-1, the first element of W reached is
 *    exactly x. Hence detokenise(tokenise(x)) = x, tokenisation is injective
 *    (a permutation of W restricted to the walk), and both loops terminate.
 *    Expected extra steps are tiny: |D \ W| / |D| = (10/36)^m ≈ 1e-5 (m = 9)
 *    or 1.3e-4 (m = 7).
 *    A token whose body has no letter is rejected before decryption (no token
 *    of this scheme can look like that); a decrypted value that is not a valid
 *    encoding (wrong key, forged/mistyped token) is rejected with BAD_TOKEN.
 *
 * 4. The BIN and last four are kept in clear; the token's binLength is not
 *    encoded in it, so detokenisation must be given the same binLength (it
 *    is a per-BIN-range configuration of the issuer).
 *
 * Properties: deterministic (same key + PAN → same token, usable as a lookup
 * key), reversible with the key, always 19 characters, always at least one
 * letter in the body, BIN and last four preserved. Supported PAN lengths:
 * 12..19 digits (binLength + 4 <= PAN length).
 */
import { CryptoInputError } from './errors.ts';
import { Ff1 } from './ff1.ts';
import type { KeyInput } from './cipher.ts';
import { isDigits } from './decimalize.ts';

export const PAN_TOKEN_LENGTH = 19;
const TOKEN_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const TOKEN_RE = /^[0-9]{6}[0-9A-Z]{9}[0-9]{4}$/;

export type TokenKey = KeyInput | Ff1;

function ff1Of(key: TokenKey): Ff1 {
  return key instanceof Ff1 ? key : new Ff1(key);
}

function checkBinLength(binLength: unknown): asserts binLength is 6 | 8 {
  if (binLength !== 6 && binLength !== 8) throw new CryptoInputError('BAD_INPUT', 'BIN length must be 6 or 8');
}

function tweakFor(binLength: 6 | 8, bin: string, last4: string): Uint8Array {
  const t = new Uint8Array(3 + binLength / 2 + 2);
  t[0] = 0x54;
  t[1] = 0x01;
  t[2] = binLength;
  const digits = bin + last4;
  for (let i = 0; i < digits.length; i += 2) {
    t[3 + i / 2] = ((digits.charCodeAt(i) - 48) << 4) | (digits.charCodeAt(i + 1) - 48);
  }
  return t;
}

function hasLetter(x: readonly number[]): boolean {
  for (const v of x) if (v >= 10) return true;
  return false;
}

/** Tokenise a PAN (12..19 digits). `key`: AES key bytes, AES BlockCipher or a cached Ff1. */
export function tokenizePan(key: TokenKey, pan: string, binLength: 6 | 8 = 6): string {
  return tokenizePans(key, [pan], binLength)[0] as string;
}

/**
 * Tokenise many PANs at once (mass issue): the same tokens as tokenizePan, with the FF1 rounds of
 * all of them run together (Ff1.encryptNumeralsMany); the rare cycle-walk steps run one by one.
 */
export function tokenizePans(key: TokenKey, pans: readonly string[], binLength: 6 | 8 = 6): string[] {
  checkBinLength(binLength);
  const m = PAN_TOKEN_LENGTH - binLength - 4;
  const xs: number[][] = [];
  const tweaks: Uint8Array[] = [];
  for (const pan of pans) {
    if (!isDigits(pan) || pan.length < 12 || pan.length > 19) throw new CryptoInputError('BAD_PAN', 'PAN must be 12 to 19 digits');
    const middle = pan.slice(binLength, pan.length - 4);
    let value = middle.length === 0 ? 0 : Number(middle); // < 10^9: exact
    const x = new Array<number>(m);
    x[0] = 10 + (pan.length - 12);
    for (let i = m - 1; i >= 1; i--) { x[i] = value % 36; value = Math.floor(value / 36); }
    xs.push(x);
    tweaks.push(tweakFor(binLength, pan.slice(0, binLength), pan.slice(-4)));
  }
  const f = ff1Of(key);
  const ys = f.encryptNumeralsMany(xs, tweaks, 36);
  const tokens: string[] = [];
  for (let i = 0; i < ys.length; i++) {
    let y = ys[i] as number[];
    while (!hasLetter(y)) y = f.encryptNumerals(y, tweaks[i] as Uint8Array, 36);
    let body = '';
    for (const v of y) body += TOKEN_ALPHABET[v];
    const pan = pans[i] as string;
    tokens.push(pan.slice(0, binLength) + body + pan.slice(-4));
  }
  return tokens;
}

/** Recover the PAN from a token produced by tokenizePan with the same key and binLength. */
export function detokenizePan(key: TokenKey, token: string, binLength: 6 | 8 = 6): string {
  checkBinLength(binLength);
  if (!isPanToken(token)) throw new CryptoInputError('BAD_TOKEN', 'value is not a PAN token');
  const m = PAN_TOKEN_LENGTH - binLength - 4;
  const bin = token.slice(0, binLength);
  if (!isDigits(bin)) throw new CryptoInputError('BAD_TOKEN', 'token BIN part is not numeric for this BIN length');
  const last4 = token.slice(-4);
  const y = new Array<number>(m);
  for (let i = 0; i < m; i++) {
    const c = token.charCodeAt(binLength + i);
    y[i] = c <= 57 ? c - 48 : c - 55;
  }
  if (!hasLetter(y)) throw new CryptoInputError('BAD_TOKEN', 'value is not a PAN token');
  const f = ff1Of(key);
  const tweak = tweakFor(binLength, bin, last4);
  let x = f.decryptNumerals(y, tweak, 36);
  while (!hasLetter(x)) x = f.decryptNumerals(x, tweak, 36);
  const lenCode = (x[0] as number) - 10;
  if (lenCode < 0 || lenCode > 7) throw new CryptoInputError('BAD_TOKEN', 'token does not decrypt under this key');
  const panLength = 12 + lenCode;
  const k = panLength - binLength - 4;
  if (k < 0) throw new CryptoInputError('BAD_TOKEN', 'token does not decrypt under this key');
  let value = 0;
  for (let i = 1; i < m; i++) value = value * 36 + (x[i] as number);
  if (value >= 10 ** k) throw new CryptoInputError('BAD_TOKEN', 'token does not decrypt under this key');
  return bin + (k === 0 ? '' : String(value).padStart(k, '0')) + last4;
}

/**
 * True when `s` has the shape of a PAN token: 19 characters, 6 leading
 * digits, 9 characters of 0-9A-Z, 4 trailing digits, and at least one letter
 * (so a token can never be a PAN, and a PAN never a token).
 */
export function isPanToken(s: unknown): s is string {
  return typeof s === 'string' && TOKEN_RE.test(s) && /[A-Z]/.test(s);
}
