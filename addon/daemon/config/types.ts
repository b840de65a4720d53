// The effective configuration: what an igmpproxy.conf means after parsing.
// Immutable (deeply frozen by the parser) so reloads can compare old and new safely.
import type { Cidr } from '../net/ipv4.ts';

export type InterfaceRole = 'upstream' | 'downstream' | 'disabled';

/** Where in a config file something was written; line and column are 1-based. */
export interface SourceLocation {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

/** One whitelist/blacklist entry; entries are checked in order and the last match wins. */
export interface GroupFilter {
  readonly action: 'allow' | 'deny';
  readonly range: Cidr;
  readonly location: SourceLocation;
}

export interface PhyintConfig {
  readonly name: string;
  readonly role: InterfaceRole;
  /** Kernel rate limit in kbit/s, 0 = none. */
  readonly rateLimit: number;
  /** TTL threshold, 1..255: the kernel forwards a packet when its TTL exceeds it. */
  readonly threshold: number;
  /**
   * Extra networks. On an upstream: allowed multicast source networks.
   * On a downstream: allowed report sender networks besides the interface's own subnet.
   */
  readonly altnets: readonly Cidr[];
  /** whitelist/blacklist entries in file order. Any 'allow' makes the default deny. */
  readonly groupFilters: readonly GroupFilter[];
  readonly location: SourceLocation;
}

export interface DownstreamLimits {
  /** Groups with members per downstream interface (`maxgroups`). */
  readonly groupsPerInterface: number;
  /** Groups one receiver may be a member of per downstream (`maxgroupsperhost`). */
  readonly groupsPerHost: number;
  /** Sources in one group's state per downstream (`maxsources`). */
  readonly sourcesPerGroup: number;
}

export interface DaemonConfig {
  readonly file: string;
  readonly quickLeave: boolean;
  /** Accepted for compatibility (C sizes its host hash with it); hosts are tracked exactly here. */
  readonly hashTableSize: number | undefined;
  readonly defaultDown: boolean;
  /** Accepted for compatibility; interfaces are always tracked as they come and go. */
  readonly rescanVif: boolean;
  readonly chroot: string | undefined;
  readonly user: string | undefined;
  /** Seconds without a new packet on a route with receivers before a stall is logged; null = off. */
  readonly stallAlarmSeconds: number | null;
  /**
   * `auto`: an upstream whose altnet sources route back through another interface is
   * switched from strict to loose reverse-path filtering while the daemon runs.
   * `keep`: rp_filter is never touched.
   */
  readonly rpFilter: 'auto' | 'keep';
  /** What each downstream admits from its receivers (ours; C igmpproxy has no limits). */
  readonly limits: DownstreamLimits;
  /** `igmpttl 1` (default): IGMP on a downstream counts only with IP TTL 1 (RFC 2236 2,
   * RFC 3376 4); `igmpttl any` accepts every TTL, as C igmpproxy does. */
  readonly requireTtlOne: boolean;
  /** Every phyint block that counts (the first block per interface name), in file order. */
  readonly interfaces: readonly PhyintConfig[];
}

export interface ConfigDiagnostic {
  readonly severity: 'error' | 'warning';
  readonly location: SourceLocation;
  readonly message: string;
}

export type ConfigResult =
  | { readonly ok: true; readonly config: DaemonConfig; readonly warnings: readonly ConfigDiagnostic[] }
  | {
      readonly ok: false;
      readonly errors: readonly ConfigDiagnostic[];
      readonly warnings: readonly ConfigDiagnostic[];
    };

/** "file:line:col: severity: message", the format every tool understands. */
export function formatDiagnostic(d: ConfigDiagnostic): string {
  return `${d.location.file}:${d.location.line}:${d.location.column}: ${d.severity}: ${d.message}`;
}
