// A token bucket for reports toward an upstream (pure: the caller passes the time). Full at
// the start; each report takes a token; tokens come back one per refill interval up to the
// capacity. Integer milliseconds only: progress towards the next token is kept exactly.

export class TokenBucket {
  private tokens: number;
  /** Time up to which refills are counted. */
  private countedUntil: number;
  private readonly capacity: number;
  private readonly refillMs: number;

  constructor(capacity: number, refillMs: number, now: number) {
    if (!(capacity >= 1) || !(refillMs > 0))
      throw new Error(`token bucket needs capacity >= 1 and refill > 0, got ${capacity}, ${refillMs}`);
    this.capacity = capacity;
    this.refillMs = refillMs;
    this.tokens = capacity;
    this.countedUntil = now;
  }

  /** Takes a token at `now` if one is there. */
  take(now: number): boolean {
    this.refill(now);
    if (this.tokens === 0) return false;
    this.tokens--;
    return true;
  }

  /** When take() next succeeds: `now` when a token is there. */
  nextTokenAt(now: number): number {
    this.refill(now);
    return this.tokens > 0 ? now : this.countedUntil + this.refillMs;
  }

  available(now: number): number {
    this.refill(now);
    return this.tokens;
  }

  private refill(now: number): void {
    if (now <= this.countedUntil) return;
    const gained = Math.floor((now - this.countedUntil) / this.refillMs);
    if (this.tokens + gained >= this.capacity) {
      this.tokens = this.capacity;
      this.countedUntil = now;
      return;
    }
    this.tokens += gained;
    this.countedUntil += gained * this.refillMs;
  }
}
