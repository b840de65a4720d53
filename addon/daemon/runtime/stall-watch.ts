// The stall alarm's decisions: given the kernel's packet counter of every route that has
// receivers, sampled now and then, say when a stream stops (no new packet for `stallAfterMs`)
// and when it flows again. Pure: the caller passes the (monotonic) time and the samples, and
// logs the returned events; the sampling itself is runtime/stall-monitor.ts.
//
// Per route (S,G) the states and transitions, one sample at a time:
//
//   (absent)  --sampled-------------------------------> flowing   (counting starts now)
//   flowing   --counter changed------------------------> flowing   (last change = now)
//   flowing   --unchanged, now - last change < N-------> flowing
//   flowing   --unchanged, now - last change >= N------> stalled   event 'stalled'
//   stalled   --unchanged------------------------------> stalled   (no event: logged once)
//   stalled   --counter changed------------------------> flowing   event 'recovered'
//   flowing   --not sampled (route gone)---------------> (absent)
//   stalled   --not sampled (route gone)---------------> (absent)  event 'ended'
//
// "Changed" rather than "rose": a route deleted and re-added in between starts from 0.
import { formatIpv4 } from '../net/ipv4.ts';
import type { Ipv4 } from '../net/ipv4.ts';

/** Groups remembered for their stall count; beyond this the oldest quiet ones are forgotten. */
export const MAX_STALL_GROUPS = 4096;

export interface RouteSample {
  readonly source: Ipv4;
  readonly group: Ipv4;
  /** The upstream interface the route takes packets from. */
  readonly input: string;
  /** The kernel's packet counter of the route. */
  readonly packets: number;
}

interface RouteInfo {
  readonly source: Ipv4;
  readonly group: Ipv4;
  readonly input: string;
}

export type StallEvent =
  | (RouteInfo & { readonly kind: 'stalled' /** How long no packet came. */; readonly silentMs: number })
  | (RouteInfo & { readonly kind: 'recovered'; readonly outageMs: number })
  /** The route went away (its receivers left, its upstream went) while stalled. */
  | (RouteInfo & { readonly kind: 'ended'; readonly outageMs: number });

export interface StallGroupStatus {
  readonly group: string;
  /** Stalls since the daemon started (each stalled route counts once per stall). */
  readonly stalls: number;
  /** Some route of the group is stalled now. */
  readonly stalled: boolean;
  /** The longest current outage of the group's routes, in whole seconds; null when not stalled. */
  readonly stalledForSeconds: number | null;
}

interface RouteState {
  input: string;
  packets: number;
  /** When the counter last changed (or when watching began). */
  changedAt: number;
  /** Set while stalled: when the last packet came. */
  stalledSince: number | undefined;
}

interface GroupCount {
  stalls: number;
}

export class StallWatch {
  private stallAfterMs: number;
  private readonly routes = new Map<string, RouteState>();
  private readonly groups = new Map<Ipv4, GroupCount>();

  constructor(stallAfterMs: number) {
    this.stallAfterMs = stallAfterMs;
  }

  /** A new setting (SIGHUP) applies from the next sample; running stalls stay stalled. */
  setStallAfter(ms: number): void {
    this.stallAfterMs = ms;
  }

  /** Routes being watched; none means the sampler can sleep. */
  get watching(): number {
    return this.routes.size;
  }

  /** One sample of every route that has receivers now. */
  observe(now: number, samples: readonly RouteSample[]): StallEvent[] {
    const events: StallEvent[] = [];
    const seen = new Set<string>();
    for (const sample of samples) {
      const key = routeKey(sample.source, sample.group);
      seen.add(key);
      const state = this.routes.get(key);
      if (state === undefined) {
        this.routes.set(key, { input: sample.input, packets: sample.packets, changedAt: now, stalledSince: undefined });
        continue;
      }
      state.input = sample.input;
      if (sample.packets !== state.packets) {
        state.packets = sample.packets;
        state.changedAt = now;
        if (state.stalledSince !== undefined) {
          events.push({
            kind: 'recovered',
            source: sample.source,
            group: sample.group,
            input: sample.input,
            outageMs: now - state.stalledSince,
          });
          state.stalledSince = undefined;
        }
        continue;
      }
      if (state.stalledSince === undefined && now - state.changedAt >= this.stallAfterMs) {
        state.stalledSince = state.changedAt;
        this.countStall(sample.group);
        events.push({
          kind: 'stalled',
          source: sample.source,
          group: sample.group,
          input: sample.input,
          silentMs: now - state.changedAt,
        });
      }
    }
    for (const [key, state] of this.routes) {
      if (seen.has(key)) continue;
      this.routes.delete(key);
      if (state.stalledSince !== undefined) {
        const { source, group } = parseKey(key);
        events.push({ kind: 'ended', source, group, input: state.input, outageMs: now - state.stalledSince });
      }
    }
    return events;
  }

  /** Per group that ever stalled: how often, and whether it is stalled now. Sorted by group. */
  status(now: number): StallGroupStatus[] {
    const longest = new Map<Ipv4, number>();
    for (const [key, state] of this.routes) {
      if (state.stalledSince === undefined) continue;
      const { group } = parseKey(key);
      longest.set(group, Math.max(longest.get(group) ?? 0, now - state.stalledSince));
    }
    return [...this.groups.entries()]
      .sort(([a], [b]) => a - b)
      .map(([group, count]) => {
        const outage = longest.get(group);
        return {
          group: formatIpv4(group),
          stalls: count.stalls,
          stalled: outage !== undefined,
          stalledForSeconds: outage === undefined ? null : Math.floor(outage / 1000),
        };
      });
  }

  private countStall(group: Ipv4): void {
    const count = this.groups.get(group);
    if (count !== undefined) {
      count.stalls++;
      return;
    }
    if (this.groups.size >= MAX_STALL_GROUPS) this.forgetOldestQuietGroup();
    this.groups.set(group, { stalls: 1 });
  }

  /** Bounded memory over a long uptime with many channels: drop the oldest group not stalled now. */
  private forgetOldestQuietGroup(): void {
    const stalledNow = new Set<Ipv4>();
    for (const [key, state] of this.routes) if (state.stalledSince !== undefined) stalledNow.add(parseKey(key).group);
    for (const group of this.groups.keys()) {
      if (!stalledNow.has(group)) {
        this.groups.delete(group);
        return;
      }
    }
  }
}

function routeKey(source: Ipv4, group: Ipv4): string {
  return `${source}/${group}`;
}

function parseKey(key: string): { source: Ipv4; group: Ipv4 } {
  const slash = key.indexOf('/');
  return { source: Number(key.slice(0, slash)), group: Number(key.slice(slash + 1)) };
}

/** What the daemon knows about the upstream a stalled route comes from. */
export interface UpstreamCondition {
  readonly name: string;
  /** Configured as upstream, present and up, with a VIF. */
  readonly active: boolean;
  readonly hasAddress: boolean;
  /** The link's carrier; undefined when unknown. */
  readonly carrier?: boolean | undefined;
  /** When the last IGMP query was heard on it (monotonic ms), undefined when none yet. */
  readonly lastQueryHeardAt: number | undefined;
  /** The querier's query interval (its QQIC, else the RFC default 125 s). */
  readonly queryIntervalMs: number;
  /** Since when the daemon has been listening on it (monotonic ms). */
  readonly upSince: number;
}

/** The most likely cause of a stall, from the daemon's own state, as one phrase. */
export function likelyStallCause(upstream: UpstreamCondition, now: number): string {
  if (!upstream.active) return `upstream ${upstream.name} is down or gone`;
  if (upstream.carrier === false)
    return `upstream ${upstream.name} has no carrier (its link is down: cable, modem or VLAN parent)`;
  if (!upstream.hasAddress) return `upstream ${upstream.name} has no IPv4 address`;
  const silentSince = upstream.lastQueryHeardAt ?? upstream.upSince;
  if (now - silentSince > 2 * upstream.queryIntervalMs) {
    const heard =
      upstream.lastQueryHeardAt === undefined
        ? 'no query heard upstream yet'
        : `no query heard upstream for ${Math.round((now - silentSince) / 1000)} s`;
    return (
      `upstream queries stopped (${heard}): the provider may have stopped the stream after its membership timed out; ` +
      `check the firewall lets IGMP in on ${upstream.name}`
    );
  }
  return 'the provider stopped sending';
}
