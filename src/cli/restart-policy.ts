export interface RestartPolicyOptions {
  /** Wait before the first restart after a process died, doubled at each further death… */
  firstDelayMs: number;
  /** …up to this. */
  maxDelayMs: number;
  /** A process that served this long before it died counts as healthy: the wait starts over. */
  stableAfterMs: number;
  /** Starts in a row that never reached listening, with no other process serving: give up. */
  maxFailedStarts: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicyOptions = { firstDelayMs: 1000, maxDelayMs: 30_000, stableAfterMs: 30_000, maxFailedStarts: 10 };

export type RestartDecision = { restartInMs: number } | { giveUp: true };

/**
 * When to start an API process again after one ended, as a pure function of what happened (the
 * primary feeds it events; tests feed it times). Backoff, so a process that dies at once (a bad
 * deployment, a database refusing connections) is not restarted in a tight loop; reset once a
 * process has served a while; and an end to trying only when nothing can serve at all.
 */
export class RestartPolicy {
  private nextDelayMs: number;
  private failedStarts = 0;

  constructor(private readonly options: RestartPolicyOptions = DEFAULT_RESTART_POLICY) {
    this.nextDelayMs = options.firstDelayMs;
  }

  /** A process came up and listens. */
  listening(): void {
    this.failedStarts = 0;
  }

  /**
   * A process ended. `servedMs`: how long it had been listening (undefined: it never listened);
   * `othersListening`: how many processes serve now.
   */
  exited(servedMs: number | undefined, othersListening: number): RestartDecision {
    if (servedMs === undefined) {
      this.failedStarts++;
      if (this.failedStarts >= this.options.maxFailedStarts && othersListening === 0) return { giveUp: true };
    } else if (servedMs >= this.options.stableAfterMs) {
      this.nextDelayMs = this.options.firstDelayMs;
    }
    const restartInMs = this.nextDelayMs;
    this.nextDelayMs = Math.min(this.options.maxDelayMs, this.nextDelayMs * 2);
    return { restartInMs };
  }

  /** Starts in a row that never reached listening. */
  get failedInARow(): number {
    return this.failedStarts;
  }
}
