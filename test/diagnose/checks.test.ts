// The checks of `igmpproxy diagnose`, each against made-up facts: a healthy box passes every
// one; then one fault at a time, and exactly the check that should fail fails, with a fix.
// The status document in the facts is a real one: built by the real core and buildStatus.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../addon/daemon/config/parser.ts';
import { IgmpProxyCore } from '../../addon/daemon/core/proxy.ts';
import { diagnose, formatDuration, REFUSALS_RECENT_MS } from '../../addon/daemon/diagnose/checks.ts';
import type { CheckId } from '../../addon/daemon/diagnose/checks.ts';
import type { Facts, InterfaceFacts } from '../../addon/daemon/diagnose/facts.ts';
import type { MfcEntry } from '../../addon/daemon/kernel/mfc-stats.ts';
import { parseIpv4 } from '../../addon/daemon/net/ipv4.ts';
import { buildStatus } from '../../addon/daemon/runtime/status.ts';
import type { StatusDocument } from '../../addon/daemon/runtime/status.ts';

const CONFIG_PATH = '/etc/igmpproxy.conf';
const CONFIG = 'phyint red0.8 upstream\n  altnet 203.0.113.0/24\nphyint green0 downstream\nphyint lo disabled\n';
const ip = (text: string): number => parseIpv4(text) as number;
const GROUP = '239.1.1.1';
const SOURCE = '203.0.113.10';

/**
 * The kernel's answers for the addresses gather asks about (the altnet's probe address, the
 * stream's source, a foreign source): on this box the default route, and so every one of
 * them, goes out through red0.8.
 */
const ASKED = ['203.0.113.1', SOURCE, '198.51.100.7'];
const routesBack = (via: (address: string) => string | null = () => 'red0.8'): Facts['routesBack'] => ({
  ok: true,
  value: new Map(ASKED.map((address) => [ip(address), via(address)])),
});
/** The IPTV range (203.0.113.0/24) routed elsewhere, as a legacy line's ppp0 default route does. */
const viaPpp0 = routesBack((address) => (address.startsWith('203.0.113.') ? 'ppp0' : 'red0.8'));

function config(text = CONFIG): Facts['config'] {
  const parsed = parseConfig(text, CONFIG_PATH);
  return parsed.ok
    ? {
        path: CONFIG_PATH,
        loaded: { ok: true, config: parsed.config, warnings: parsed.warnings.map((w) => w.message) },
        writtenByWebPage: false,
        modifiedAtMs: 500,
      }
    : {
        path: CONFIG_PATH,
        writtenByWebPage: false,
        loaded: { ok: false, errors: parsed.errors.map((e) => e.message) },
        modifiedAtMs: 500,
      };
}

interface StatusOptions {
  /** When the last upstream query came (ms after start); undefined: never. */
  queryAt?: number | undefined;
  /** A stream from outside every altnet arrives (refused). */
  foreignSource?: string;
  now?: number;
  /** Global lines added to the configuration (the limits). */
  globals?: string;
  /** Refusals the core counts for real: a report with IP TTL 64 from 192.168.1.66 at 57 s, then the TV's second join at 58 s. */
  refusals?: boolean;
}

/** A real status document: core state after a query upstream and a TV's join downstream. */
function status(options: StatusOptions = {}): StatusDocument {
  const parsed = parseConfig(`${options.globals ?? ''}\n${CONFIG}`, CONFIG_PATH);
  if (!parsed.ok) throw new Error('config');
  let now = 0;
  const proxy = new IgmpProxyCore(parsed.config, { now: () => now, random: () => 0.5 });
  proxy.interfaceUp({ name: 'red0.8', ifindex: 7, address: ip('10.99.0.2'), prefixLength: 24 });
  proxy.interfaceUp({ name: 'green0', ifindex: 3, address: ip('192.168.1.1'), prefixLength: 24 });
  const queryAt = 'queryAt' in options ? options.queryAt : 55_000;
  if (queryAt !== undefined) {
    now = queryAt;
    proxy.receiveIgmp(
      'red0.8',
      { source: ip('10.99.0.1'), destination: ip('224.0.0.1'), routerAlert: true, ttl: 1 },
      {
        type: 'query',
        version: 3,
        maxResponseMs: 10_000,
        group: 0,
        v3: { suppressRouterSide: false, robustness: 2, queryIntervalSeconds: 125, sources: [] },
      },
    );
  }
  now = Math.max(now, 56_000);
  proxy.receiveIgmp(
    'green0',
    { source: ip('192.168.1.10'), destination: ip('224.0.0.22'), routerAlert: true, ttl: 1 },
    {
      type: 'v3-report',
      records: [{ recordType: 'to-exclude', group: ip(GROUP), sources: [] }],
    },
  );
  proxy.receiveUpcall('red0.8', { kind: 'nocache', source: ip(SOURCE), group: ip(GROUP) });
  if (options.refusals) {
    now = 57_000;
    proxy.receiveIgmp(
      'green0',
      { source: ip('192.168.1.66'), destination: ip('239.1.1.3'), routerAlert: false, ttl: 64 },
      { type: 'v2-report', group: ip('239.1.1.3') },
    );
    now = 58_000;
    proxy.receiveIgmp(
      'green0',
      { source: ip('192.168.1.10'), destination: ip('224.0.0.22'), routerAlert: true, ttl: 1 },
      { type: 'v3-report', records: [{ recordType: 'to-exclude', group: ip('239.1.1.4'), sources: [] }] },
    );
  }
  if (options.foreignSource)
    proxy.receiveUpcall('red0.8', { kind: 'nocache', source: ip(options.foreignSource), group: ip('239.1.1.2') });
  now = options.now ?? 60_000;
  return buildStatus({
    version: '1.0.0',
    configFile: CONFIG_PATH,
    configLoadedAt: new Date(1_000),
    startedAt: new Date(0),
    now: new Date(now),
    vifs: [
      { name: 'red0.8', ifindex: 7, vif: 0 },
      { name: 'green0', ifindex: 3, vif: 1 },
    ],
    vifStats: [],
    mfc: [route(1000)],
    waitingFor: [],
    proxy: proxy.snapshot(),
    stallAlarm: { afterSeconds: 10, groups: [] },
  });
}

function route(packets: number, bytes = packets * 1316): MfcEntry {
  return {
    group: ip(GROUP),
    source: ip(SOURCE),
    inputVif: 0,
    packets,
    bytes,
    wrongInterface: 0,
    outputs: [{ vif: 1, ttl: 1 }],
  };
}

function upstream(overrides: Partial<InterfaceFacts> = {}): InterfaceFacts {
  return {
    name: 'red0.8',
    exists: true,
    up: true,
    carrier: true,
    multicast: true,
    addresses: ['10.99.0.2/24'],
    rpFilter: 1,
    ...overrides,
  };
}

/** The firewall helper's per-host IGMP share on green0, as `iptables -S` prints it. */
const GREEN_SHARE =
  '-A IGMPPROXY_IN -i green0 -p igmp -m hashlimit --hashlimit-above 100/sec --hashlimit-burst 600 ' +
  '--hashlimit-mode srcip --hashlimit-name igmp_0d0b4c4c --hashlimit-htable-size 1024 --hashlimit-htable-max 4096 ' +
  '--hashlimit-htable-expire 300000 -j DROP';

/** green0's own networks in its lan table (the helper's rules for a downstream with an address). */
const GREEN_LAN_RULES = ['0.0.0.0/32', '192.168.1.0/24'].flatMap((network) => [
  GREEN_SHARE.replace('-A IGMPPROXY_IN -i green0', `-A IGMPPROXY_IN -s ${network} -i green0`)
    .replace('igmp_0d0b4c4c', 'igmp_5a1e0c2d')
    .replace(
      '--hashlimit-htable-size 1024 --hashlimit-htable-max 4096',
      '--hashlimit-htable-size 33 --hashlimit-htable-max 257',
    ),
  `-A IGMPPROXY_IN -s ${network} -i green0 -p igmp -j ACCEPT`,
]);

/** The rules of a helper from before the lan table (or made before green0 had its address). */
const SINGLE_TABLE_FIREWALL = [
  '-P INPUT ACCEPT',
  '-N IPTVINPUT',
  '-N IPTVFORWARD',
  '-N CUSTOMOUTPUT',
  '-N IGMPPROXY_IN',
  '-N IGMPPROXY_FWD',
  '-N IGMPPROXY_OUT',
  '-A IPTVINPUT -j IGMPPROXY_IN',
  '-A IPTVFORWARD -j IGMPPROXY_FWD',
  '-A CUSTOMOUTPUT -j IGMPPROXY_OUT',
  '-A IGMPPROXY_IN -i red0.8 -p igmp -j ACCEPT',
  '-A IGMPPROXY_IN -i red0.8 -d 224.0.0.0/4 -j ACCEPT',
  GREEN_SHARE,
  '-A IGMPPROXY_IN -i green0 -p igmp -j ACCEPT',
  '-A IGMPPROXY_FWD -i red0.8 -o green0 -d 224.0.0.0/4 -j ACCEPT',
  '-A IGMPPROXY_OUT -o red0.8 -d 224.0.0.0/4 -p igmp -j ACCEPT',
].join('\n');

const FIREWALL = SINGLE_TABLE_FIREWALL.replace(GREEN_SHARE, [...GREEN_LAN_RULES, GREEN_SHARE].join('\n'));

function healthy(overrides: Partial<Facts> = {}): Facts {
  return {
    config: config(),
    multicastRouting: true,
    kernelVifs: [
      { vif: 0, name: 'red0.8', bytesIn: 0, packetsIn: 0, bytesOut: 0, packetsOut: 0, flags: 0 },
      { vif: 1, name: 'green0', bytesIn: 0, packetsIn: 0, bytesOut: 0, packetsOut: 0, flags: 0 },
    ],
    daemon: { pidfile: '/var/run/igmpproxy.pid', pid: 1234, running: true, status: { ok: true, value: status() } },
    interfaces: new Map([['red0.8', upstream()]]),
    rpFilterAll: 1,
    routesBack: routesBack(),
    firewall: { ok: true, value: FIREWALL },
    samples: [
      { at: 0, routes: [route(1000)] },
      { at: 1000, routes: [route(1400)] },
    ],
    ...overrides,
  };
}

const problems = (facts: Facts) => diagnose(facts).checks.filter((check) => !check.ok);

/** The healthy box with green0's refusal counters set (the latest from 192.168.1.66 at 53 s). */
function withRefused(facts: Facts, counts: Partial<Record<string, number>>): Facts {
  const document = status();
  const downstreams = document.proxy.downstreams.map((down) => ({
    ...down,
    refused: { ...down.refused, ...counts, lastHost: '192.168.1.66', lastAt: 53_000 },
  }));
  const value = { ...document, proxy: { ...document.proxy, downstreams } };
  return { ...facts, daemon: { ...facts.daemon, status: { ok: true, value } } };
}

describe('diagnose checks', () => {
  it('a healthy box: every check ok, the group flows at its measured rate', () => {
    const result = diagnose(healthy());
    expect(result.checks.filter((check) => !check.ok)).toEqual([]);
    expect(result.checks.map((check) => check.id)).toEqual([
      'config',
      'kernel-mroute',
      'daemon',
      'upstream-exists',
      'upstream-up',
      'upstream-multicast',
      'upstream-rp-filter',
      'upstream-querier',
      'upstream-altnet',
      'downstream-limits',
      'firewall',
      'streams',
    ]);
    expect(result.checks.find((check) => check.id === 'downstream-limits')).toEqual({
      id: 'downstream-limits',
      interface: 'green0',
      ok: true,
      message: 'no IGMP refused on green0 (maxgroups 2048, maxgroupsperhost 512, maxsources 64, igmpttl 1)',
      fix: null,
    });
    expect(result.checks.find((check) => check.id === 'upstream-querier')?.message).toBe(
      'querier 10.99.0.1 (IGMPv3) last asked 5 s ago (it asks every 2 min 5 s); 1 report sent, 1 group joined',
    );
    expect(result.groups).toEqual([
      {
        group: GROUP,
        source: SOURCE,
        upstream: 'red0.8',
        receivers: 1,
        downstreams: ['green0'],
        packets: 1400,
        packetsPerSecond: 400,
        bitsPerSecond: 400 * 1316 * 8,
        stalled: false,
      },
    ]);
  });

  type Case = [string, (facts: Facts) => Facts, CheckId, RegExp, RegExp];
  const cases: Case[] = [
    [
      'config with errors',
      (f) => ({ ...f, config: config('phyint red0.8 sideways\n') }),
      'config',
      /sideways|role/,
      /igmpproxy --check/,
    ],
    [
      'config with a warning',
      (f) => ({ ...f, config: config(`${CONFIG}phyint green0 upstream\n`) }),
      'config',
      /green0/,
      /edit \/etc\/igmpproxy.conf/,
    ],
    [
      'config file missing',
      (f) => ({
        ...f,
        config: {
          path: CONFIG_PATH,
          writtenByWebPage: false,
          loaded: { ok: false, errors: [`${CONFIG_PATH}:1:1: error: cannot read the config file: it does not exist`] },
          modifiedAtMs: undefined,
        },
      }),
      'config',
      /does not exist/,
      /igmpproxy setup --write creates \/etc\/igmpproxy.conf/,
    ],
    [
      'config without upstream',
      (f) => ({ ...f, config: config('phyint green0 downstream\n') }),
      'config',
      /no upstream/,
      /igmpproxy setup/,
    ],
    [
      'kernel without multicast routing',
      (f) => ({ ...f, multicastRouting: false }),
      'kernel-mroute',
      /CONFIG_IP_MROUTE/,
      /CONFIG_IP_MROUTE=y/,
    ],
    [
      'another multicast router holds the table',
      (f) => ({ ...f, daemon: { pidfile: '/run/p', pid: undefined, running: false, status: undefined } }),
      'kernel-mroute',
      /another multicast router .* red0.8 green0/,
      /stop that program/,
    ],
    [
      'daemon not running',
      (f) => ({
        ...f,
        kernelVifs: [],
        daemon: { pidfile: '/run/p', pid: undefined, running: false, status: undefined },
      }),
      'daemon',
      /does not run \(no pid in \/run\/p\)/,
      /init.d\/igmpproxy start/,
    ],
    [
      'stale pidfile',
      (f) => ({ ...f, kernelVifs: [], daemon: { pidfile: '/run/p', pid: 99, running: false, status: undefined } }),
      'daemon',
      /names pid 99, which is not a live igmpproxy/,
      /init.d\/igmpproxy start/,
    ],
    [
      'daemon gives no status',
      (f) => ({ ...f, daemon: { ...f.daemon, status: { ok: false, reason: 'it did not write it' } } }),
      'daemon',
      /gave no status: it did not write it/,
      /restart/,
    ],
    [
      'config changed after the daemon read it',
      (f) => ({ ...f, config: { ...f.config, modifiedAtMs: 2_000 } }),
      'daemon',
      /changed after it read the file/,
      /reload/,
    ],
    [
      'upstream missing',
      (f) => ({ ...f, interfaces: new Map([['red0.8', upstream({ exists: false })]]) }),
      'upstream-exists',
      /red0.8 does not exist/,
      /ip link/,
    ],
    [
      'upstream down',
      (f) => ({ ...f, interfaces: new Map([['red0.8', upstream({ up: false })]]) }),
      'upstream-up',
      /is down/,
      /ip link set dev red0.8 up/,
    ],
    [
      'upstream without carrier',
      (f) => ({ ...f, interfaces: new Map([['red0.8', upstream({ carrier: false })]]) }),
      'upstream-up',
      /no carrier/,
      /cable/,
    ],
    [
      'upstream without address',
      (f) => ({ ...f, interfaces: new Map([['red0.8', upstream({ addresses: [] })]]) }),
      'upstream-up',
      /no IPv4 address/,
      /DHCP or PPP/,
    ],
    [
      'multicast off',
      (f) => ({ ...f, interfaces: new Map([['red0.8', upstream({ multicast: false })]]) }),
      'upstream-multicast',
      /multicast is switched off on red0.8/,
      /ip link set dev red0.8 multicast on/,
    ],
    [
      'strict rp_filter, sources routed elsewhere',
      (f) => ({ ...f, routesBack: viaPpp0 }),
      'upstream-rp-filter',
      /rp_filter 1 \(strict\) on red0.8, and the stream sources 203.0.113.0\/24 and 203.0.113.10 route back via ppp0, not red0.8/,
      /echo 2 > \/proc\/sys\/net\/ipv4\/conf\/red0.8\/rp_filter/,
    ],
    [
      'no query for more than two intervals',
      (f) => ({ ...f, daemon: { ...f.daemon, status: { ok: true, value: status({ queryAt: 1_000, now: 300_000 }) } } }),
      'upstream-querier',
      /no query heard on red0.8 for 4 min 59 s \(last from 10.99.0.1; it asks every 2 min 5 s\)/,
      /let IGMP in on red0.8/,
    ],
    [
      'never a query',
      (f) => ({
        ...f,
        daemon: { ...f.daemon, status: { ok: true, value: status({ queryAt: undefined, now: 300_000 }) } },
      }),
      'upstream-querier',
      /since igmpproxy listens there \(5 min 0 s\)/,
      /ask the provider/,
    ],
    [
      'a source outside every altnet',
      (f) => ({
        ...f,
        daemon: { ...f.daemon, status: { ok: true, value: status({ foreignSource: '198.51.100.7' }) } },
      }),
      'upstream-altnet',
      /239.1.1.2 from 198.51.100.7 arrives on red0.8 from outside its subnet and every altnet/,
      /add "altnet 198.51.100.0\/24" .* "phyint red0.8 upstream"/,
    ],
    ...(
      [
        ['groupsPerInterface', /3 joins beyond maxgroups 2048/, /a "maxgroups" above 2048 in \/etc\/igmpproxy.conf/],
        [
          'groupsPerHost',
          /3 joins beyond maxgroupsperhost 512/,
          /a "maxgroupsperhost" above 512 in \/etc\/igmpproxy.conf/,
        ],
        ['sourcesPerGroup', /3 requests beyond maxsources 64/, /a "maxsources" above 64 in \/etc\/igmpproxy.conf/],
        [
          'ttl',
          /3 IGMP with IP TTL not 1/,
          /only if 192.168.1.66 is your receiver .* put "igmpttl any" in \/etc\/igmpproxy.conf/,
        ],
        [
          'reportRate',
          /3 IGMP dropped unread \(the host sent too fast\)/,
          /find the device by its address \(ip neigh show 192.168.1.66/,
        ],
      ] as const
    ).map(
      ([cause, message, fix]): Case => [
        `a downstream refused IGMP (${cause})`,
        (f) => withRefused(f, { [cause]: 3 }),
        'downstream-limits',
        new RegExp(`^green0 ignored IGMP since it came up: ${message.source}; the latest from 192.168.1.66, 7 s ago$`),
        fix,
      ],
    ),
    [
      'firewall jumps missing',
      (f) => ({ ...f, firewall: { ok: true, value: FIREWALL.replace('-A IPTVFORWARD -j IGMPPROXY_FWD', '') } }),
      'firewall',
      /the jump IPTVFORWARD -> IGMPPROXY_FWD/,
      /\/usr\/lib\/igmpproxy\/firewall reload/,
    ],
    [
      "a downstream's per-host IGMP share missing (a helper from before it)",
      (f) => ({ ...f, firewall: { ok: true, value: SINGLE_TABLE_FIREWALL.replace(GREEN_SHARE, '') } }),
      'firewall',
      /^missing: IGMPPROXY_IN: the per-host IGMP share on green0, before its accept$/,
      /^\/usr\/lib\/igmpproxy\/firewall reload$/,
    ],
    [
      "the share after the downstream's accept (it would never drop anything)",
      (f) => ({
        ...f,
        firewall: {
          ok: true,
          value: SINGLE_TABLE_FIREWALL.replace(`${GREEN_SHARE}\n`, '').replace(
            '-A IGMPPROXY_FWD',
            `${GREEN_SHARE}\n-A IGMPPROXY_FWD`,
          ),
        },
      }),
      'firewall',
      /^missing: IGMPPROXY_IN: the per-host IGMP share on green0, before its accept$/,
      /firewall reload/,
    ],
    [
      "rules made before the downstream's address (or by a helper from before the lan table): its hosts in the table forged addresses fill",
      (f) => ({ ...f, firewall: { ok: true, value: SINGLE_TABLE_FIREWALL } }),
      'firewall',
      /^missing: IGMPPROXY_IN: green0's subnet 192\.168\.1\.0\/24 in its own per-host table \(the rules predate its address\)$/,
      /^\/usr\/lib\/igmpproxy\/firewall reload$/,
    ],
    [
      "a downstream's IGMP accept missing",
      (f) => ({
        ...f,
        firewall: {
          ok: true,
          value: SINGLE_TABLE_FIREWALL.replace('-A IGMPPROXY_IN -i green0 -p igmp -j ACCEPT', ''),
        },
      }),
      'firewall',
      /^missing: IGMPPROXY_IN: IGMP in on green0$/,
      /firewall reload/,
    ],
    [
      'IPFire firewall not running',
      (f) => ({ ...f, firewall: { ok: true, value: '-P INPUT ACCEPT\n' } }),
      'firewall',
      /IPFire's chain IPTVINPUT/,
      /init.d\/firewall restart/,
    ],
    [
      'no iptables',
      (f) => ({ ...f, firewall: { ok: false, reason: 'iptables is not installed' } }),
      'firewall',
      /iptables is not installed/,
      /as root/,
    ],
    [
      'receivers but no packets',
      (f) => ({
        ...f,
        samples: [
          { at: 0, routes: [route(1000)] },
          { at: 1000, routes: [route(1000)] },
        ],
      }),
      'streams',
      /239.1.1.1 from 203.0.113.10 \(1 receiver\): no packets/,
      /upstream checks/,
    ],
    [
      'receivers but no route',
      (f) => ({
        ...f,
        samples: [
          { at: 0, routes: [] },
          { at: 1000, routes: [] },
        ],
      }),
      'streams',
      /239.1.1.1 \(1 receiver\) has no route/,
      /upstream checks/,
    ],
  ];

  it.each(cases)('%s: its check fails, with a fix', (_name, fault, id, message, fix) => {
    const found = problems(fault(healthy()));
    expect(found.map((check) => check.id)).toContain(id);
    const check = found.find((entry) => entry.id === id)!;
    expect(check.message).toMatch(message);
    expect(check.fix).toMatch(fix);
  });

  it("the helper's rules for a downstream with an address: its networks' rules first, then the catch-all: ok", () => {
    expect(FIREWALL).toContain('-A IGMPPROXY_IN -s 192.168.1.0/24 -i green0 -p igmp -m hashlimit');
    expect(problems(healthy())).toEqual([]);
    // Its networks' accepts before any share rule: the share is missing.
    const unshared = SINGLE_TABLE_FIREWALL.replace(
      GREEN_SHARE,
      [...GREEN_LAN_RULES.filter((rule) => rule.endsWith('ACCEPT')), GREEN_SHARE].join('\n'),
    );
    expect(problems(healthy({ firewall: { ok: true, value: unshared } })).map((check) => check.message)).toEqual([
      'missing: IGMPPROXY_IN: the per-host IGMP share on green0, before its accept',
    ]);
  });

  it('refusals the core counted: each cause with its count, the latest host, one fix per cause', () => {
    const counted = status({ globals: 'maxgroupsperhost 1', refusals: true });
    const found = problems(healthy({ daemon: { ...healthy().daemon, status: { ok: true, value: counted } } }));
    expect(found).toEqual([
      {
        id: 'downstream-limits',
        interface: 'green0',
        ok: false,
        message:
          'green0 ignored IGMP since it came up: 1 join beyond maxgroupsperhost 1, 1 IGMP with IP TTL not 1; the latest from 192.168.1.10, 2 s ago',
        fix:
          'if 192.168.1.10 is a TV that needs more, put a "maxgroupsperhost" above 1 in /etc/igmpproxy.conf, then /etc/rc.d/init.d/igmpproxy reload; ' +
          'if not, find it by its address; hosts send IGMP with TTL 1 (RFC 2236, RFC 3376), so this was routed or forged; ' +
          'only if 192.168.1.10 is your receiver and cannot be fixed, put "igmpttl any" in /etc/igmpproxy.conf, then /etc/rc.d/init.d/igmpproxy reload',
      },
    ]);
  });

  it("a configuration the web page made: the fixes point at the page's limit fields, not at the file it rewrites", () => {
    const facts = withRefused(healthy({ config: { ...config(), writtenByWebPage: true } }), {
      groupsPerHost: 1,
      ttl: 2,
    });
    const check = problems(facts).find((c) => c.id === 'downstream-limits');
    expect(check?.fix).toBe(
      'if 192.168.1.66 is a TV that needs more, set "maxgroupsperhost" above 512 in the web page\'s setup ' +
        '(Services > IGMP proxy (IPTV), Setup, Advanced) and save; if not, find it by its address; ' +
        'hosts send IGMP with TTL 1 (RFC 2236, RFC 3376), so this was routed or forged; only if 192.168.1.66 is your ' +
        'receiver and cannot be fixed, set "igmpttl" to any IP TTL in the web page\'s setup ' +
        '(Services > IGMP proxy (IPTV), Setup, Advanced) and save',
    );
    // A flood needs no edit: no word about the web page.
    const flood = withRefused(healthy({ config: { ...config(), writtenByWebPage: true } }), { reportRate: 9 });
    expect(problems(flood).find((c) => c.id === 'downstream-limits')?.fix).toMatch(/^no TV sends that much IGMP/);
  });

  it('refusals whose latest is over an hour old are history: ok, with the counts and when', () => {
    const facts = withRefused(healthy(), { groupsPerHost: 4 });
    const document = (facts.daemon.status as { ok: true; value: StatusDocument }).value;
    const at = (now: number) => {
      const value = { ...document, proxy: { ...document.proxy, now } };
      return diagnose({ ...facts, daemon: { ...facts.daemon, status: { ok: true, value } } }).checks.find(
        (c) => c.id === 'downstream-limits',
      );
    };
    // The latest refusal was at 53 s: an hour later it is still a problem, a moment after not.
    expect(at(53_000 + REFUSALS_RECENT_MS)?.ok).toBe(false);
    expect(at(53_000 + REFUSALS_RECENT_MS + 1_000)).toEqual({
      id: 'downstream-limits',
      interface: 'green0',
      ok: true,
      message:
        'nothing refused on green0 in the last hour; since it came up: 4 joins beyond maxgroupsperhost 512; the latest from 192.168.1.66, 60 min 1 s ago',
      fix: null,
    });
  });

  it('one check per downstream the daemon uses, each with its own counts', () => {
    const facts = withRefused(healthy(), { ttl: 2 });
    const document = (facts.daemon.status as { ok: true; value: StatusDocument }).value;
    const quiet = { ...status().proxy.downstreams[0]!, name: 'blue0' };
    const value = { ...document, proxy: { ...document.proxy, downstreams: [...document.proxy.downstreams, quiet] } };
    const checks = diagnose({ ...facts, daemon: { ...facts.daemon, status: { ok: true, value } } }).checks.filter(
      (c) => c.id === 'downstream-limits',
    );
    expect(checks.map((c) => [c.interface, c.ok])).toEqual([
      ['green0', false],
      ['blue0', true],
    ]);
  });

  it('without a running daemon the checks that need its state are left out, not failed', () => {
    const ids = diagnose(
      healthy({ kernelVifs: [], daemon: { pidfile: '/p', pid: undefined, running: false, status: undefined } }),
    ).checks.map((c) => c.id);
    expect(ids).not.toContain('upstream-querier');
    expect(ids).not.toContain('streams');
    expect(ids).not.toContain('downstream-limits');
    expect(ids).toContain('upstream-multicast');
  });

  it('an unreadable config still checks the upstreams the daemon uses', () => {
    const ids = diagnose(
      healthy({
        config: {
          path: CONFIG_PATH,
          writtenByWebPage: false,
          loaded: { ok: false, errors: ['gone'] },
          modifiedAtMs: undefined,
        },
      }),
    )
      .checks.filter((c) => c.interface === 'red0.8')
      .map((c) => c.id);
    expect(ids).toContain('upstream-querier');
  });

  it('loose rp_filter accepts sources routed elsewhere; off checks nothing', () => {
    const elsewhere = viaPpp0;
    const loose = diagnose(
      healthy({ routesBack: elsewhere, rpFilterAll: 0, interfaces: new Map([['red0.8', upstream({ rpFilter: 2 })]]) }),
    );
    expect(loose.checks.find((c) => c.id === 'upstream-rp-filter')).toMatchObject({
      ok: true,
      message: expect.stringMatching(/rp_filter 2 \(loose\)/),
    });
    const off = diagnose(
      healthy({ routesBack: elsewhere, rpFilterAll: 0, interfaces: new Map([['red0.8', upstream({ rpFilter: 0 })]]) }),
    );
    expect(off.checks.find((c) => c.id === 'upstream-rp-filter')).toMatchObject({
      ok: true,
      message: expect.stringMatching(/no reverse-path check/),
    });
  });

  const rpCheck = (facts: Facts) => diagnose(facts).checks.find((c) => c.id === 'upstream-rp-filter');
  const stopped = { pidfile: '/run/p', pid: undefined, running: false, status: undefined };

  it("strict mode, sources routed elsewhere: the fix follows the daemon's own switch (rpfilter auto, keep)", () => {
    const byHand = 'echo 2 > /proc/sys/net/ipv4/conf/red0.8/rp_filter';
    // auto (the default) and the daemon runs: it should have switched; say it did not, and where to look.
    const running = rpCheck(healthy({ routesBack: viaPpp0 }));
    expect(running?.fix).toMatch(
      /^igmpproxy runs with "rpfilter auto" but its switch of red0.8 to loose did not happen or was undone since: the reason is in \/var\/log\/messages/,
    );
    expect(running?.fix).toContain('/etc/rc.d/init.d/igmpproxy restart makes it check again');
    expect(running?.fix).toContain(byHand);
    // auto, daemon not running: starting it is the fix.
    const notRunning = rpCheck(healthy({ routesBack: viaPpp0, kernelVifs: [], daemon: stopped }));
    expect(notRunning).toMatchObject({ ok: false, message: expect.stringMatching(/route back via ppp0, not red0.8/) });
    expect(notRunning?.fix).toMatch(
      /^\/etc\/rc.d\/init.d\/igmpproxy start: with "rpfilter auto" igmpproxy sets red0.8 to loose itself/,
    );
    expect(notRunning?.fix).toContain(byHand);
    // keep: the daemon will not switch; remove the keyword or set it by hand.
    const keep = rpCheck(healthy({ routesBack: viaPpp0, config: config(`rpfilter keep\n${CONFIG}`) }));
    expect(keep?.fix).toMatch(
      /^remove "rpfilter keep" from \/etc\/igmpproxy.conf and \/etc\/rc.d\/init.d\/igmpproxy reload/,
    );
    expect(keep?.fix).toContain(byHand);
    expect(keep?.fix).not.toMatch(/log/);
  });

  it('the altnet is judged by its probe address, as the daemon asks; an address not asked is not judged', () => {
    // Only the network address routed elsewhere: not what is asked, so no verdict on it.
    const value = new Map<number, string | null>(ASKED.map((address) => [ip(address), 'red0.8']));
    value.set(ip('203.0.113.0'), 'ppp0');
    expect(rpCheck(healthy({ routesBack: { ok: true, value } }))?.ok).toBe(true);
    value.set(ip('203.0.113.1'), 'ppp0');
    expect(rpCheck(healthy({ routesBack: { ok: true, value } }))?.message).toMatch(
      /stream sources 203.0.113.0\/24 route back via ppp0, not red0.8/,
    );
    value.delete(ip('203.0.113.1'));
    value.delete(ip(SOURCE));
    expect(rpCheck(healthy({ routesBack: { ok: true, value } }))?.ok).toBe(true);
  });

  it('no route back at all: strict and loose both drop; off does not', () => {
    const none = routesBack((address) => (address === SOURCE ? null : 'red0.8'));
    expect(rpCheck(healthy({ routesBack: none }))).toMatchObject({
      ok: false,
      message: expect.stringMatching(/stream sources 203.0.113.10 have no route back: the kernel drops/),
    });
    const loose = rpCheck(healthy({ routesBack: none, interfaces: new Map([['red0.8', upstream({ rpFilter: 2 })]]) }));
    expect(loose).toMatchObject({
      ok: false,
      message: expect.stringMatching(
        /^rp_filter 2 \(loose\) on red0.8, and the stream sources 203.0.113.10 have no route back/,
      ),
      fix: expect.stringMatching(/^add a route to the sources/),
    });
    expect(
      rpCheck(
        healthy({ routesBack: none, rpFilterAll: 0, interfaces: new Map([['red0.8', upstream({ rpFilter: 0 })]]) }),
      )?.ok,
    ).toBe(true);
  });

  it('the kernel could not be asked: a problem with the reason', () => {
    expect(rpCheck(healthy({ routesBack: { ok: false, reason: 'cannot load the native shim' } }))).toMatchObject({
      ok: false,
      message: 'cannot ask the kernel for the routes back: cannot load the native shim',
      fix: expect.stringMatching(/as root/),
    });
  });

  it('durations read well', () => {
    expect([5, 125, 7200, 200_000].map(formatDuration)).toEqual(['5 s', '2 min 5 s', '2 h 0 min', '2 days 7 h']);
  });
});
