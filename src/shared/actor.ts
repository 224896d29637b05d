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
  /**
   * Reserves the request id, for a request that reserves it only when it is about to write (over
   * HTTP, a route with `reservesLate`): call before the first write. It throws the stored answer
   * when the id was used before. Absent: there is nothing to reserve (already reserved, or not
   * a client request).
   */
  reserve?: () => Promise<void>;
}

export const systemActor = (requestId: string): Actor => ({ clientId: 'system', requestId });
