// Small helpers shared by the config tests.
import { expect } from 'vitest';
import { formatCidr } from '../../addon/daemon/net/ipv4.ts';
import { describeConfig } from '../../addon/daemon/config/describe.ts';
import { parseConfig } from '../../addon/daemon/config/parser.ts';
import { formatDiagnostic } from '../../addon/daemon/config/types.ts';
import type { ConfigDiagnostic, ConfigResult, DaemonConfig, PhyintConfig } from '../../addon/daemon/config/types.ts';

export const FILE = 'test.conf';

/** A minimal valid preamble, so single-problem tests are not also missing an upstream. */
export const VALID_BASE = 'phyint eth0 upstream\nphyint eth1 downstream\n';

export function parse(text: string): ConfigResult {
  return parseConfig(text, FILE);
}

export function errorsOf(result: ConfigResult): readonly ConfigDiagnostic[] {
  return result.ok ? [] : result.errors;
}

/** Diagnostics as "file:line:col: severity: message" lines, for readable assertions. */
export function lines(diagnostics: readonly ConfigDiagnostic[]): string[] {
  return diagnostics.map(formatDiagnostic);
}

export function expectOk(result: ConfigResult): DaemonConfig {
  if (!result.ok) expect.fail(`expected a valid config, got:\n${lines(result.errors).join('\n')}`);
  return result.config;
}

/** The phyint blocks in a compact, readable form. */
export function summarise(config: DaemonConfig): string[] {
  return config.interfaces.map((phyint: PhyintConfig) => {
    const parts = [phyint.name, phyint.role, `rl=${phyint.rateLimit}`, `th=${phyint.threshold}`];
    for (const altnet of phyint.altnets) parts.push(`altnet=${formatCidr(altnet)}`);
    for (const filter of phyint.groupFilters) parts.push(`${filter.action}=${formatCidr(filter.range)}`);
    return parts.join(' ');
  });
}

export function isDeepFrozen(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return true;
  if (!Object.isFrozen(value)) return false;
  return Object.values(value).every(isDeepFrozen);
}

/** The config without source locations, which a round trip cannot keep. */
export function withoutLocations(config: DaemonConfig): unknown {
  return JSON.parse(JSON.stringify(config, (key, value: unknown) => (key === 'location' ? undefined : value)));
}

/** describeConfig's text parses back to the same config. */
export function expectRoundTrip(config: DaemonConfig): void {
  const again = parseConfig(describeConfig(config), config.file);
  expect(withoutLocations(expectOk(again))).toEqual(withoutLocations(config));
}
