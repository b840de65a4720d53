// The longest time a stream went without a packet: what a viewer sees as a frozen picture.
// Sequence gaps (stream-payload.ts) count packets; this measures time, so a stall of the
// whole stream (no packet skipped, just none sent on) shows too. For the longest silence
// it keeps what tells its causes apart: how long the SENDER paused there (send times in
// the packets, same clock) and how many sequence numbers were skipped across it --
// sender paused: a loaded sender; packets skipped: dropped on the way; neither: held up.
export class SilenceTracker {
  private last: { readonly atMs: number; readonly sentAtMs: number; readonly sequence: number } | undefined;
  /** Longest time between two consecutive packets, in ms (0 before the second packet). */
  longestMs = 0;
  /** When the longest silence ended (the packet after it), on the same clock. */
  longestEndedAt: number | undefined;
  /** The send times' difference of the two packets around the longest silence. */
  longestSendGapMs: number | undefined;
  /** Sequence numbers skipped between those two packets (0: nothing was lost there). */
  longestSkipped: number | undefined;

  /** Counts a packet that arrived at `atMs`, sent at `sentAtMs` with `sequence`. */
  record(atMs: number, sentAtMs: number, sequence: number): void {
    if (this.last !== undefined && atMs - this.last.atMs > this.longestMs) {
      this.longestMs = atMs - this.last.atMs;
      this.longestEndedAt = atMs;
      this.longestSendGapMs = sentAtMs - this.last.sentAtMs;
      this.longestSkipped = Math.max(0, sequence - this.last.sequence - 1);
    }
    this.last = { atMs, sentAtMs, sequence };
  }

  /**
   * The longest silence as of `nowMs`, counting the one still going on (no packet since
   * the last): a stream that stopped for good must not look fine because nothing followed.
   */
  longestUntil(nowMs: number): number {
    return this.last === undefined ? 0 : Math.max(this.longestMs, nowMs - this.last.atMs);
  }
}
