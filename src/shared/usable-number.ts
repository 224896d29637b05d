/**
 * Numbers no column can hold: Infinity, -Infinity, NaN, and whole numbers past 2^53 (which have
 * lost their digits). JSON itself has no Infinity, but `1e400` parses to it. Checked at the edge
 * (walked with a stack of its own, not by recursion: the value comes from a client), such a
 * request is refused before it reaches a statement, where it would fail the statement (and,
 * batched, the other requests' rows in it).
 */
export function hasUnusableNumber(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'number') {
      if (!Number.isFinite(v) || (Number.isInteger(v) && !Number.isSafeInteger(v))) return true;
    } else if (Array.isArray(v)) {
      for (const item of v) stack.push(item);
    } else if (typeof v === 'object' && v !== null) {
      for (const item of Object.values(v)) stack.push(item);
    }
  }
  return false;
}

/**
 * A whole number written as text the one way it can be: optional '-', then "0" or digits without
 * a leading zero; no sign '+', no exponent, no fraction, no spaces, no "-0". Query strings and
 * headers carry every number as text, and FirstVision clients send some body numbers as text too;
 * anything else ("Infinity", "1e400", "007", " 1", 400 digits) is refused instead of being guessed
 * at: a schema validator's type coercion (Number(text)) turns "Infinity" and "1e400" into Infinity
 * and "" into 0. 16 digits at most: past 2^53 the digits would be lost.
 */
const CANONICAL_INTEGER = /^(0|-?[1-9][0-9]{0,15})$/;
/** The same for a decimal amount: a whole part as above, and optionally '.' and 1–15 digits. */
const CANONICAL_DECIMAL = /^(-?(0|[1-9][0-9]{0,15})\.[0-9]{1,15}|0|-?[1-9][0-9]{0,15})$/;

/**
 * Whether a text that is not a canonical number spells a number no column can hold, as a type
 * coercion (Number(text)) would read it: "Infinity", "NaN", "1e400", 400 digits, 2^53 and past.
 * Such text is refused with the code of unusable numbers; other text ("abc", "007") is a plain
 * schema failure.
 */
export function spellsUnusableNumber(text: string): boolean {
  if (/^\s*[-+]?(Infinity|NaN)\s*$/.test(text)) return true;
  const n = Number(text);
  if (Number.isNaN(n) || text.trim() === '') return false;
  return !Number.isFinite(n) || (Number.isInteger(n) && !Number.isSafeInteger(n));
}

/** The integer a canonical text spells, or undefined (not canonical, or past 2^53). */
export function parseCanonicalInteger(text: string): number | undefined {
  if (!CANONICAL_INTEGER.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** The number a canonical decimal text spells ("12", "12.50", "-0.5"), or undefined. */
export function parseCanonicalDecimal(text: string): number | undefined {
  if (!CANONICAL_DECIMAL.test(text)) return undefined;
  // "-0.0" is as non-canonical as "-0": a minus sign on nothing.
  if (/^-0(\.0+)?$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isFinite(n) && Math.abs(n) <= Number.MAX_SAFE_INTEGER ? n : undefined;
}
