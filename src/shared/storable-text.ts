/**
 * Text PostgreSQL cannot store: a NUL character (refused in any text value) or an unpaired UTF-16
 * surrogate (refused in JSON, and turned into U+FFFD in text). JSON escapes (\u0000, \ud800),
 * percent-encoded form fields and query strings and Base64 credentials can all carry one; checked
 * at the edge, such a request is refused before it reaches a statement, where it would fail the
 * statement (and, batched, the other requests' rows in it).
 */
const UNSTORABLE = /\0|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Whether any string in the value (nested in objects and arrays, keys included) cannot be stored. */
export function hasUnstorableText(value: unknown): boolean {
  if (typeof value === 'string') return UNSTORABLE.test(value);
  if (typeof value !== 'object' || value === null) return false;
  if (Array.isArray(value)) return value.some(hasUnstorableText);
  for (const [key, item] of Object.entries(value)) if (UNSTORABLE.test(key) || hasUnstorableText(item)) return true;
  return false;
}
