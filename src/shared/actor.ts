/** Who is acting, for authorization and the audit trail. */
export interface Actor {
  /** API client id, or "system" for start-up and background work. */
  clientId: string;
  /** The request id the client sent (or one made up for system work). */
  requestId: string;
}

export const systemActor = (requestId: string): Actor => ({ clientId: 'system', requestId });
