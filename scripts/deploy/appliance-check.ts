// Judges the appliance from the preflight facts (remote-scripts.ts PREFLIGHT). Pure.

export interface ApplianceFacts {
  readonly release: string;
  readonly hasPakfire: boolean;
  readonly arch: string;
  readonly missingTools: readonly string[];
  /** Free bytes (for unprivileged use, as `df` shows), null when unknown/missing. */
  readonly freeTmp: number | null;
  readonly freeRoot: number | null;
  readonly freeStaging: number | null;
  readonly lockHeld: boolean;
  readonly installed: { readonly version: string; readonly release: string } | null;
}

function freeBytes(text: string | undefined): number | null {
  const match = /^([0-9]+) ([0-9]+)$/.exec(text ?? '');
  if (!match) return null;
  return Number(match[1]) * Number(match[2]);
}

export function parsePreflight(output: string): ApplianceFacts {
  const values = new Map<string, string[]>();
  for (const line of output.split('\n')) {
    const at = line.indexOf('=');
    if (at <= 0) continue;
    const key = line.slice(0, at);
    const list = values.get(key) ?? [];
    list.push(line.slice(at + 1));
    values.set(key, list);
  }
  const one = (key: string): string | undefined => values.get(key)?.[0];
  return {
    release: one('release') ?? '',
    hasPakfire: one('pakfire') === 'yes',
    arch: one('arch') ?? '',
    missingTools: values.get('missing_tool') ?? [],
    freeTmp: freeBytes(one('free_tmp')),
    freeRoot: freeBytes(one('free_root')),
    freeStaging: freeBytes(one('free_staging')),
    lockHeld: one('lock') === 'held',
    installed:
      one('installed') === 'yes'
        ? { version: one('installed_version') ?? '?', release: one('installed_release') ?? '?' }
        : null,
  };
}

/** Space asked for in pakfire's tmp and on /: the package unpacks, and its payload expands. */
export const SPACE_FACTOR = 3;

function megabytes(bytes: number): string {
  return `${(bytes / 1_048_576).toFixed(1)} MB`;
}

export interface CheckRequest {
  readonly action: 'install' | 'uninstall';
  /** null: the package holds no native code (scripts only), any architecture will do. */
  readonly packageArch: string | null;
  readonly packageSize: number;
}

/** Why the system is no IPFire the deploy can work on (before any package matters), or null. */
export function systemProblem(facts: ApplianceFacts): string | null {
  if (!facts.release.includes('IPFire')) {
    return `not an IPFire appliance (/etc/system-release: ${JSON.stringify(facts.release || 'missing')})`;
  }
  if (!facts.hasPakfire) return 'not an IPFire appliance with pakfire (/opt/pakfire is missing)';
  if (facts.missingTools.length > 0) return `the appliance lacks ${facts.missingTools.join(', ')}`;
  return null;
}

/** The first reason the appliance cannot take the package, or null when all checks pass. */
export function applianceProblem(facts: ApplianceFacts, request: CheckRequest): string | null {
  const system = systemProblem(facts);
  if (system !== null) return system;
  if (request.packageArch !== null && facts.arch !== request.packageArch) {
    return `the package is built for ${request.packageArch} but the appliance is ${facts.arch || 'of unknown architecture'}`;
  }
  if (facts.lockHeld) return 'pakfire is running (/tmp/pakfire_lock exists); try again when it has finished';
  const need = SPACE_FACTOR * request.packageSize;
  const spaces: [string, number | null][] = [
    ['/opt/pakfire/tmp', facts.freeTmp],
    ['/', facts.freeRoot],
    ['/var/tmp', facts.freeStaging],
  ];
  for (const [where, free] of spaces) {
    if (free === null) return `cannot tell the free space in ${where} on the appliance`;
    if (free < need) {
      return `not enough free space in ${where}: ${megabytes(free)} free, ${megabytes(need)} needed (${SPACE_FACTOR}x the package)`;
    }
  }
  return null;
}
