// What `igmpproxy diagnose` knows about the box after one look: gathered by gather.ts (all
// the I/O), judged by checks.ts (pure). Every reading that can fail says why instead of
// throwing, so a missing file or tool becomes one problem line.
import type { DaemonConfig } from '../config/types.ts';
import type { MfcEntry, VifStats } from '../kernel/mfc-stats.ts';
import type { StatusDocument } from '../runtime/status.ts';
import type { RoutesBack } from './reverse-path.ts';
import type { Result } from '../result.ts';

/**
 * The web page's settings file, and the first line of a configuration the initscript made
 * from it (build/render.ts LAYOUT's settingsFile and managedMark; a test keeps them equal).
 */
export const WEB_PAGE_SETTINGS = '/var/ipfire/igmpproxy/settings';
export const WEB_PAGE_MARK = '# igmpproxy-managed-by-web-ui';

export interface ConfigFacts {
  readonly path: string;
  /** The file starts with WEB_PAGE_MARK: the initscript rewrites it from the page's settings. */
  readonly writtenByWebPage: boolean;
  /** The parsed file, or why it cannot be used ("file:line:col: error: …" lines). */
  readonly loaded:
    | { readonly ok: true; readonly config: DaemonConfig; readonly warnings: readonly string[] }
    | { readonly ok: false; readonly errors: readonly string[] };
  /** Modification time of the file (ms since the epoch), when it could be read. */
  readonly modifiedAtMs: number | undefined;
}

export interface DaemonFacts {
  readonly pidfile: string;
  /** The pid the pidfile names, if it holds one. */
  readonly pid: number | undefined;
  /** That pid is a live process whose /proc/PID/comm is igmpproxy. */
  readonly running: boolean;
  /** The status document the daemon wrote when asked (SIGUSR1), or why there is none. */
  readonly status: Result<StatusDocument> | undefined;
}

export interface InterfaceFacts {
  readonly name: string;
  readonly exists: boolean;
  readonly up: boolean;
  /** Link carrier; undefined when unknown (down or gone). */
  readonly carrier: boolean | undefined;
  readonly multicast: boolean;
  /** IPv4 addresses as "a.b.c.d/len". */
  readonly addresses: readonly string[];
  /** net.ipv4.conf.<if>.rp_filter; undefined when unreadable. */
  readonly rpFilter: number | undefined;
}

export interface KernelRouteSample {
  /** When taken (monotonic ms). */
  readonly at: number;
  readonly routes: readonly MfcEntry[];
}

export interface Facts {
  readonly config: ConfigFacts;
  /** /proc/net/ip_mr_vif exists: the kernel was built with multicast routing. */
  readonly multicastRouting: boolean;
  /** The kernel's VIF table (empty when nobody holds multicast routing). */
  readonly kernelVifs: readonly VifStats[];
  readonly daemon: DaemonFacts;
  /** The interfaces the checks look at (the configured upstreams). */
  readonly interfaces: ReadonlyMap<string, InterfaceFacts>;
  /** net.ipv4.conf.all.rp_filter (the kernel uses the larger of it and the interface's). */
  readonly rpFilterAll: number | undefined;
  /**
   * The kernel's answer (RTM_GETROUTE, as `ip route get`: policy rules and every table) for
   * each stream source of the upstreams: the interface the route back leaves by, or none.
   */
  readonly routesBack: Result<RoutesBack>;
  /** `iptables -S` of the filter table. */
  readonly firewall: Result<string>;
  /** Two samples of /proc/net/ip_mr_cache about a second apart (none when unreadable). */
  readonly samples: readonly [KernelRouteSample, KernelRouteSample] | undefined;
}
