// Prints a DaemonConfig back in igmpproxy.conf syntax, normalised: every default spelled
// out, host bits cleared, no semicolons. Used by `igmpproxy --check` to show what a file
// means; parsing the output gives the same configuration again.
import { formatCidr } from '../net/ipv4.ts';
import type { DaemonConfig, PhyintConfig } from './types.ts';

/** Which interfaces `igmpproxy --list-interfaces ROLE` prints. */
export type ListRole = 'upstream' | 'downstream' | 'all';

/**
 * `igmpproxy --list-interfaces ROLE`, for scripts: one name a line for one role; for 'all',
 * "upstream NAME" and "downstream NAME" lines (disabled ones left out) and "altnet CIDR NAME"
 * for each altnet of a downstream (the receivers outside its subnet: the firewall helper
 * gives them a per-host share like the subnet's; the name last, as it may hold spaces).
 */
export function listInterfaces(config: DaemonConfig, role: ListRole): string {
  const lines: string[] = [];
  for (const phyint of config.interfaces) {
    if (role === 'all' && phyint.role !== 'disabled') lines.push(`${phyint.role} ${phyint.name}`);
    else if (phyint.role === role) lines.push(phyint.name);
  }
  if (role === 'all') {
    for (const phyint of config.interfaces) {
      if (phyint.role !== 'downstream') continue;
      for (const altnet of phyint.altnets) lines.push(`altnet ${formatCidr(altnet)} ${phyint.name}`);
    }
  }
  return lines.map((line) => `${line}\n`).join('');
}

function describePhyint(phyint: PhyintConfig): string[] {
  const lines = [`phyint ${phyint.name} ${phyint.role} ratelimit ${phyint.rateLimit} threshold ${phyint.threshold}`];
  for (const altnet of phyint.altnets) lines.push(`    altnet ${formatCidr(altnet)}`);
  for (const filter of phyint.groupFilters) {
    lines.push(`    ${filter.action === 'allow' ? 'whitelist' : 'blacklist'} ${formatCidr(filter.range)}`);
  }
  return lines;
}

export function describeConfig(config: DaemonConfig): string {
  const lines = [`# Effective configuration read from ${config.file.replace(/[\r\n]/g, ' ')}`];
  if (config.quickLeave) lines.push('quickleave');
  if (config.hashTableSize !== undefined) lines.push(`hashtablesize ${config.hashTableSize}`);
  // Roles below are explicit, so defaultdown only matters for interfaces not listed.
  if (config.defaultDown) lines.push('defaultdown');
  if (config.rescanVif) lines.push('rescanvif');
  if (config.chroot !== undefined) lines.push(`chroot ${config.chroot}`);
  if (config.user !== undefined) lines.push(`user ${config.user}`);
  lines.push(`stallalarm ${config.stallAlarmSeconds ?? 'off'}`);
  lines.push(`rpfilter ${config.rpFilter}`);
  lines.push(`maxgroups ${config.limits.groupsPerInterface}`);
  lines.push(`maxgroupsperhost ${config.limits.groupsPerHost}`);
  lines.push(`maxsources ${config.limits.sourcesPerGroup}`);
  lines.push(`igmpttl ${config.requireTtlOne ? '1' : 'any'}`);
  for (const phyint of config.interfaces) lines.push(...describePhyint(phyint));
  return `${lines.join('\n')}\n`;
}
