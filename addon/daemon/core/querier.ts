// Querier role of one downstream interface (RFC 3376 6.6.2 election, 6.7 start-up,
// 8.2 periodic general queries). We start as querier; a query from a lower address makes
// us quiet for the Other Querier Present Interval, after which we take over again. While
// another router is querier, its robustness and query interval are the link's (4.1.6/4.1.7,
// link-settings.ts).
import { ALL_SYSTEMS, formatIpv4 } from '../net/ipv4.ts';
import type { Ipv4 } from '../net/ipv4.ts';
import type { IgmpQuery } from '../igmp/types.ts';
import type { CoreContext } from './context.ts';
import type { Timer } from './timers.ts';
import { GENERAL_QUERY_VERSION } from './settings.ts';
import type { LinkSettings } from './link-settings.ts';

export interface QuerierPort {
  readonly name: string;
  address(): Ipv4;
  sendQuery(message: IgmpQuery, destination: Ipv4): void;
}

export interface QuerierSnapshot {
  readonly querier: boolean;
  readonly otherQuerier: string | null;
  readonly otherQuerierPresentUntil: number | null;
  readonly nextGeneralQueryAt: number | null;
  readonly startupQueriesLeft: number;
  /** Values in force on the link (the querier's while another router is querier). */
  readonly robustness: number;
  readonly queryIntervalSeconds: number;
  readonly valuesFromOtherQuerier: boolean;
}

export class Querier {
  private querier = true;
  private otherQuerier: Ipv4 | undefined;
  private startupQueriesLeft = 0;
  private readonly olderVersionsWarned = new Set<number>();
  private readonly ctx: CoreContext;
  private readonly port: QuerierPort;
  private readonly link: LinkSettings;
  private readonly generalQueryTimer: Timer;
  private readonly otherQuerierTimer: Timer;

  /** ctx must carry link's settings (linkContext(shared, link)). */
  constructor(ctx: CoreContext, port: QuerierPort, link: LinkSettings) {
    this.ctx = ctx;
    this.port = port;
    this.link = link;
    this.generalQueryTimer = ctx.timers.create((deadline) => this.onGeneralQueryTimer(deadline));
    this.otherQuerierTimer = ctx.timers.create(() => this.onOtherQuerierGone());
  }

  get isQuerier(): boolean {
    return this.querier;
  }

  /** The other router that is querier here (0 when none): cheap, read on every event. */
  get otherQuerierAddress(): Ipv4 {
    return this.otherQuerier ?? 0;
  }

  /** Interface came up: start-up sequence, the first general query at once (6.7). */
  start(): void {
    this.querier = true;
    this.otherQuerier = undefined;
    this.otherQuerierTimer.stop();
    this.link.reset();
    this.startupQueriesLeft = this.ctx.settings.startupQueryCount - 1;
    this.sendGeneralQuery();
    this.scheduleNext(this.ctx.now());
  }

  stop(): void {
    this.generalQueryTimer.stop();
    this.otherQuerierTimer.stop();
  }

  /** A query heard on this interface from another router. */
  queryHeard(source: Ipv4, query: IgmpQuery): void {
    if (query.version < 3 && !this.olderVersionsWarned.has(query.version)) {
      // 7.3.1: an older querier needs every router on the link configured to its version.
      this.olderVersionsWarned.add(query.version);
      this.ctx.log(
        'warning',
        `${this.port.name}: IGMPv${query.version} querier ${formatIpv4(source)} on this link; hosts will answer it in IGMPv${query.version}`,
      );
    }
    // 0.0.0.0 is what snooping switches use as a stand-in querier; a router does not yield to it.
    if (source === 0 || source >= this.port.address()) return;
    if (this.querier)
      this.ctx.log('info', `${this.port.name}: ${formatIpv4(source)} is the querier now (lower address)`);
    this.querier = false;
    // Of several lower-addressed routers, the lowest is the querier: only its values count.
    if (this.otherQuerier === undefined || source <= this.otherQuerier) {
      this.otherQuerier = source;
      if (this.link.adopt(query)) {
        const settings = this.ctx.settings;
        this.ctx.log(
          'info',
          `${this.port.name}: following querier ${formatIpv4(source)}: robustness ${settings.robustness}, ` +
            `query interval ${settings.queryIntervalMs / 1000} s (groups time out after ${settings.groupMembershipIntervalMs / 1000} s)`,
        );
      }
    }
    this.startupQueriesLeft = 0;
    this.generalQueryTimer.stop();
    this.otherQuerierTimer.start(this.ctx.now() + this.ctx.settings.otherQuerierPresentIntervalMs);
  }

  snapshot(): QuerierSnapshot {
    return {
      querier: this.querier,
      otherQuerier: this.otherQuerier === undefined ? null : formatIpv4(this.otherQuerier),
      otherQuerierPresentUntil: this.otherQuerierTimer.running ? this.otherQuerierTimer.deadline : null,
      nextGeneralQueryAt: this.generalQueryTimer.running ? this.generalQueryTimer.deadline : null,
      startupQueriesLeft: this.startupQueriesLeft,
      robustness: this.ctx.settings.robustness,
      queryIntervalSeconds: this.ctx.settings.queryIntervalMs / 1000,
      valuesFromOtherQuerier: this.link.isAdopted,
    };
  }

  private onOtherQuerierGone(): void {
    this.ctx.log(
      'info',
      `${this.port.name}: querier ${this.otherQuerier === undefined ? '?' : formatIpv4(this.otherQuerier)} went silent; querying again`,
    );
    this.querier = true;
    this.otherQuerier = undefined;
    if (this.link.reset()) {
      this.ctx.log('info', `${this.port.name}: our own robustness and query interval apply again`);
    }
    this.sendGeneralQuery();
    this.scheduleNext(this.ctx.now());
  }

  private onGeneralQueryTimer(deadline: number): void {
    if (!this.querier) return;
    if (this.startupQueriesLeft > 0) this.startupQueriesLeft--;
    this.sendGeneralQuery();
    this.scheduleNext(deadline);
  }

  /** Next query relative to the previous deadline, so the period does not drift. */
  private scheduleNext(from: number): void {
    const settings = this.ctx.settings;
    const interval = this.startupQueriesLeft > 0 ? settings.startupQueryIntervalMs : settings.queryIntervalMs;
    let next = from + interval;
    // After a long stall (suspend), do not fire a burst of catch-up queries.
    if (next <= this.ctx.now()) next = this.ctx.now() + interval;
    this.generalQueryTimer.start(next);
  }

  private sendGeneralQuery(): void {
    this.port.sendQuery(generalQuery(this.ctx, GENERAL_QUERY_VERSION), ALL_SYSTEMS);
  }
}

export function generalQuery(ctx: CoreContext, version: 1 | 2 | 3): IgmpQuery {
  const settings = ctx.settings;
  if (version === 1) return { type: 'query', version: 1, maxResponseMs: 10_000, group: 0 };
  if (version === 2) return { type: 'query', version: 2, maxResponseMs: settings.queryResponseIntervalMs, group: 0 };
  return {
    type: 'query',
    version: 3,
    maxResponseMs: settings.queryResponseIntervalMs,
    group: 0,
    v3: {
      suppressRouterSide: false,
      robustness: settings.robustness,
      queryIntervalSeconds: settings.queryIntervalMs / 1000,
      sources: [],
    },
  };
}
