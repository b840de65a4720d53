// The one throttle for repeated log lines. Some lines are caused by traffic (a receiver
// outside the subnet, a source outside the upstream's networks, an SSM join without
// sources), so a busy LAN would repeat them many times a second; each is logged at most
// once per key and interval instead. Keys name the cause (interface and host or network);
// a caller that checks for every datagram keys by number (a host's address), since building
// and hashing a key string per datagram was most of what dropping a flooding host's
// datagram cost (scripts/bench/flood-probe.ts).

/** Keys kept before old ones are pruned; bounds memory against many distinct senders. */
const PRUNE_ABOVE_KEYS = 4096;

export class LogThrottle<Key = string> {
  private readonly loggedAt = new Map<Key, number>();
  private readonly intervalMs: number;

  constructor(intervalMs: number) {
    this.intervalMs = intervalMs;
  }

  /** May a line with `key` be logged at `now`? Yes records `now` as its last time. */
  admit(key: Key, now: number): boolean {
    const last = this.loggedAt.get(key);
    if (last !== undefined && now - last < this.intervalMs) return false;
    if (this.loggedAt.size > PRUNE_ABOVE_KEYS) {
      for (const [k, at] of this.loggedAt) if (now - at >= this.intervalMs) this.loggedAt.delete(k);
    }
    this.loggedAt.set(key, now);
    return true;
  }

  /** Keys remembered now (for tests of the bound). */
  get size(): number {
    return this.loggedAt.size;
  }
}
