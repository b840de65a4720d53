// The longest time a stream went without a packet: what a viewer sees as a frozen picture.
// Sequence gaps (stream-payload.ts) count packets; this measures time, so a stall of the
// whole stream (no packet skipped, just none sent on) shows too.
export class SilenceTracker {
  private lastAt: number | undefined;
  /** Longest time between two consecutive packets, in ms (0 before the second packet). */
  longestMs = 0;
  /** When the longest silence ended (the packet after it), on the same clock. */
  longestEndedAt: number | undefined;

  /** Counts a packet that arrived at `atMs`. */
  record(atMs: number): void {
    if (this.lastAt !== undefined && atMs - this.lastAt > this.longestMs) {
      this.longestMs = atMs - this.lastAt;
      this.longestEndedAt = atMs;
    }
    this.lastAt = atMs;
  }

  /**
   * The longest silence as of `nowMs`, counting the one still going on (no packet since
   * the last): a stream that stopped for good must not look fine because nothing followed.
   */
  longestUntil(nowMs: number): number {
    return this.lastAt === undefined ? 0 : Math.max(this.longestMs, nowMs - this.lastAt);
  }
}
