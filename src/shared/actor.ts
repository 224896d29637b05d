/** Who is acting, for authorization and the audit trail. */
export interface Actor {
  /** API client id, or "system" for start-up and background work. */
  clientId: string;
  /** The request id the client sent (or one made up for system work). */
  requestId: string;
  /**
   * Where the audit records of this request's reads and refusals wait (the audit module owns what
   * is in it) to be stored by the request's own last write, in the same statement, before the
   * response leaves: over HTTP, the idempotency record. Absent, they are stored at once.
   */
  auditJournal?: unknown[];
}

export const systemActor = (requestId: string): Actor => ({ clientId: 'system', requestId });
