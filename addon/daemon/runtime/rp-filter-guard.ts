// Keeps strict reverse-path filtering from dropping the streams of an upstream while the
// daemon runs (see rp-filter-decision.ts for why), and puts every value it changed back
// when the daemon stops. The route lookups and /proc are injected (thin adapters in
// kernel/), so this is tested with fakes; the lab test proves it on a real kernel.
import type { LogLevel } from '../log/logger.ts';
import type { Cidr, Ipv4 } from '../net/ipv4.ts';
import type { RouteAnswer } from '../kernel/route-lookup.ts';
import { effectiveRpFilter, probeAddress, RP_FILTER_LOOSE, RP_FILTER_STRICT } from '../net/reverse-path.ts';
import { decideRestore, decideRpFilter } from './rp-filter-decision.ts';
import type { LoosenedUpstream, RouteBack } from './rp-filter-decision.ts';
import { errorMessage } from '../error-message.ts';

export interface RpFilterIo {
  lookupRoute(address: Ipv4): Promise<RouteAnswer>;
  /** conf/NAME/rp_filter ("all" for conf/all); throws when the interface is gone. */
  read(name: string): number;
  write(name: string, value: number): void;
  /** The interface's ifindex now, undefined when there is none of that name. */
  ifindexOf(name: string): number | undefined;
  /** Names for the log; undefined when unknown. */
  nameOf(ifindex: number): string | undefined;
  log(level: LogLevel, message: string): void;
}

export interface ConfiguredUpstream {
  readonly name: string;
  /** undefined while the interface does not exist. */
  readonly ifindex: number | undefined;
  readonly altnets: readonly Cidr[];
}

export type RpFilterMode = 'auto' | 'keep';

export class RpFilterGuard {
  private readonly io: RpFilterIo;
  private mode: RpFilterMode;
  private readonly loosened = new Map<string, LoosenedUpstream>();
  private running: Promise<void> | undefined;
  private pending: readonly ConfiguredUpstream[] | undefined;
  private stopped = false;

  constructor(io: RpFilterIo, mode: RpFilterMode) {
    this.io = io;
    this.mode = mode;
  }

  /** After a reload: `keep` puts back what was changed. */
  configure(mode: RpFilterMode): void {
    this.mode = mode;
    if (mode === 'keep') this.restore();
  }

  /**
   * Checks the upstreams as configured and present now (at start, after every interface
   * change, after a reload). Runs one at a time; calls meanwhile are merged into one more
   * run with the latest list. Resolves when the latest list has been handled.
   */
  review(upstreams: readonly ConfiguredUpstream[]): Promise<void> {
    if (this.running) {
      this.pending = upstreams;
      return this.running;
    }
    this.running = (async () => {
      let next: readonly ConfiguredUpstream[] | undefined = upstreams;
      // Each pass takes the latest list; at most one list waits, so this ends once calls stop.
      while (next !== undefined && !this.stopped) {
        this.pending = undefined;
        await this.reviewOnce(next);
        next = this.pending;
      }
    })().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Puts back every value this daemon changed (SIGTERM, `rpfilter keep`). Synchronous. */
  restore(): void {
    for (const [name, loosened] of this.loosened) {
      this.loosened.delete(name);
      this.restoreOne(loosened);
    }
  }

  /** Stops for good: restores, and a review under way changes nothing more. */
  stop(): void {
    this.stopped = true;
    this.restore();
  }

  private async reviewOnce(upstreams: readonly ConfiguredUpstream[]): Promise<void> {
    const wanted = new Map(upstreams.map((upstream) => [upstream.name, upstream]));
    for (const [name, loosened] of this.loosened) {
      const upstream = wanted.get(name);
      if (upstream === undefined) {
        // No longer an upstream (reload): its own value again.
        this.loosened.delete(name);
        this.restoreOne(loosened);
      } else if (upstream.ifindex !== loosened.ifindex) {
        // Gone or re-created (PPPoE reconnect): the new device starts from conf/default.
        this.loosened.delete(name);
      }
    }
    if (this.mode !== 'auto') return;
    for (const upstream of upstreams) {
      if (upstream.ifindex === undefined || this.loosened.has(upstream.name)) continue;
      await this.reviewUpstream({ ...upstream, ifindex: upstream.ifindex });
      if (this.stopped || this.mode !== 'auto') return;
    }
  }

  private async reviewUpstream(upstream: ConfiguredUpstream & { readonly ifindex: number }): Promise<void> {
    const { name, ifindex } = upstream;
    const values = this.readValues(name);
    if (
      values === undefined ||
      effectiveRpFilter(values.all, values.own) !== RP_FILTER_STRICT ||
      upstream.altnets.length === 0
    ) {
      return; // nothing strict to loosen: no lookups needed
    }
    const routes: RouteBack[] = [];
    for (const altnet of upstream.altnets) {
      const probe = probeAddress(altnet);
      let answer: RouteAnswer;
      try {
        answer = await this.io.lookupRoute(probe);
      } catch (error) {
        this.io.log(
          'warning',
          `${name}: cannot ask the kernel for the route back to its altnet sources: ${errorMessage(error)}; rp_filter left as it is`,
        );
        return;
      }
      const outIfindex = answer.ok ? answer.outIfindex : undefined;
      routes.push({
        altnet,
        probe,
        outIfindex,
        outName: outIfindex === undefined ? undefined : this.io.nameOf(outIfindex),
      });
    }
    if (this.stopped || this.mode !== 'auto' || this.io.ifindexOf(name) !== ifindex) return;
    // Read again: the lookups took a moment, and the decision and the write are one step.
    const now = this.readValues(name);
    if (now === undefined) return;
    const decision = decideRpFilter({ name, ifindex, all: now.all, own: now.own, routes });
    if (decision.action === 'keep') {
      this.io.log('debug', `${name}: rp_filter left as it is: ${decision.reason}`);
      return;
    }
    try {
      this.io.write(name, RP_FILTER_LOOSE);
    } catch (error) {
      this.io.log(
        'warning',
        `${name}: ${decision.reason}, but rp_filter cannot be set to loose (2): ${errorMessage(error)}`,
      );
      return;
    }
    this.loosened.set(name, { name, ifindex, previous: decision.previous });
    this.io.log(
      'notice',
      `${name}: rp_filter set to loose (2) while igmpproxy runs (was ${decision.previous}): ${decision.reason}`,
    );
  }

  private readValues(name: string): { all: number; own: number } | undefined {
    try {
      return { all: this.io.read('all'), own: this.io.read(name) };
    } catch (error) {
      this.io.log('debug', `${name}: cannot read rp_filter: ${errorMessage(error)}`);
      return undefined;
    }
  }

  private restoreOne(loosened: LoosenedUpstream): void {
    const ifindex = this.io.ifindexOf(loosened.name);
    let own: number | undefined;
    try {
      own = ifindex === undefined ? undefined : this.io.read(loosened.name);
    } catch {
      own = undefined;
    }
    const decision = decideRestore(loosened, ifindex === undefined || own === undefined ? undefined : { ifindex, own });
    if (decision.action === 'skip') {
      this.io.log('info', `${loosened.name}: rp_filter not put back: ${decision.reason}`);
      return;
    }
    try {
      this.io.write(loosened.name, decision.value);
      this.io.log('notice', `${loosened.name}: rp_filter put back to ${decision.value}`);
    } catch (error) {
      this.io.log(
        'warning',
        `${loosened.name}: cannot put rp_filter back to ${decision.value}: ${errorMessage(error)}`,
      );
    }
  }
}
