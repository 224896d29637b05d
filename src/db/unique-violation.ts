/**
 * Whether a statement failed on one of the named unique indexes or constraints (SQLSTATE 23505):
 * the conflicts a statement expects and its caller answers (another run committed the same key).
 */
export function isUniqueViolation(err: unknown, constraints: readonly string[]): boolean {
  const e = err as { code?: unknown; constraint?: unknown } | null | undefined;
  return e?.code === '23505' && typeof e.constraint === 'string' && constraints.includes(e.constraint);
}
