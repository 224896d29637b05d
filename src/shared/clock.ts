/** The time source every service uses, so tests can move time instead of waiting. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** A clock tests can set and advance. */
export class ManualClock implements Clock {
  constructor(private current = new Date()) {}
  now() { return new Date(this.current); }
  set(at: Date) { this.current = new Date(at); }
  advance(ms: number) { this.current = new Date(this.current.getTime() + ms); }
}
