// The judgement of `igmpproxy diagnose`: from the gathered facts, a list of checks (stable
// id, ok or not, what was seen, how to fix it) and a table of the groups. Pure: no I/O, no
// clock (times come with the facts), so each check is tested with made-up facts.
//
// Checks that need the daemon's state (querier, refused sources, streams) are left out when
// the daemon does not run or gave no status: the `daemon` check says so once.
import { formatCidr, formatIpv4, makeCidr, parseIpv4 } from '../net/ipv4.ts';
import { RP_FILTER_STRICT } from '../net/reverse-path.ts';
import type { StatusDocument } from '../runtime/status.ts';
import type { ConfigFacts, Facts, InterfaceFacts } from './facts.ts';
import { FIREWALL_CHAINS, FIREWALL_HELPER, missingFirewallRules } from './firewall-rules.ts';
import { reversePathVerdict, streamSources } from './reverse-path.ts';

export type CheckId =
  | 'config'
  | 'kernel-mroute'
  | 'daemon'
  | 'upstream-exists'
  | 'upstream-up'
  | 'upstream-multicast'
  | 'upstream-rp-filter'
  | 'upstream-querier'
  | 'upstream-altnet'
  | 'downstream-limits'
  | 'firewall'
  | 'streams';

export interface Check {
  readonly id: CheckId;
  /** The interface a per-upstream or per-downstream check is about. */
  readonly interface?: string;
  readonly ok: boolean;
  readonly message: string;
  /** What to do; null when ok. */
  readonly fix: string | null;
}

export interface GroupRow {
  readonly group: string;
  /** null: receivers wait but the kernel has no route (nothing arrives). */
  readonly source: string | null;
  readonly upstream: string | null;
  /** Receivers heard on the downstreams (hosts; at least 1 when the group has members). */
  readonly receivers: number;
  readonly downstreams: readonly string[];
  /** The kernel's packet counter of the route; null without a route. */
  readonly packets: number | null;
  /** Packets and bit rate between the two samples; null without a route in both. */
  readonly packetsPerSecond: number | null;
  readonly bitsPerSecond: number | null;
  /** Has receivers but nothing arrived between the samples. */
  readonly stalled: boolean;
}

export interface Diagnosis {
  readonly checks: readonly Check[];
  readonly groups: readonly GroupRow[];
}

const INITSCRIPT = '/etc/rc.d/init.d/igmpproxy';
const ok = (id: CheckId, message: string, iface?: string): Check => ({
  id,
  ...(iface ? { interface: iface } : {}),
  ok: true,
  message,
  fix: null,
});
const problem = (id: CheckId, message: string, fix: string, iface?: string): Check => ({
  id,
  ...(iface ? { interface: iface } : {}),
  ok: false,
  message,
  fix,
});

export function diagnose(facts: Facts): Diagnosis {
  const status = facts.daemon.status?.ok ? facts.daemon.status.value : undefined;
  const checks: Check[] = [checkConfig(facts), checkKernel(facts), checkDaemon(facts)];
  for (const name of upstreamNames(facts, status)) checks.push(...checkUpstream(facts, status, name));
  if (status)
    for (const down of status.proxy.downstreams) checks.push(checkDownstreamLimits(facts.config, status, down));
  checks.push(checkFirewall(facts));
  const groups = status && facts.samples ? groupRows(status, facts) : [];
  if (status) checks.push(checkStreams(facts, groups));
  return { checks, groups };
}

function upstreamNames(facts: Facts, status: StatusDocument | undefined): string[] {
  const loaded = facts.config.loaded;
  if (loaded.ok) return loaded.config.interfaces.filter((i) => i.role === 'upstream').map((i) => i.name);
  return status?.proxy.upstreams.map((u) => u.name) ?? [];
}

function downstreamNames(facts: Facts, status: StatusDocument | undefined): string[] {
  const loaded = facts.config.loaded;
  if (loaded.ok) return loaded.config.interfaces.filter((i) => i.role === 'downstream').map((i) => i.name);
  return status?.proxy.downstreams.map((d) => d.name) ?? [];
}

export function checkConfig(facts: Facts): Check {
  const { path, loaded } = facts.config;
  if (!loaded.ok) {
    if (loaded.errors.some((error) => error.endsWith('it does not exist'))) {
      return problem(
        'config',
        loaded.errors[0]!,
        `igmpproxy setup shows a configuration made from IPFire's settings; igmpproxy setup --write creates ${path}`,
      );
    }
    return problem(
      'config',
      loaded.errors.slice(0, 3).join('; '),
      `correct ${path} (igmpproxy --check ${path} lists every error; igmpproxy setup makes one from IPFire's settings)`,
    );
  }
  if (loaded.warnings.length > 0) {
    return problem(
      'config',
      loaded.warnings.slice(0, 3).join('; '),
      `edit ${path} as the warning says, then ${INITSCRIPT} reload`,
    );
  }
  const up = loaded.config.interfaces.filter((i) => i.role === 'upstream').map((i) => i.name);
  const down = loaded.config.interfaces.filter((i) => i.role === 'downstream').map((i) => i.name);
  if (up.length === 0) {
    return problem(
      'config',
      `${path} has no upstream interface: nothing can be proxied`,
      `add "phyint <interface> upstream" for the interface IPTV arrives on, or run igmpproxy setup --write`,
    );
  }
  if (down.length === 0 && !loaded.config.defaultDown) {
    return problem(
      'config',
      `${path} has no downstream interface: no receiver can be served`,
      `add "phyint green0 downstream" (the zone of the TV receivers), or run igmpproxy setup --write`,
    );
  }
  return ok(
    'config',
    `${path}: upstream ${up.join(' ')}, downstream ${loaded.config.defaultDown ? 'every other interface' : down.join(' ')}; no warnings`,
  );
}

export function checkKernel(facts: Facts): Check {
  if (!facts.multicastRouting) {
    return problem(
      'kernel-mroute',
      'the kernel cannot route multicast (no /proc/net/ip_mr_vif: built without CONFIG_IP_MROUTE)',
      "use a kernel with CONFIG_IP_MROUTE=y (IPFire's has it)",
    );
  }
  if (!facts.daemon.running && facts.kernelVifs.length > 0) {
    const vifs = facts.kernelVifs.map((v) => v.name).join(' ');
    return problem(
      'kernel-mroute',
      `another multicast router holds the kernel's multicast routing table (its interfaces: ${vifs}) while igmpproxy does not run`,
      `stop that program (another igmpproxy, pimd, mcproxy, smcroute, FRR pimd): only one can route multicast; then ${INITSCRIPT} start`,
    );
  }
  const holder = facts.daemon.running ? `held by igmpproxy (${facts.kernelVifs.length} interfaces)` : 'free';
  return ok('kernel-mroute', `the kernel routes multicast; its table is ${holder}`);
}

export function checkDaemon(facts: Facts): Check {
  const { daemon, config } = facts;
  const start = `${INITSCRIPT} start (if it stops again, the reason is in /var/log/messages)`;
  if (daemon.pid === undefined) return problem('daemon', `igmpproxy does not run (no pid in ${daemon.pidfile})`, start);
  if (!daemon.running) {
    return problem(
      'daemon',
      `igmpproxy does not run (${daemon.pidfile} names pid ${daemon.pid}, which is not a live igmpproxy)`,
      start,
    );
  }
  if (!daemon.status?.ok) {
    const reason = daemon.status?.reason ?? 'not asked';
    return problem(
      'daemon',
      `igmpproxy runs (pid ${daemon.pid}) but gave no status: ${reason}; querier, sources and streams not checked`,
      `${INITSCRIPT} restart; if it persists, report it with /var/log/messages`,
    );
  }
  const status = daemon.status.value;
  const uptime = formatDuration((Date.parse(status.writtenAt) - Date.parse(status.startedAt)) / 1000);
  if (status.configFile !== config.path) {
    return problem(
      'daemon',
      `igmpproxy runs (pid ${daemon.pid}, up ${uptime}) with ${status.configFile}, not ${config.path}`,
      `run igmpproxy diagnose ${status.configFile}, or restart it with ${config.path}`,
    );
  }
  const loadedAt = Date.parse(status.configLoadedAt);
  if (config.modifiedAtMs !== undefined && config.modifiedAtMs > loadedAt) {
    return problem(
      'daemon',
      `igmpproxy runs (pid ${daemon.pid}, up ${uptime}), but ${config.path} changed after it read the file (${status.configLoadedAt})`,
      `igmpproxy --check ${config.path}, then ${INITSCRIPT} reload`,
    );
  }
  return ok(
    'daemon',
    `igmpproxy runs (pid ${daemon.pid}, version ${status.version}, up ${uptime}) with ${config.path} as it is on disk`,
  );
}

function checkUpstream(facts: Facts, status: StatusDocument | undefined, name: string): Check[] {
  const iface = facts.interfaces.get(name);
  if (iface === undefined || !iface.exists) {
    return [
      problem(
        'upstream-exists',
        `upstream ${name} does not exist`,
        `check the name with "ip link"; a PPPoE or VLAN interface appears once the line is connected; igmpproxy setup picks the upstream from IPFire's settings`,
        name,
      ),
    ];
  }
  const checks = [
    ok('upstream-exists', `upstream ${name} exists`, name),
    checkUp(iface),
    checkMulticast(iface),
    checkRpFilter(facts, status, name),
  ];
  if (status) checks.push(checkQuerier(status, name), checkAltnet(facts, status, name));
  return checks;
}

export function checkUp(iface: InterfaceFacts): Check {
  const name = iface.name;
  if (!iface.up)
    return problem(
      'upstream-up',
      `${name} is down`,
      `ip link set dev ${name} up (or connect the line in IPFire's web UI)`,
      name,
    );
  if (iface.carrier === false)
    return problem(
      'upstream-up',
      `${name} has no carrier`,
      `check the cable, the modem and, for a VLAN, its parent interface`,
      name,
    );
  if (iface.addresses.length === 0) {
    return problem(
      'upstream-up',
      `${name} is up but has no IPv4 address`,
      `wait for the line to connect (DHCP or PPP), or check the red interface's settings`,
      name,
    );
  }
  return ok('upstream-up', `${name} is up with ${iface.addresses.join(' ')}`, name);
}

export function checkMulticast(iface: InterfaceFacts): Check {
  const name = iface.name;
  if (!iface.multicast) {
    return problem(
      'upstream-multicast',
      `multicast is switched off on ${name}: no stream is received`,
      `ip link set dev ${name} multicast on (the running daemon does this itself; IPFire switches it off at every connect)`,
      name,
    );
  }
  return ok('upstream-multicast', `multicast is on on ${name}`, name);
}

const RP_MODES: Record<number, string> = { 0: 'off', 1: 'strict', 2: 'loose' };

export function checkRpFilter(facts: Facts, status: StatusDocument | undefined, name: string): Check {
  const own = facts.interfaces.get(name)?.rpFilter;
  if (own === undefined || facts.rpFilterAll === undefined) {
    return problem(
      'upstream-rp-filter',
      `cannot read rp_filter of ${name}`,
      'run igmpproxy diagnose as root on the router',
      name,
    );
  }
  if (!facts.routesBack.ok) {
    return problem(
      'upstream-rp-filter',
      `cannot ask the kernel for the routes back: ${facts.routesBack.reason}`,
      'run igmpproxy diagnose as root on the router',
      name,
    );
  }
  const loaded = facts.config.loaded;
  const sources = streamSources(loaded.ok ? loaded.config : undefined, status, name);
  const verdict = reversePathVerdict({
    upstream: name,
    all: facts.rpFilterAll,
    own,
    routesBack: facts.routesBack.value,
    sources,
  });
  const mode = `rp_filter ${verdict.mode} (${RP_MODES[verdict.mode] ?? 'unknown'})`;
  if (verdict.dropped.length > 0) {
    const byRoute = new Map<string, string[]>();
    for (const { source, routesVia } of verdict.dropped) {
      const where = routesVia === undefined ? 'have no route back' : `route back via ${routesVia}, not ${name}`;
      byRoute.set(where, [...(byRoute.get(where) ?? []), source]);
    }
    const where = [...byRoute].map(([route, list]) => `${list.join(' and ')} ${route}`).join('; ');
    return problem(
      'upstream-rp-filter',
      `${mode} on ${name}, and the stream sources ${where}: the kernel drops these streams before igmpproxy sees them`,
      verdict.mode === RP_FILTER_STRICT
        ? strictFix(facts, name)
        : `add a route to the sources (a default route does), or echo 0 > /proc/sys/net/ipv4/conf/${name}/rp_filter`,
      name,
    );
  }
  const checked =
    sources.length === 0
      ? 'no stream source to check'
      : `the stream sources route back through ${verdict.mode === 1 ? name : 'some interface'}`;
  return ok(
    'upstream-rp-filter',
    `${mode} on ${name}; ${verdict.mode === 0 ? 'no reverse-path check' : checked}`,
    name,
  );
}

/**
 * Strict mode drops the streams. With `rpfilter auto` the daemon switches the upstream to
 * loose itself while it runs (runtime/rp-filter-guard.ts), so the fix depends on that.
 */
function strictFix(facts: Facts, name: string): string {
  const byHand = `echo 2 > /proc/sys/net/ipv4/conf/${name}/rp_filter (loose: the source only needs some route back)`;
  const loaded = facts.config.loaded;
  if (!loaded.ok) return byHand;
  const path = facts.config.path;
  if (loaded.config.rpFilter === 'keep') {
    return `remove "rpfilter keep" from ${path} and ${INITSCRIPT} reload (the daemon then sets ${name} to loose while it runs), or set it by hand: ${byHand}`;
  }
  if (facts.daemon.running) {
    return (
      `igmpproxy runs with "rpfilter auto" but its switch of ${name} to loose did not happen or was undone since: ` +
      `the reason is in /var/log/messages (its lines about rp_filter); ${INITSCRIPT} restart makes it check again, or set it by hand: ${byHand}`
    );
  }
  return `${INITSCRIPT} start: with "rpfilter auto" igmpproxy sets ${name} to loose itself while it runs; or set it by hand: ${byHand}`;
}

export function checkQuerier(status: StatusDocument, name: string): Check {
  const upstream = status.proxy.upstreams.find((u) => u.name === name);
  if (upstream === undefined) {
    return problem(
      'upstream-querier',
      `igmpproxy does not use ${name} yet (it waits for it to be up with an address)`,
      'see the upstream-up check',
      name,
    );
  }
  const now = status.proxy.now;
  const interval = upstream.querierQueryIntervalMs;
  const every = `it asks every ${formatDuration(interval / 1000)}`;
  const heard = upstream.lastQueryHeardAt;
  const silentMs = now - (heard ?? upstream.listeningSince);
  const sent = `${count(upstream.reportsSent, 'report')} sent, ${count(upstream.joined.length, 'group')} joined`;
  if (silentMs > 2 * interval) {
    const what =
      heard === null
        ? `no query heard on ${name} since igmpproxy listens there (${formatDuration(silentMs / 1000)})`
        : `no query heard on ${name} for ${formatDuration(silentMs / 1000)} (last from ${upstream.lastQuerier}; ${every})`;
    return problem(
      'upstream-querier',
      `${what}: the provider's membership of our groups times out and the picture freezes after a few minutes`,
      `let IGMP in on ${name} (see the firewall check); make sure ${name} is where the provider's IPTV arrives (legacy line: the IPTV VLAN, BNG: ppp0); otherwise ask the provider`,
      name,
    );
  }
  if (heard === null) {
    return ok(
      'upstream-querier',
      `no query heard on ${name} yet (listening for ${formatDuration(silentMs / 1000)}; a provider asks about every 125 s); ${sent}`,
      name,
    );
  }
  return ok(
    'upstream-querier',
    `querier ${upstream.lastQuerier} (IGMPv${upstream.lastQueryVersion}) last asked ${formatDuration(silentMs / 1000)} ago (${every}); ${sent}`,
    name,
  );
}

export function checkAltnet(facts: Facts, status: StatusDocument, name: string): Check {
  const refused = status.proxy.upstreams.find((u) => u.name === name)?.refusedSources ?? [];
  if (refused.length === 0) return ok('upstream-altnet', `no stream on ${name} is refused for its source`, name);
  const streams = refused
    .slice(0, 4)
    .map((r) => `${r.group} from ${r.source}`)
    .join(', ');
  const networks = [
    ...new Set(
      refused.map((r) => {
        const source = parseIpv4(r.source) ?? 0;
        return formatCidr(makeCidr(source, 24));
      }),
    ),
  ];
  return problem(
    'upstream-altnet',
    `${streams} arrive${refused.length === 1 ? 's' : ''} on ${name} from outside its subnet and every altnet: not forwarded`,
    `add ${networks.map((n) => `"altnet ${n}"`).join(' and ')} (or the provider's wider range) under "phyint ${name} upstream" in ${facts.config.path}, then ${INITSCRIPT} reload`,
    name,
  );
}

type Downstream = StatusDocument['proxy']['downstreams'][number];

/** Where the web page sets the limits (addon/wui/igmpproxy.cgi.mustache, its advanced part). */
export const WEB_PAGE_LIMITS = "the web page's setup (Services > IGMP proxy (IPTV), Setup, Advanced)";

/** Refusals whose latest is older than this (an hour) are history (ok), not a problem. */
export const REFUSALS_RECENT_MS = 60 * 60 * 1000;
type Cause = keyof Omit<Downstream['refused'], 'lastHost' | 'lastAt'>;

/**
 * What a downstream refused from its receivers since it came up (the limits and the TTL
 * rule, core/admission.ts; the per-host report rate): the counts per cause, the latest
 * sender, and per cause what to do. The counts never reset while the interface is up, so
 * refusals whose latest is older than REFUSALS_RECENT_MS are history, not a problem: the
 * check is ok and says when the latest was (a flood last week must not fail diagnose today).
 */
export function checkDownstreamLimits(config: ConfigFacts, status: StatusDocument, down: Downstream): Check {
  const { name, refused } = down;
  const limits = status.proxy.limits;
  const setting: Record<Cause, string> = {
    groupsPerInterface: `maxgroups ${limits.groupsPerInterface}`,
    groupsPerHost: `maxgroupsperhost ${limits.groupsPerHost}`,
    sourcesPerGroup: `maxsources ${limits.sourcesPerGroup}`,
    ttl: `igmpttl ${limits.requireTtlOne ? '1' : 'any'}`,
    reportRate: 'the report rate per host',
  };
  const causes = (Object.keys(setting) as Cause[]).filter((cause) => refused[cause] > 0);
  if (causes.length === 0) {
    const applied = (['groupsPerInterface', 'groupsPerHost', 'sourcesPerGroup', 'ttl'] as const).map((c) => setting[c]);
    return ok('downstream-limits', `no IGMP refused on ${name} (${applied.join(', ')})`, name);
  }
  const what: Record<Cause, (n: number) => string> = {
    groupsPerInterface: (n) => `${count(n, 'join')} beyond ${setting.groupsPerInterface}`,
    groupsPerHost: (n) => `${count(n, 'join')} beyond ${setting.groupsPerHost}`,
    sourcesPerGroup: (n) => `${count(n, 'request')} beyond ${setting.sourcesPerGroup}`,
    ttl: (n) => `${n} IGMP with IP TTL not 1`,
    reportRate: (n) => `${n} IGMP dropped unread (the host sent too fast)`,
  };
  const host = refused.lastHost ?? 'an unknown host';
  const ago = refused.lastAt === null ? '' : `, ${formatDuration((status.proxy.now - refused.lastAt) / 1000)} ago`;
  const counted = causes.map((c) => what[c](refused[c])).join(', ');
  if (refused.lastAt !== null && status.proxy.now - refused.lastAt > REFUSALS_RECENT_MS)
    return ok(
      'downstream-limits',
      `nothing refused on ${name} in the last hour; since it came up: ${counted}; the latest from ${host}${ago}`,
      name,
    );
  // The initscript makes a file the web page manages anew from the page's settings at every
  // start and reload: there the page's field is what to change (its label names the keyword).
  const edit = (inFile: string, onPage: string) =>
    config.writtenByWebPage
      ? `set ${onPage} in ${WEB_PAGE_LIMITS} and save`
      : `put ${inFile} in ${config.path}, then ${INITSCRIPT} reload`;
  const raise = (keyword: string, now: number) =>
    `if ${host} is a TV that needs more, ${edit(`a "${keyword}" above ${now}`, `"${keyword}" above ${now}`)}; if not, find it by its address`;
  const fixes: Record<Cause, string> = {
    groupsPerInterface: raise('maxgroups', limits.groupsPerInterface),
    groupsPerHost: raise('maxgroupsperhost', limits.groupsPerHost),
    sourcesPerGroup: raise('maxsources', limits.sourcesPerGroup),
    ttl:
      `hosts send IGMP with TTL 1 (RFC 2236, RFC 3376), so this was routed or forged; only if ${host} is ` +
      `your receiver and cannot be fixed, ${edit('"igmpttl any"', '"igmpttl" to any IP TTL')}`,
    reportRate:
      `no TV sends that much IGMP: find the device by its address (ip neigh show ${host} gives its MAC, ` +
      `IPFire's DHCP leases its name) and fix or unplug it; this share per host is fixed`,
  };
  return problem(
    'downstream-limits',
    `${name} ignored IGMP since it came up: ${counted}; the latest from ${host}${ago}`,
    causes.map((c) => fixes[c]).join('; '),
    name,
  );
}

/** Each downstream's subnet as the running daemon has it ("A.B.C.D/P"); none without an address. */
function downstreamSubnets(status: StatusDocument | undefined): Map<string, string> {
  const subnets = new Map<string, string>();
  for (const down of status?.proxy.downstreams ?? []) {
    const address = parseIpv4(down.address);
    if (address === undefined || address === 0 || down.prefixLength <= 0) continue;
    subnets.set(down.name, formatCidr(makeCidr(address, down.prefixLength)));
  }
  return subnets;
}

export function checkFirewall(facts: Facts): Check {
  if (!facts.firewall.ok) {
    return problem(
      'firewall',
      `cannot read the firewall: ${facts.firewall.reason}`,
      'run igmpproxy diagnose as root on the router (it runs iptables -S)',
    );
  }
  const status = facts.daemon.status?.ok ? facts.daemon.status.value : undefined;
  const ups = upstreamNames(facts, status);
  const downs = downstreamNames(facts, status);
  const missing = missingFirewallRules(facts.firewall.value, ups, downs, downstreamSubnets(status));
  if (missing.length > 0) {
    const firewallDown = missing.some((m) => m.startsWith("IPFire's chain"));
    return problem(
      'firewall',
      `missing: ${missing.join('; ')}`,
      firewallDown ? `/etc/rc.d/init.d/firewall restart, then ${FIREWALL_HELPER} reload` : `${FIREWALL_HELPER} reload`,
    );
  }
  const c = FIREWALL_CHAINS;
  return ok(
    'firewall',
    `${c.iptvInput} -> ${c.input} and ${c.iptvForward} -> ${c.forward} in place, with rules for ${ups.join(' ')}${downs.length ? ` -> ${downs.join(' ')}` : ''}`,
  );
}

/** Per (source, group) route with its rate, plus groups whose receivers have no route. */
export function groupRows(status: StatusDocument, facts: Facts): GroupRow[] {
  const [first, second] = facts.samples ?? [undefined, undefined];
  const receivers = new Map<string, { hosts: Set<string>; downstreams: Set<string> }>();
  for (const down of status.proxy.downstreams) {
    for (const group of down.groups) {
      const entry = receivers.get(group.group) ?? { hosts: new Set<string>(), downstreams: new Set<string>() };
      for (const host of group.hosts) entry.hosts.add(host);
      entry.downstreams.add(down.name);
      receivers.set(group.group, entry);
    }
  }
  const vifName = new Map(facts.kernelVifs.map((v) => [v.vif, v.name]));
  const seconds = first && second ? Math.max(0.001, (second.at - first.at) / 1000) : 1;
  const before = new Map((first?.routes ?? []).map((r) => [`${r.source}/${r.group}`, r]));
  const rows: GroupRow[] = [];
  const routed = new Set<string>();
  for (const route of second?.routes ?? []) {
    if (route.inputVif === 0xffff) continue; // unresolved: nobody decided yet
    const group = formatIpv4(route.group);
    routed.add(group);
    const wanted = receivers.get(group);
    const old = before.get(`${route.source}/${route.group}`);
    const packets = old ? route.packets - old.packets : null;
    rows.push({
      group,
      source: formatIpv4(route.source),
      upstream: vifName.get(route.inputVif) ?? `vif${route.inputVif}`,
      receivers: wanted ? Math.max(1, wanted.hosts.size) : 0,
      downstreams: wanted ? [...wanted.downstreams].sort() : [],
      packets: route.packets,
      packetsPerSecond: packets === null ? null : Math.round(packets / seconds),
      bitsPerSecond: old ? Math.round(((route.bytes - old.bytes) * 8) / seconds) : null,
      stalled: wanted !== undefined && packets !== null && packets <= 0,
    });
  }
  for (const [group, wanted] of receivers) {
    if (routed.has(group)) continue;
    rows.push({
      group,
      source: null,
      upstream: null,
      receivers: Math.max(1, wanted.hosts.size),
      downstreams: [...wanted.downstreams].sort(),
      packets: null,
      packetsPerSecond: null,
      bitsPerSecond: null,
      stalled: true,
    });
  }
  const key = (text: string | null) => (text === null ? -1 : (parseIpv4(text) ?? 0));
  return rows.sort((a, b) => key(a.group) - key(b.group) || key(a.source) - key(b.source));
}

export function checkStreams(facts: Facts, rows: readonly GroupRow[]): Check {
  if (!facts.samples) {
    return problem(
      'streams',
      "cannot read the kernel's multicast routes (/proc/net/ip_mr_cache)",
      'run igmpproxy diagnose as root on the router',
    );
  }
  const watched = rows.filter((row) => row.receivers > 0);
  if (watched.length === 0)
    return ok('streams', 'no receivers now: nothing to measure (a TV that watches shows up here)');
  const stalled = watched.filter((row) => row.stalled);
  if (stalled.length === 0)
    return ok(
      'streams',
      `${count(watched.length, 'stream')} with receivers, ${watched.length === 1 ? 'flowing' : 'all flowing'}`,
    );
  const what = stalled
    .slice(0, 4)
    .map((row) =>
      row.source === null
        ? `${row.group} (${count(row.receivers, 'receiver')}) has no route: the stream does not arrive`
        : `${row.group} from ${row.source} (${count(row.receivers, 'receiver')}): no packets in the last second`,
    )
    .join('; ');
  return problem(
    'streams',
    what,
    'see the upstream checks above; if they are all ok, the provider does not send this group now (try another channel, or ask the provider)',
  );
}

const count = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? '' : 's'}`;

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 172_800) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86_400)} days ${Math.floor((s % 86_400) / 3600)} h`;
}
