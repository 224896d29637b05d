/**
 * Numbers no column can hold: Infinity, -Infinity, NaN, and whole numbers past 2^53 (which have
 * lost their digits). JSON itself has no Infinity, but `1e400` parses to it, and the schema
 * validator's type coercion turns the strings "Infinity" or "1e400" into it and lets it pass an
 * integer check. Checked at the edge after validation, such a request is refused before it reaches
 * a statement, where it would fail the statement (and, batched, the other requests' rows in it).
 */
export function hasUnusableNumber(value: unknown): boolean {
  if (typeof value === 'number') return !Number.isFinite(value) || (Number.isInteger(value) && !Number.isSafeInteger(value));
  if (typeof value !== 'object' || value === null) return false;
  if (Array.isArray(value)) return value.some(hasUnusableNumber);
  for (const item of Object.values(value)) if (hasUnusableNumber(item)) return true;
  return false;
}
