// Turns the output of the remote status script into a report. Pure and tolerant: any part may
// be missing (no initscript, daemon not running, no status file, chains absent).
import type { PackageMeta } from './package-info.ts';
import { parseMetaFields } from './package-info.ts';

export interface StatusReport {
  readonly service: { readonly state: 'running' | 'stopped' | 'missing' | 'unknown'; readonly text: string };
  readonly installed: Pick<PackageMeta, 'version' | 'release'> | null;
  readonly daemon:
    | {
        readonly kind: 'ok';
        readonly fresh: boolean;
        readonly groups: readonly string[];
        readonly routes: readonly string[];
      }
    | { readonly kind: 'unavailable'; readonly reason: string };
  readonly firewall: { readonly input: boolean | null; readonly forward: boolean | null };
}

export function splitSections(output: string): Map<string, string[]> {
  const sections = new Map<string, string[]>();
  let current: string[] | null = null;
  for (const line of output.split('\n')) {
    const header = /^@@section (\S+)$/.exec(line);
    if (header) {
      current = [];
      sections.set(header[1] ?? '', current);
    } else if (current) {
      current.push(line);
    }
  }
  for (const lines of sections.values()) {
    while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  }
  return sections;
}

function marker(lines: readonly string[], name: string): string | null {
  const prefix = `@@${name}`;
  const line = lines.find((candidate) => candidate === prefix || candidate.startsWith(`${prefix} `));
  return line === undefined ? null : line.slice(prefix.length).trim();
}

function withoutMarkers(lines: readonly string[]): string[] {
  return lines.filter((line) => !line.startsWith('@@'));
}

/** Plain-object access for the tolerant reading of a JSON document from the appliance. */
function field(value: unknown, name: string): unknown {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)[name]
    : undefined;
}

function array(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/**
 * Groups and routes from the daemon's status file (addon/daemon/runtime/status.ts):
 * proxy.downstreams[].groups[] with their hosts, and kernelRoutes[] with packet counters.
 */
export function daemonLists(status: unknown): { groups: string[]; routes: string[] } {
  const groups: string[] = [];
  for (const downstream of array(field(field(status, 'proxy'), 'downstreams'))) {
    for (const group of array(field(downstream, 'groups'))) {
      const hosts = array(field(group, 'hosts')).map(String);
      groups.push(
        `${String(field(group, 'group'))} on ${String(field(downstream, 'name'))}: ${hosts.length} host(s)${hosts.length ? ` ${hosts.join(' ')}` : ''}`,
      );
    }
  }
  const routes = array(field(status, 'kernelRoutes')).map((route) => {
    const outputs = array(field(route, 'outputs')).map(String);
    return (
      `(${String(field(route, 'source'))}, ${String(field(route, 'group'))}) ${String(field(route, 'input'))} -> ` +
      `${outputs.join(' ') || '(none)'}: ${String(field(route, 'packets'))} packets`
    );
  });
  return { groups, routes };
}

/** The status document format this tool reads (docs/status-format.md). */
export const KNOWN_STATUS_SCHEMA = 1;

function chainHooked(lines: readonly string[] | undefined, target: string): boolean | null {
  if (lines === undefined) return null;
  const rc = marker(lines, 'rc');
  if (rc !== '0') return null;
  return withoutMarkers(lines).some((line) => new RegExp(`(^|\\s)-j ${target}(\\s|$)`).test(line));
}

/**
 * The text of an initscript's status line as plain characters: IPFire's statusproc colours
 * it (echo -e "${INFO}..."), and no escape sequence from the appliance reaches the terminal.
 */
export function plainServiceText(text: string): string {
  return text.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').replace(/[\x00-\x1f\x7f]/g, ' ');
}

export function parseStatus(output: string, name: string): StatusReport {
  const sections = splitSections(output);
  const serviceLines = sections.get('service') ?? [];
  const serviceText = plainServiceText(withoutMarkers(serviceLines).join(' ')).replace(/\s+/g, ' ').trim();
  let state: StatusReport['service']['state'] = 'unknown';
  if (marker(serviceLines, 'missing') !== null) state = 'missing';
  else if (/\bnot running\b/i.test(serviceText)) state = 'stopped';
  else if (/\bis running\b/i.test(serviceText)) state = 'running';

  const metaFields = parseMetaFields((sections.get('meta') ?? []).join('\n'));
  const version = metaFields.get('ProgVersion');
  const installed = version ? { version, release: metaFields.get('Release') ?? '?' } : null;

  const daemonLines = sections.get('daemon') ?? [];
  const fileLines = sections.get('statusfile') ?? [];
  let daemon: StatusReport['daemon'];
  const absent = marker(fileLines, 'absent');
  const nopid = marker(daemonLines, 'nopid');
  const deadpid = marker(daemonLines, 'deadpid');
  if (nopid !== null) {
    daemon = { kind: 'unavailable', reason: `the daemon is not running (no pid in ${nopid})` };
  } else if (deadpid !== null) {
    daemon = {
      kind: 'unavailable',
      reason: `the daemon is not running (pid ${deadpid} is gone, or is another program's)`,
    };
  } else if (absent !== null) {
    daemon = { kind: 'unavailable', reason: `no status file ${absent}` };
  } else {
    try {
      const parsed: unknown = JSON.parse(withoutMarkers(fileLines).join('\n'));
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
      // A document without schema predates it (same fields as schema 1); a newer one may mean otherwise.
      const schema = field(parsed, 'schema');
      daemon =
        typeof schema === 'number' && schema > KNOWN_STATUS_SCHEMA
          ? {
              kind: 'unavailable',
              reason: `the status file of ${name} has format schema ${schema}; this deploy tool reads schema ${KNOWN_STATUS_SCHEMA} (update the tool)`,
            }
          : { kind: 'ok', fresh: marker(daemonLines, 'fresh') !== null, ...daemonLists(parsed) };
    } catch {
      daemon = { kind: 'unavailable', reason: `the status file of ${name} is not valid JSON` };
    }
  }

  return {
    service: { state, text: serviceText },
    installed,
    daemon,
    firewall: {
      input: chainHooked(sections.get('iptvinput'), 'IGMPPROXY_IN'),
      forward: chainHooked(sections.get('iptvforward'), 'IGMPPROXY_FWD'),
    },
  };
}

function yesNo(value: boolean | null, what: string): string {
  if (value === null) return `${what}: chain missing or iptables failed`;
  return `${what}: ${value ? 'in place' : 'NOT in place'}`;
}

export function formatStatus(report: StatusReport): string[] {
  const lines: string[] = [];
  lines.push(`service: ${report.service.state}${report.service.text ? ` (${report.service.text})` : ''}`);
  lines.push(`installed: ${report.installed ? `${report.installed.version}-${report.installed.release}` : 'no'}`);
  if (report.daemon.kind === 'unavailable') {
    lines.push(`daemon status: unavailable (${report.daemon.reason})`);
  } else {
    if (!report.daemon.fresh)
      lines.push('daemon status: the daemon did not refresh its status file; showing the last one');
    lines.push(`groups: ${report.daemon.groups.length}`);
    for (const group of report.daemon.groups) lines.push(`  ${group}`);
    lines.push(`routes: ${report.daemon.routes.length}`);
    for (const route of report.daemon.routes) lines.push(`  ${route}`);
  }
  lines.push(yesNo(report.firewall.input, 'firewall IPTVINPUT -> IGMPPROXY_IN'));
  lines.push(yesNo(report.firewall.forward, 'firewall IPTVFORWARD -> IGMPPROXY_FWD'));
  return lines;
}

/** Short form for the per-host summary line. */
export function summarizeStatus(report: StatusReport): string {
  const version = report.installed ? `${report.installed.version}-${report.installed.release}` : 'not installed';
  const groups = report.daemon.kind === 'ok' ? `, ${report.daemon.groups.length} groups` : '';
  const firewall =
    report.firewall.input && report.firewall.forward ? ', firewall hooks in place' : ', firewall hooks missing';
  return `${version}, service ${report.service.state}${groups}${firewall}`;
}
