// The kernel's multicast forwarding cache as the core wants it: one entry per (S,G) with
// its own input interface (C igmpproxy keeps one input per group, so a second source on
// another upstream broke the first). Routes exist only while some downstream listens:
// when the last listener of (S,G) goes, the entry is deleted (as C does); packets still
// arriving then sit in the kernel's unresolved queue and cause one NOCACHE upcall, which
// we remember for that queue's lifetime so a listener re-joining (zapping back) gets its
// route at once instead of after the kernel's 10 s unresolved timeout.
//
// It also remembers upcalls refused for their source (the upstream had no address yet, or
// no altnet covered it): the kernel stays silent about that (S,G) for the same 10 s, so when
// the upstream's address arrives late (PPP, DHCP, carrier) they are checked again at once
// instead of leaving the channel dark until the kernel asks again.
import { formatIpv4 } from '../net/ipv4.ts';
import type { Ipv4 } from '../net/ipv4.ts';
import type { CoreContext } from './context.ts';
import type { RouteOutput } from './effects.ts';
import type { Timer } from './timers.ts';
import { MAX_REFUSED_UPCALLS, UNRESOLVED_MEMORY_MS } from './settings.ts';

interface RouteRecord {
  readonly source: Ipv4;
  readonly group: Ipv4;
  input: string;
  outputs: readonly RouteOutput[];
  rateLimit: number;
}

interface Unresolved {
  readonly input: string;
  readonly timer: Timer;
}

export interface Refused {
  readonly source: Ipv4;
  readonly group: Ipv4;
  /** When the upcall came (ctx.now()); aged by time, not by timers. */
  readonly at: number;
}

/** Given (S,G), which downstreams want it (with their thresholds), and an input's rate limit. */
export interface RouteOracle {
  outputsFor(source: Ipv4, group: Ipv4): RouteOutput[];
  rateLimitOf(input: string): number;
}

export interface RouteSnapshot {
  readonly source: string;
  readonly group: string;
  readonly input: string;
  readonly outputs: readonly RouteOutput[];
  readonly rateLimit: number;
}

/** Distinct output lists remembered for sharing (a box has a handful of downstreams). */
const MAX_SHARED_LISTS = 256;

export class RouteTable {
  /** Per group its routes, one per source: an array of exactly their length (usually one),
   * replaced on change, not a Map per group (~130 bytes per group, issue 14). */
  private readonly byGroup = new Map<Ipv4, readonly RouteRecord[]>();
  private readonly unresolved = new Map<Ipv4, Map<Ipv4, Unresolved>>();
  /** Per upstream, keyed "source/group", oldest first. */
  private readonly refused = new Map<string, Map<string, Refused>>();
  /** One RouteOutput per downstream name and threshold (bounded by the configuration's phyints). */
  private readonly sharedOutputs = new Map<string, RouteOutput>();
  /** One frozen outputs array per distinct list of outputs (keyed by its outputs' keys). */
  private readonly sharedLists = new Map<string, readonly RouteOutput[]>();
  private readonly ctx: CoreContext;
  private readonly oracle: RouteOracle;

  constructor(ctx: CoreContext, oracle: RouteOracle) {
    this.ctx = ctx;
    this.oracle = oracle;
  }

  /** A NOCACHE upcall for (S,G) that arrived on upstream `input`, already checked as acceptable. */
  resolve(input: string, source: Ipv4, group: Ipv4): void {
    const outputs = this.oracle.outputsFor(source, group);
    if (outputs.length === 0) {
      this.ctx.log('debug', `no listener for (${formatIpv4(source)}, ${formatIpv4(group)}) from ${input}; not routed`);
      this.remember(input, source, group);
      return;
    }
    this.forget(source, group);
    this.install(input, source, group, outputs, true);
  }

  /** A NOCACHE upcall on `input` refused for its source: remembered for retryRefused(). */
  refuse(input: string, source: Ipv4, group: Ipv4): void {
    let refused = this.refused.get(input);
    if (refused === undefined) {
      refused = new Map();
      this.refused.set(input, refused);
    }
    const now = this.ctx.now();
    // Bounded: drop what the kernel has forgotten, then the oldest if still too many.
    for (const [key, entry] of refused) if (now - entry.at >= UNRESOLVED_MEMORY_MS) refused.delete(key);
    if (refused.size >= MAX_REFUSED_UPCALLS) refused.delete(refused.keys().next().value as string);
    refused.set(`${source}/${group}`, { source, group, at: now });
  }

  /** `input` was renumbered: resolve every refused upcall whose source `accepts` now. */
  retryRefused(input: string, accepts: (source: Ipv4) => boolean): void {
    const refused = this.refused.get(input);
    if (refused === undefined) return;
    const now = this.ctx.now();
    for (const [key, entry] of refused) {
      if (now - entry.at >= UNRESOLVED_MEMORY_MS) {
        refused.delete(key);
      } else if (accepts(entry.source)) {
        refused.delete(key);
        this.resolve(input, entry.source, entry.group);
      }
    }
  }

  /**
   * The refusals on `input` the kernel may still be asking about, by group then source:
   * while packets keep coming it asks again each time its unresolved entry expires
   * (UNRESOLVED_MEMORY_MS), so a stream still arriving is never older than that, plus a
   * margin for the kernel's timer. For the status document (diagnose reads it).
   */
  recentRefusals(input: string): Refused[] {
    const now = this.ctx.now();
    return [...(this.refused.get(input)?.values() ?? [])]
      .filter((entry) => now - entry.at < 2 * UNRESOLVED_MEMORY_MS)
      .sort((a, b) => a.group - b.group || a.source - b.source);
  }

  /** Listeners of `group` changed: bring every (S,G) route of it up to date. */
  refreshGroup(group: Ipv4): void {
    const routes = this.byGroup.get(group);
    if (routes !== undefined) {
      for (const route of routes) {
        const outputs = this.oracle.outputsFor(route.source, group);
        if (outputs.length === 0) this.remove(route);
        else this.install(route.input, route.source, group, outputs, false);
      }
    }
    const waiting = this.unresolved.get(group);
    if (waiting !== undefined) {
      for (const [source, entry] of [...waiting]) {
        const outputs = this.oracle.outputsFor(source, group);
        if (outputs.length === 0) continue;
        this.forget(source, group);
        this.install(entry.input, source, group, outputs, true);
      }
    }
  }

  /** Interface `name` stopped being an input (down or reconfigured): delete its routes. */
  dropInput(name: string): void {
    this.refused.delete(name);
    for (const routes of [...this.byGroup.values()]) {
      for (const route of routes) if (route.input === name) this.remove(route);
    }
    for (const [group, waiting] of [...this.unresolved]) {
      for (const [source, entry] of [...waiting]) if (entry.input === name) this.forget(source, group);
    }
  }

  /** Refresh every route whose input is `name` (its rate limit changed). */
  refreshInput(name: string): void {
    for (const routes of this.byGroup.values()) {
      for (const route of routes) {
        if (route.input === name) this.install(name, route.source, route.group, route.outputs, false);
      }
    }
  }

  deleteAll(): void {
    for (const routes of [...this.byGroup.values()]) for (const route of routes) this.remove(route);
    for (const waiting of this.unresolved.values()) for (const entry of waiting.values()) entry.timer.stop();
    this.unresolved.clear();
    this.refused.clear();
  }

  /** Every installed route (each has receivers: a route nobody wants is deleted). Unformatted, cheap. */
  *installed(): IterableIterator<{ readonly source: Ipv4; readonly group: Ipv4; readonly input: string }> {
    for (const routes of this.byGroup.values()) {
      for (const route of routes) yield { source: route.source, group: route.group, input: route.input };
    }
  }

  snapshot(): RouteSnapshot[] {
    const result: RouteSnapshot[] = [];
    for (const group of [...this.byGroup.keys()].sort((a, b) => a - b)) {
      for (const route of [...this.byGroup.get(group)!].sort((a, b) => a.source - b.source)) {
        result.push({
          source: formatIpv4(route.source),
          group: formatIpv4(group),
          input: route.input,
          outputs: route.outputs,
          rateLimit: route.rateLimit,
        });
      }
    }
    return result;
  }

  private install(input: string, source: Ipv4, group: Ipv4, outputs: readonly RouteOutput[], force: boolean): void {
    const rateLimit = this.oracle.rateLimitOf(input);
    const routes = this.byGroup.get(group);
    const existing = routes?.find((route) => route.source === source);
    if (
      existing !== undefined &&
      !force &&
      existing.input === input &&
      existing.rateLimit === rateLimit &&
      sameOutputs(existing.outputs, outputs)
    )
      return;
    if (existing === undefined) {
      const route: RouteRecord = { source, group, input, outputs: this.compact(outputs), rateLimit };
      this.byGroup.set(group, routes === undefined ? [route] : [...routes, route]);
    } else {
      existing.input = input;
      existing.outputs = this.compact(outputs);
      existing.rateLimit = rateLimit;
    }
    this.ctx.emit({ type: 'set-route', source, group, input, outputs, rateLimit });
  }

  /** The outputs as kept for a route: one frozen array per distinct list of outputs, shared
   * by every route with that list (nearly all routes of a box have the same one or two), of
   * one shared object per interface and threshold: not an array and objects per route
   * (~60 bytes per group, issue 14). Lists are subsets of the configured downstreams;
   * past MAX_SHARED_LISTS the table starts over (routes keep the arrays they have). */
  private compact(outputs: readonly RouteOutput[]): readonly RouteOutput[] {
    const keys = outputs.map((output) => `${output.interface}\0${output.threshold}`);
    const listKey = keys.join('\n');
    let list = this.sharedLists.get(listKey);
    if (list === undefined) {
      list = Object.freeze(
        keys.map((key, i) => {
          let shared = this.sharedOutputs.get(key);
          if (shared === undefined) {
            shared = Object.freeze({ interface: outputs[i]!.interface, threshold: outputs[i]!.threshold });
            this.sharedOutputs.set(key, shared);
          }
          return shared;
        }),
      );
      if (this.sharedLists.size >= MAX_SHARED_LISTS) this.sharedLists.clear();
      this.sharedLists.set(listKey, list);
    }
    return list;
  }

  private remove(route: RouteRecord): void {
    const routes = this.byGroup.get(route.group);
    if (routes === undefined || !routes.includes(route)) return;
    if (routes.length === 1) this.byGroup.delete(route.group);
    else
      this.byGroup.set(
        route.group,
        routes.filter((other) => other !== route),
      );
    this.ctx.emit({ type: 'delete-route', source: route.source, group: route.group, input: route.input });
  }

  private remember(input: string, source: Ipv4, group: Ipv4): void {
    this.forget(source, group);
    let waiting = this.unresolved.get(group);
    if (waiting === undefined) {
      waiting = new Map();
      this.unresolved.set(group, waiting);
    }
    const timer = this.ctx.timers.create(() => this.forget(source, group));
    timer.start(this.ctx.now() + UNRESOLVED_MEMORY_MS);
    waiting.set(source, { input, timer });
  }

  private forget(source: Ipv4, group: Ipv4): void {
    const waiting = this.unresolved.get(group);
    const entry = waiting?.get(source);
    if (waiting === undefined || entry === undefined) return;
    entry.timer.stop();
    waiting.delete(source);
    if (waiting.size === 0) this.unresolved.delete(group);
  }
}

function sameOutputs(a: readonly RouteOutput[], b: readonly RouteOutput[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((output, i) => output.interface === b[i]!.interface && output.threshold === b[i]!.threshold);
}
