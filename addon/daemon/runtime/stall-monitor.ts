// The stall alarm's thin adapter: samples the kernel's route packet counters once a second,
// ONLY while some route has receivers, feeds them to the pure StallWatch (stall-watch.ts)
// and logs its events. With no route (nobody watching) no timer runs: an idle daemon stays
// at 0 CPU.
import { formatIpv4 } from '../net/ipv4.ts';
import type { Ipv4 } from '../net/ipv4.ts';
import type { MfcEntry } from '../kernel/mfc-stats.ts';
import type { LogLevel } from '../log/logger.ts';
import { likelyStallCause, StallWatch } from './stall-watch.ts';
import type { StallEvent, StallGroupStatus, UpstreamCondition } from './stall-watch.ts';

/** At most one read of /proc/net/ip_mr_cache per second. */
export const STALL_SAMPLE_INTERVAL_MS = 1_000;

export interface StallMonitorDeps {
  /** Monotonic milliseconds. */
  now(): number;
  /** Routes with receivers now (the core's table). */
  routes(): readonly { readonly source: Ipv4; readonly group: Ipv4; readonly input: string }[];
  /** The kernel's routes with their packet counters. */
  readCounters(): readonly MfcEntry[];
  upstream(name: string): UpstreamCondition;
  log(level: LogLevel, message: string): void;
}

export interface StallAlarmStatus {
  /** The configured stallalarm; null when off. */
  readonly afterSeconds: number | null;
  readonly groups: readonly StallGroupStatus[];
}

export class StallMonitor {
  private readonly deps: StallMonitorDeps;
  private afterSeconds: number | null;
  private readonly watch: StallWatch;
  private timer: NodeJS.Timeout | undefined;

  constructor(deps: StallMonitorDeps, afterSeconds: number | null) {
    this.deps = deps;
    this.afterSeconds = afterSeconds;
    this.watch = new StallWatch((afterSeconds ?? 0) * 1000);
  }

  /** SIGHUP: a new stallalarm value; `off` ends the watching (running stalls are dropped silently). */
  configure(afterSeconds: number | null): void {
    if (afterSeconds === this.afterSeconds) return;
    this.afterSeconds = afterSeconds;
    if (afterSeconds === null) {
      this.stopSampling();
      this.watch.observe(this.deps.now(), []);
      return;
    }
    this.watch.setStallAfter(afterSeconds * 1000);
    this.update();
  }

  /** After anything that may have added a route: starts sampling when there is one. Cheap when idle. */
  update(): void {
    if (this.afterSeconds === null || this.timer !== undefined) return;
    const routes = this.deps.routes().length;
    if (routes === 0) return;
    this.deps.log(
      'debug',
      `stall alarm: ${routes} route(s) with receivers; reading their packet counters every second`,
    );
    this.timer = setInterval(() => this.sample(), STALL_SAMPLE_INTERVAL_MS);
    this.sample(); // the first sample starts each route's count
  }

  status(): StallAlarmStatus {
    return { afterSeconds: this.afterSeconds, groups: this.watch.status(this.deps.now()) };
  }

  stop(): void {
    this.stopSampling();
  }

  private stopSampling(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private sample(): void {
    const now = this.deps.now();
    const routes = this.deps.routes();
    let events: StallEvent[];
    if (routes.length === 0) {
      events = this.watch.observe(now, []);
      this.stopSampling(); // nobody watches: sleep until a route appears (update())
      this.deps.log('debug', 'stall alarm: no route has receivers; counters no longer read');
    } else {
      const counters = new Map<string, number>();
      for (const entry of this.deps.readCounters()) counters.set(`${entry.source}/${entry.group}`, entry.packets);
      // A route of ours the kernel does not list carries no packets: 0, so it can stall too.
      events = this.watch.observe(
        now,
        routes.map((route) => ({ ...route, packets: counters.get(`${route.source}/${route.group}`) ?? 0 })),
      );
    }
    for (const event of events) this.report(event, now);
  }

  private report(event: StallEvent, now: number): void {
    const stream = `group ${formatIpv4(event.group)} from ${formatIpv4(event.source)} on upstream ${event.input}`;
    switch (event.kind) {
      case 'stalled':
        this.deps.log(
          'warning',
          `stall: ${stream}: no packets for ${seconds(event.silentMs)} s while receivers wait; ` +
            `most likely: ${likelyStallCause(this.deps.upstream(event.input), now)}`,
        );
        return;
      case 'recovered':
        this.deps.log('notice', `stall over: ${stream} flows again after ${seconds(event.outageMs)} s`);
        return;
      case 'ended':
        this.deps.log(
          'notice',
          `stall of ${stream} no longer watched after ${seconds(event.outageMs)} s: the route is gone (receivers left or upstream went away)`,
        );
        return;
    }
  }
}

function seconds(ms: number): number {
  return Math.round(ms / 1000);
}
