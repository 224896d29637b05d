import type { Refusal } from './errors.ts';

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
   * HTTP, a route with `reservesLate`): call before the first write, outside any transaction. It
   * throws RequestAnsweredBefore when the id already has its answer, and a Refusal when the id
   * came with another request or is held by a run still working; let both pass. Absent: there is
   * nothing to reserve (already reserved, or not a client request).
   *
   * A request whose answers carry its `key` (a route with `reservesInWrite`) records its id with
   * its effect, in the write's statement; it calls `reserve` only when that statement found the
   * id on file, to learn why (the same throws) or, when the id was freed meanwhile, to hold it
   * and write again with an answer that now names the holder.
   */
  reserve?: () => Promise<void>;
  /**
   * The request's answer to an outcome, made ready to be recorded (over HTTP: the response as it
   * will be sent, sealed). A write records it in the same transaction as its effect
   * (`commitAnswer` of the idempotency module), so a committed effect always has the answer a
   * retry of the request gets back. Absent: nobody waits for an answer (start-up, jobs, the CLI).
   */
  answer?: (outcome: Outcome) => Promise<RecordedAnswer>;
}

/**
 * What a write ends with: its result, or a refusal that comes with an effect of its own (a wrong
 * PIN is counted, and answered 422).
 */
export type Outcome = { result: unknown } | { refusal: Refusal };

/**
 * A request id not reserved beforehand, as its write inserts it with the answer: what a retry is
 * compared with (a fingerprint of method, path and body), the request's signature (accepted
 * once) and when the request came.
 */
export interface RequestKey {
  fingerprint: string;
  signature: string | null;
  at: Date;
}

/** An answer ready for the idempotency record of its request id. */
export interface RecordedAnswer {
  clientId: string;
  requestId: string;
  /**
   * The run of the request that holds its id: only that run may record the answer. Null for a
   * request id that was not reserved: the write inserts it, with `key`, if it is not on file.
   */
  holder: string | null;
  key?: RequestKey | undefined;
  statusCode: number;
  /** The response, encrypted at rest (it may carry card data). */
  responseSealed: string;
  /** Audit records of the request's reads and refusals so far, stored with the answer. */
  audit: unknown[];
}

/**
 * A run of a request that no longer holds its request id (its lease ended and a retry took the
 * id over): its effect must not commit. Raised inside the transaction, which then rolls back.
 */
export class RequestTakenOver extends Error {
  constructor() {
    super('the request id is held by another run of the request');
    this.name = 'RequestTakenOver';
  }
}

/**
 * The request id already has its answer on file (Actor.reserve found it): this run is a retry of
 * a request that ran before, and must stop before it writes. Carries nothing: whoever reserved
 * the id (over HTTP, the idempotency plugin) holds the answer and sends it again.
 */
export class RequestAnsweredBefore extends Error {
  constructor() {
    super('the request id was answered before');
    this.name = 'RequestAnsweredBefore';
  }
}

export const systemActor = (requestId: string): Actor => ({ clientId: 'system', requestId });

/** The same actor for work done inside another write's transaction: the outer write answers. */
export const withoutAnswer = ({ answer: _answer, ...actor }: Actor): Actor => actor;
