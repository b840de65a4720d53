// The state dump of SIGUSR1: interfaces, groups, hosts and routes with the kernel's packet
// counters, as JSON in /var/run/igmpproxy.status (for `deploy --status` and scripts) and as
// a short summary in the log. The format is docs/status-format.md; `schema` changes only
// when a field is removed or changes its meaning (readers check it).
import { formatIpv4 } from '../net/ipv4.ts';
import { writeFileAtomic } from './atomic-file.ts';
import type { ProxySnapshot } from '../core/proxy.ts';
import type { MfcEntry, VifStats } from '../kernel/mfc-stats.ts';
import type { VifEntry } from '../kernel/vif-table.ts';
import type { StallAlarmStatus } from './stall-monitor.ts';

export const DEFAULT_STATUS_FILE = '/var/run/igmpproxy.status';
/** Version of the document's format (docs/status-format.md). */
export const STATUS_SCHEMA = 1;

export interface StatusDocument {
  readonly schema: typeof STATUS_SCHEMA;
  readonly version: string;
  readonly pid: number;
  readonly configFile: string;
  /** When the configuration in use was read (start or the last SIGHUP that took it). */
  readonly configLoadedAt: string;
  readonly startedAt: string;
  readonly writtenAt: string;
  readonly vifs: readonly (VifEntry & {
    packetsIn?: number;
    packetsOut?: number;
    bytesIn?: number;
    bytesOut?: number;
  })[];
  readonly waitingFor: readonly string[];
  readonly proxy: ProxySnapshot;
  readonly kernelRoutes: readonly {
    readonly source: string;
    readonly group: string;
    readonly input: string;
    readonly outputs: readonly string[];
    readonly packets: number;
    readonly bytes: number;
    readonly wrongInterface: number;
  }[];
  readonly stallAlarm: StallAlarmStatus;
}

export function buildStatus(input: {
  version: string;
  configFile: string;
  configLoadedAt: Date;
  startedAt: Date;
  now: Date;
  vifs: readonly VifEntry[];
  vifStats: readonly VifStats[];
  mfc: readonly MfcEntry[];
  waitingFor: readonly string[];
  proxy: ProxySnapshot;
  stallAlarm: StallAlarmStatus;
}): StatusDocument {
  const nameOfVif = new Map(input.vifs.map((entry) => [entry.vif, entry.name]));
  const statsOfVif = new Map(input.vifStats.map((stats) => [stats.vif, stats]));
  return {
    schema: STATUS_SCHEMA,
    version: input.version,
    pid: process.pid,
    configFile: input.configFile,
    configLoadedAt: input.configLoadedAt.toISOString(),
    startedAt: input.startedAt.toISOString(),
    writtenAt: input.now.toISOString(),
    vifs: input.vifs.map((entry) => {
      const stats = statsOfVif.get(entry.vif);
      return stats
        ? {
            ...entry,
            packetsIn: stats.packetsIn,
            packetsOut: stats.packetsOut,
            bytesIn: stats.bytesIn,
            bytesOut: stats.bytesOut,
          }
        : { ...entry };
    }),
    waitingFor: input.waitingFor,
    proxy: input.proxy,
    kernelRoutes: input.mfc.map((route) => ({
      source: formatIpv4(route.source),
      group: formatIpv4(route.group),
      input: nameOfVif.get(route.inputVif) ?? `vif${route.inputVif}`,
      outputs: route.outputs.map((out) => nameOfVif.get(out.vif) ?? `vif${out.vif}`),
      packets: route.packets,
      bytes: route.bytes,
      wrongInterface: route.wrongInterface,
    })),
    stallAlarm: input.stallAlarm,
  };
}

/** A few log lines an admin can read in the system log (on IPFire: /var/log/messages). */
export function summarizeStatus(status: StatusDocument): string[] {
  const lines: string[] = [];
  for (const up of status.proxy.upstreams) {
    lines.push(
      `upstream ${up.name} (${up.address}): ${up.joined.length} groups joined, querier IGMPv${up.querierVersion}`,
    );
  }
  for (const down of status.proxy.downstreams) {
    const hosts = new Set(down.groups.flatMap((g) => g.hosts));
    lines.push(
      `downstream ${down.name} (${down.address}/${down.prefixLength}): ${down.groups.length} groups, ${hosts.size} hosts, ` +
        (down.querier.querier ? 'we are querier' : `querier is ${down.querier.otherQuerier ?? 'another router'}`) +
        (down.querier.valuesFromOtherQuerier
          ? ` (its robustness ${down.querier.robustness}, query interval ${down.querier.queryIntervalSeconds} s)`
          : ''),
    );
  }
  for (const down of status.proxy.downstreams) {
    const r = down.refused;
    const causes = [
      [r.groupsPerInterface, 'beyond maxgroups'],
      [r.groupsPerHost, 'beyond maxgroupsperhost'],
      [r.sourcesPerGroup, 'beyond maxsources'],
      [r.ttl, 'with IP TTL not 1'],
      [r.reportRate, 'unread: the host sent too fast'],
    ] as const;
    const counted = causes.filter(([count]) => count > 0).map(([count, why]) => `${count} ${why}`);
    if (counted.length > 0)
      lines.push(
        `downstream ${down.name} ignored IGMP: ${counted.join(', ')} (latest from ${r.lastHost ?? 'unknown'})`,
      );
  }
  for (const up of status.proxy.upstreams) {
    if (up.pacedChanges > 0)
      lines.push(
        `upstream ${up.name}: ${up.pacedChanges} group changes waited for the report pacing, ${up.waitingChanges} wait now`,
      );
  }
  for (const route of status.kernelRoutes) {
    lines.push(
      `route (${route.source}, ${route.group}) ${route.input} -> ${route.outputs.join(' ') || '(none)'}: ${route.packets} packets`,
    );
  }
  for (const group of status.stallAlarm.groups) {
    if (group.stalled)
      lines.push(`group ${group.group} is stalled for ${group.stalledForSeconds} s (${group.stalls} stalls so far)`);
  }
  if (status.waitingFor.length > 0) lines.push(`waiting for: ${status.waitingFor.join(' ')}`);
  return lines;
}

/** Atomic write, mode 0644: readers never see half a document. */
export function writeStatusFile(file: string, status: StatusDocument): void {
  writeFileAtomic(file, `${JSON.stringify(status, null, 2)}\n`);
}
