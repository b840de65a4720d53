// Which interfaces of the system the proxy uses, and in which role.
// Named phyint blocks decide for their interface. `defaultdown` (C igmpproxy) makes every
// other multicast-capable, non-loopback interface a downstream with default settings: the
// daemon expands the configuration with such blocks for the interfaces present now, so the
// core only ever sees explicit phyint entries.
import type { DaemonConfig, PhyintConfig } from '../config/types.ts';

export interface PresentInterface {
  readonly name: string;
  readonly loopback: boolean;
  readonly multicast: boolean;
}

export function expandDefaultDown(config: DaemonConfig, present: readonly PresentInterface[]): DaemonConfig {
  if (!config.defaultDown) return config;
  const named = new Set(config.interfaces.map((phyint) => phyint.name));
  const extra: PhyintConfig[] = present
    .filter((iface) => !named.has(iface.name) && !iface.loopback && iface.multicast)
    .map((iface) =>
      Object.freeze({
        name: iface.name,
        role: 'downstream' as const,
        rateLimit: 0,
        threshold: 1,
        altnets: Object.freeze([]),
        groupFilters: Object.freeze([]),
        location: Object.freeze({ file: config.file, line: 0, column: 0 }),
      }),
    );
  if (extra.length === 0) return config;
  return Object.freeze({ ...config, interfaces: Object.freeze([...config.interfaces, ...extra]) });
}

/** The upstream and downstream blocks (disabled ones do not take part). */
export function activeRoles(config: DaemonConfig): Map<string, PhyintConfig> {
  const roles = new Map<string, PhyintConfig>();
  for (const phyint of config.interfaces) if (phyint.role !== 'disabled') roles.set(phyint.name, phyint);
  return roles;
}
