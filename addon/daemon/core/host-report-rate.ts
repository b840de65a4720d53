// Fairness between the hosts of a downstream: each source address may hand the daemon at
// most HOST_REPORT_BURST IGMP datagrams at once and then one per HOST_REPORT_REFILL_MS
// (settings.ts says why no RFC host comes near it). Checked before a datagram is parsed, so
// one flooding host costs the daemon a Map lookup per datagram and leaves room for the
// others. Pure: the caller passes the time.
import type { Ipv4 } from '../net/ipv4.ts';
import { TokenBucket } from './report-pacing.ts';

/** Buckets kept before full ones (hosts quiet for a while) are forgotten: bounds memory against forged source addresses. */
export const MAX_TRACKED_HOSTS = 1024;

export class HostReportRate {
  private readonly buckets = new Map<Ipv4, TokenBucket>();
  private readonly burst: number;
  private readonly refillMs: number;

  constructor(burst: number, refillMs: number) {
    this.burst = burst;
    this.refillMs = refillMs;
  }

  /** May `host` hand in one more datagram at `now`? */
  admit(host: Ipv4, now: number): boolean {
    let bucket = this.buckets.get(host);
    if (bucket === undefined) {
      if (this.buckets.size >= MAX_TRACKED_HOSTS) this.forgetQuietHosts(now);
      bucket = new TokenBucket(this.burst, this.refillMs, now);
      this.buckets.set(host, bucket);
    }
    return bucket.take(now);
  }

  /** Hosts with a bucket now (for tests of the bound). */
  get size(): number {
    return this.buckets.size;
  }

  /** A full bucket is the same as none. When every host is busy, the longest-known goes (a fresh bucket is full: it only gains). */
  private forgetQuietHosts(now: number): void {
    for (const [host, bucket] of this.buckets) if (bucket.available(now) === this.burst) this.buckets.delete(host);
    if (this.buckets.size < MAX_TRACKED_HOSTS) return;
    const oldest = this.buckets.keys().next();
    if (oldest.done !== true) this.buckets.delete(oldest.value);
  }
}
