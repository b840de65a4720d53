// Protocol values of one downstream link. RFC 3376 4.1.6 and 4.1.7: a router that is not
// the querier adopts the Robustness Variable (QRV) and Query Interval (QQIC) of the
// querier's most recent query, a zero field meaning "the default". Its group timers
// (Group Membership Interval = RV * QI + QRI) and Other Querier Present Interval then
// follow the querier that really paces the hosts' reports: with a querier that queries
// every 300 s, our own 125 s values would expire groups (cutting a TV off) between its
// queries, and take over as querier while it is still there. When we are the querier
// again, our own values apply (and go out in our queries for the hosts to follow).
import type { IgmpQuery } from '../igmp/types.ts';
import type { CoreContext } from './context.ts';
import { deriveSettings, type ProtocolSettings } from './settings.ts';

export class LinkSettings {
  private readonly own: ProtocolSettings;
  private adopted: ProtocolSettings | undefined;

  constructor(own: ProtocolSettings) {
    this.own = own;
  }

  get current(): ProtocolSettings {
    return this.adopted ?? this.own;
  }

  /** Whether the current values are the querier's rather than our own. */
  get isAdopted(): boolean {
    return this.adopted !== undefined;
  }

  /**
   * Takes the querier's QRV and QQIC from its query (IGMPv3 only: older queries carry
   * neither). Returns true when the values in force changed.
   */
  adopt(query: IgmpQuery): boolean {
    if (query.v3 === undefined) return false;
    const robustness = query.v3.robustness > 0 ? query.v3.robustness : this.own.robustness;
    const queryIntervalMs =
      query.v3.queryIntervalSeconds > 0 ? query.v3.queryIntervalSeconds * 1000 : this.own.queryIntervalMs;
    const before = this.current;
    if (robustness === before.robustness && queryIntervalMs === before.queryIntervalMs) return false;
    this.adopted =
      robustness === this.own.robustness && queryIntervalMs === this.own.queryIntervalMs
        ? undefined
        : deriveSettings(
            robustness,
            queryIntervalMs,
            this.own.queryResponseIntervalMs,
            this.own.lastMemberQueryIntervalMs,
          );
    return true;
  }

  /** Back to our own values (we are the querier again, or the link restarted). Returns true when they changed. */
  reset(): boolean {
    const changed = this.adopted !== undefined;
    this.adopted = undefined;
    return changed;
  }
}

/** The context for one link's modules: the shared one, with the link's settings in force. */
export function linkContext(shared: CoreContext, link: LinkSettings): CoreContext {
  return {
    ...shared,
    get settings() {
      return link.current;
    },
  };
}
