/**
 * The one redaction rule for logs, error texts and audit records.
 *
 * - Fields whose names say they hold a secret (PIN, PIN block, CVV family, keys, secrets,
 *   passwords, bearer tokens, signatures, track data) are replaced by "[REDACTED]" whatever
 *   their value.
 * - Fields that hold a card number keep only the first six and last four digits.
 * - In any other text, a run of 13–19 digits that passes the Luhn check is masked the same way,
 *   and a run of 16 or more hex characters (a key, a PIN block, a cryptogram) is replaced.
 */

const SECRET_FIELD = /(^|[-_])(pin|pins|pinblock|pin_block|pinencrypt|newpin|oldpin|cvv|cvv2|icvv|cvc|cvc2|dcvv2|ud[123]ec|key|keys|components|component|secret|client_secret|clientsecret|password|authorization|access_token|accesstoken|signature|x-hmac-signature|track1|track2|encryptedtrack1|encryptedtrack2|masterkey|master_key|embosserblockdata)$/i;
const SECRET_SUFFIX = /(pinblock|pinencrypt|secret|password|signature|masterkey|keyblock|key_block|cvv2?|track[12])$/i;
const CARD_FIELD = /^(cardnumber|card_number|pan|card-number|customeraccountcardnumber)$/i;

export const REDACTED = '[REDACTED]';

export function maskPan(pan: string): string {
  if (pan.length < 10) return '*'.repeat(pan.length);
  return pan.slice(0, 6) + '*'.repeat(pan.length - 10) + pan.slice(-4);
}

function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) { d *= 2; if (d > 9) d -= 9; }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

const DIGIT_RUN = /(?<![0-9])[0-9]{13,19}(?![0-9])/g;
const HEX_RUN = /(?<![0-9A-Za-z])[0-9A-Fa-f]{16,}(?![0-9A-Za-z])/g;

export function redactText(text: string): string {
  return text
    .replace(DIGIT_RUN, (run) => (luhnValid(run) ? maskPan(run) : run))
    .replace(HEX_RUN, (run) => (/[0-9]/.test(run) && !/^[0-9]+$/.test(run) ? REDACTED : run));
}

function isSecretField(name: string): boolean {
  return SECRET_FIELD.test(name) || SECRET_SUFFIX.test(name);
}

/** A redacted deep copy of any value, safe to log or store in an audit record. */
export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactText(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth > 8) return '[…]';
  if (value instanceof Date) return value;
  if (value instanceof Error) return redactError(value);
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return REDACTED;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (isSecretField(k)) out[k] = v === undefined || v === null || v === '' ? v : REDACTED;
    else if (CARD_FIELD.test(k) && typeof v === 'string') out[k] = /^[0-9]{10,19}$/.test(v) ? maskPan(v) : redactText(v);
    else out[k] = redact(v, depth + 1);
  }
  return out;
}

export function redactError(err: Error): { type: string; message: string; stack?: string; code?: string } {
  const code = (err as { code?: unknown }).code;
  return {
    type: err.name,
    message: redactText(err.message),
    ...(err.stack ? { stack: redactText(err.stack) } : {}),
    ...(typeof code === 'string' ? { code } : {}),
  };
}
