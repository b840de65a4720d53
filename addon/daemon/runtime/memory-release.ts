// Memory back to the system once the daemon is quiet (issue 14, memory). V8 runs without
// its memory reducer (it woke an idle daemon every 8 s), so after a burst of joins its heap
// kept the pages the burst filled, half empty, and glibc kept the free memory in the middle
// of its heap (V8's compiler zones, Node's buffers). QUIET_MS after the last thing the daemon
// did, it runs one memory-reducing full GC and malloc_trim, only when the process's resident
// anonymous memory (RssAnon, what the issue measures) grew by GROWTH_BYTES since start-up or
// the last collection: a burst of joins, not the query rounds every 125 s or a zap (an
// emulated VM showed such a GC costing nearly a second of CPU); otherwise malloc_trim alone.
// Start-up's garbage is collected as start-up's last step. A daemon that is never quiet is
// checked every QUIET_MS too: collected after BUSY_GROWTH_BYTES (a flood), or after
// GROWTH_BYTES at most once per BUSY_SLOW_INTERVAL_MS (TVs zapping without pause).
// Periodic work that is not activity (the stall alarm reading the kernel's route counters
// every second) allocates too and must not make the daemon "busy", but its garbage has to be
// collected as well: it keeps the checks coming (periodicWork), and a quiet daemon is then
// collected at GROWTH_BYTES like after a burst. Without it, with 500 streams flowing the
// emulated lab's daemon grew from 14.6 MB (10 s after the joins) to 18.5 MB (65 s after), all
// of it V8's heap, until the next IGMP woke the checks.
// Growth is RssAnon rather than V8's committed heap: 100 joins left 3.7 MB more RssAnon
// (new code, compiler zones, the young generation) but only 0.5 MB more committed heap, and a
// collection then took RssAnon back by 2.3 MB (memory probe, native).
import { readFileSync } from 'node:fs';

/** Longer than the pauses of someone zapping through channels: the GC never sits in a zap. */
export const QUIET_MS = 5_000;
/** Growth of RssAnon (beyond YOUNG_REGROWTH_BYTES) that makes a collection worth it. */
export const GROWTH_BYTES = 1024 * 1024;
/** Growth collected even while the daemon never goes quiet (a hostile host flooding it, TVs
 * zapping without pause): the heap stays bounded, at the cost of one full GC per QUIET_MS at
 * most, and only while the flood keeps filling it. */
export const BUSY_GROWTH_BYTES = 4 * 1024 * 1024;
/**
 * A daemon that is never quiet but grows slowly (TVs zapping every second) is collected at
 * GROWTH_BYTES too, at most once per this interval: each zap leaves ~2 kB of short-lived
 * objects in the old generation (they outlive two scavenges), which nothing else collects,
 * since V8's own old-generation limit sits far above a proxy's heap. With only
 * BUSY_GROWTH_BYTES the soak's RssAnon rose in a 4-5 MB step before the first collection
 * (issue 14, part 4).
 */
export const BUSY_SLOW_INTERVAL_MS = 60_000;
/** The young generation's semi-space size in MB, which build-config.ts bakes into the single
 * binary (--max-semi-space-size): 1 MB semi-spaces hold a proxy's short-lived objects. */
export const SEMI_SPACE_MB = 1;
/**
 * V8's memory-reducing GC leaves the young generation one semi-space; the next scavenge (the
 * next burst of allocation, however small) commits the second again. Measured on the pinned
 * Node with the binary's flags: new_space 1024 kB after the GC, 2048 kB after any scavenge,
 * never more. So a baseline taken right after a collection includes that regrowth: it is
 * nothing a second collection would give back for long.
 */
export const YOUNG_REGROWTH_BYTES = SEMI_SPACE_MB * 1024 * 1024;

export interface MemoryReleaseDeps {
  /** Monotonic ms. */
  now(): number;
  /** Runs `callback` once after `ms`; must not keep the process alive. */
  schedule(callback: () => void, ms: number): void;
  /** The process's resident anonymous memory (bytes). */
  residentBytes(): number;
  /** A full, memory-reducing GC; undefined where the runtime offers none (outside the single binary). */
  readonly collectGarbage: (() => void) | undefined;
  /** malloc_trim(0). */
  trimMalloc(): void;
}

export class MemoryRelease {
  private readonly deps: MemoryReleaseDeps;
  private lastActivity = 0;
  private pending = false;
  /** RssAnon at the first quiet moment, then after each collection (plus the young regrowth). */
  private baseline: number | undefined;
  /** When the heap was last collected (or the baseline taken): paces the slow busy collections. */
  private collectedAt = 0;

  constructor(deps: MemoryReleaseDeps) {
    this.deps = deps;
  }

  /** Start-up is done (still part of start-up, not idle): its garbage goes at once. */
  started(): void {
    if (this.deps.collectGarbage !== undefined) this.collect(this.deps.collectGarbage);
    else this.deps.trimMalloc();
  }

  /** The daemon handled something (a datagram, a timer). Cheap: a flood calls it per packet. */
  activity(): void {
    this.lastActivity = this.deps.now();
    if (this.pending) return;
    this.pending = true;
    this.deps.schedule(() => this.check(), QUIET_MS);
  }

  /**
   * The daemon did periodic work that allocates but is not activity (it does not delay a
   * quiet-time collection): makes sure a check follows, so that work's garbage is collected
   * once it adds up to GROWTH_BYTES. Cheap: the stall alarm calls it once a second.
   */
  periodicWork(): void {
    if (this.pending) return;
    this.pending = true;
    this.deps.schedule(() => this.check(), QUIET_MS);
  }

  private check(): void {
    const quietFor = this.deps.now() - this.lastActivity;
    if (quietFor < QUIET_MS) {
      // Still busy (under a flood: one check per QUIET_MS): collect now only if the heap grew
      // a lot since a baseline was taken, or grew slowly and the last collection is a while ago.
      const slowDue = this.deps.now() - this.collectedAt >= BUSY_SLOW_INTERVAL_MS;
      if (this.baseline !== undefined) this.collectIfGrown(slowDue ? GROWTH_BYTES : BUSY_GROWTH_BYTES);
      this.deps.schedule(() => this.check(), QUIET_MS - quietFor);
      return;
    }
    this.pending = false;
    if (!this.collectIfGrown(GROWTH_BYTES)) this.deps.trimMalloc();
  }

  /** A collection (GC and trim) when RssAnon grew by `growth` since the baseline. */
  private collectIfGrown(growth: number): boolean {
    const collect = this.deps.collectGarbage;
    if (collect === undefined) return false;
    const resident = this.deps.residentBytes();
    if (this.baseline === undefined) {
      this.baseline = resident;
      this.collectedAt = this.deps.now();
      return false;
    }
    if (resident < this.baseline + growth) return false;
    this.collect(collect);
    return true;
  }

  /** GC, then malloc_trim (the GC frees malloc'd memory too), then the new baseline. */
  private collect(collect: () => void): void {
    collect();
    this.deps.trimMalloc();
    this.baseline = this.deps.residentBytes() + YOUNG_REGROWTH_BYTES;
    this.collectedAt = this.deps.now();
  }
}

/**
 * RssAnon from /proc/self/status (a 1.5 kB read, once per QUIET_MS at most); the whole RSS
 * where that cannot be read. (Not node:v8's heap statistics: node:v8 loads Node's stream
 * modules with it, 0.35-0.4 MB of RssAnon for the daemon's lifetime.)
 */
export function residentAnonymousBytes(): number {
  try {
    const kb = /^RssAnon:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'latin1'))?.[1];
    if (kb !== undefined) return Number(kb) * 1024;
  } catch {
    // Below.
  }
  return process.memoryUsage.rss();
}

/**
 * V8's memory-reducing full GC through the `gc` function that --expose-gc (baked into the
 * single binary, build-config.ts) puts on the global object: "last-resort" is V8's
 * CollectAllAvailableGarbage, which also shrinks the young generation and gives free
 * pages back. Undefined without the flag.
 */
export function memoryReducingGc(): (() => void) | undefined {
  const gc = (globalThis as { gc?: (options: object) => unknown }).gc;
  if (typeof gc !== 'function') return undefined;
  return () => void gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
}
