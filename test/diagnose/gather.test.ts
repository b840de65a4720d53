// The gatherer of `igmpproxy diagnose` against a fake /proc and /sys in a temp directory:
// what it reads, that it asks the daemon for its status and waits for it, and that every
// missing input becomes a reason instead of an exception. Also: the formatter, the
// firewall chain names against the add-on's layout, the command line.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LAYOUT } from '../../build/render.ts';
import { parseArgs } from '../../addon/daemon/cli/args.ts';
import { diagnose } from '../../addon/daemon/diagnose/checks.ts';
import type { Diagnosis } from '../../addon/daemon/diagnose/checks.ts';
import { FIREWALL_CHAINS, FIREWALL_HELPER } from '../../addon/daemon/diagnose/firewall-rules.ts';
import { formatHuman, formatJson, formatRate } from '../../addon/daemon/diagnose/format.ts';
import { WEB_PAGE_MARK, WEB_PAGE_SETTINGS } from '../../addon/daemon/diagnose/facts.ts';
import { gatherFacts } from '../../addon/daemon/diagnose/gather.ts';
import type { RouteAnswer } from '../../addon/daemon/kernel/route-lookup.ts';
import { formatIpv4, parseIpv4 } from '../../addon/daemon/net/ipv4.ts';

const root = mkdtempSync(path.join(tmpdir(), 'dg4-gather-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function write(file: string, text: string): string {
  const full = path.join(root, file);
  mkdirSync(path.dirname(full), { recursive: true });
  writeFileSync(full, text);
  return full;
}

const PID = 4242;
const config = write('etc/igmpproxy.conf', 'phyint up0 upstream\n  altnet 203.0.113.0/24\nphyint br0 downstream\n');
const pidfile = write('run/igmpproxy.pid', `${PID}\n`);
const statusFile = path.join(root, 'run/igmpproxy.status');
write(`proc/${PID}/comm`, 'igmpproxy\n');
write(
  'proc/net/ip_mr_vif',
  'Interface      BytesIn  PktsIn  BytesOut PktsOut Flags Local    Remote\n 0 up0 0 0 0 0 00000 0200630A 00000000\n 1 br0 0 0 0 0 00000 0163A8C0 00000000\n',
);
write(
  'proc/net/ip_mr_cache',
  'Group    Origin   Iif     Pkts    Bytes    Wrong Oifs\n010132EF 0A7100CB 0 100 13160 0  1:1\n',
);
write('proc/sys/net/ipv4/conf/all/rp_filter', '1\n');
write('proc/sys/net/ipv4/conf/up0/rp_filter', '2\n');
write('sys/class/net/up0/ifindex', '7\n');
write('sys/class/net/up0/flags', '0x1003\n');
write('sys/class/net/up0/carrier', '1\n');

const addresses = () => ({
  up0: [
    {
      address: '10.99.0.2',
      netmask: '255.255.255.0',
      family: 'IPv4' as const,
      mac: '',
      internal: false,
      cidr: '10.99.0.2/24',
    },
  ],
});

function statusDocument(): object {
  return {
    schema: 1,
    version: '1.0.0',
    pid: PID,
    configFile: config,
    configLoadedAt: new Date(Date.now() + 60_000).toISOString(),
    startedAt: new Date(0).toISOString(),
    writtenAt: new Date(90_000).toISOString(),
    vifs: [],
    waitingFor: [],
    kernelRoutes: [],
    proxy: {
      now: 10_000,
      upstreams: [{ name: 'up0', refusedSources: [{ source: '198.51.100.7', group: '239.1.1.2', at: 9_000 }] }],
      downstreams: [],
    },
    stallAlarm: { afterSeconds: 10, groups: [] },
  };
}

/** A kernel that routes 203.0.113.0/24 back through up0 (ifindex 7) and has no route to anything else. */
function kernel(asked: string[]): (address: number) => Promise<RouteAnswer> {
  return async (address) => {
    asked.push(formatIpv4(address));
    return formatIpv4(address).startsWith('203.0.113.')
      ? { ok: true, outIfindex: 7 }
      : { ok: false, error: 'ENETUNREACH' };
  };
}
const refuseToAsk = async (): Promise<RouteAnswer> => {
  throw new Error('nothing should be asked');
};

describe('gatherFacts with a fake /proc and /sys', () => {
  it('reads everything, signals the daemon once and reads the status it writes', async () => {
    const signalled: number[] = [];
    const asked: string[] = [];
    const facts = await gatherFacts({
      configPath: config,
      pidfile,
      statusFile,
      proc: path.join(root, 'proc'),
      sysClassNet: path.join(root, 'sys/class/net'),
      addresses,
      readFirewall: async () => ({ ok: true, value: '-N IPTVINPUT\n' }),
      lookupRoute: kernel(asked),
      requestStatus: (pid) => {
        signalled.push(pid);
        setTimeout(() => writeFileSync(statusFile, JSON.stringify(statusDocument())), 120);
      },
      sampleIntervalMs: 10,
    });
    expect(signalled).toEqual([PID]);
    expect(facts.daemon).toMatchObject({
      pid: PID,
      running: true,
      status: { ok: true, value: { configFile: config } },
    });
    expect(facts.config.loaded.ok).toBe(true);
    expect(facts.config.writtenByWebPage).toBe(false);
    expect(facts.multicastRouting).toBe(true);
    expect(facts.kernelVifs.map((v) => v.name)).toEqual(['up0', 'br0']);
    expect(facts.interfaces.get('up0')).toEqual({
      name: 'up0',
      exists: true,
      up: true,
      carrier: true,
      multicast: true,
      addresses: ['10.99.0.2/24'],
      rpFilter: 2,
    });
    expect(facts.rpFilterAll).toBe(1);
    // The altnet by its probe address and the source the daemon refused; answers by interface name.
    expect(asked).toEqual(['198.51.100.7', '203.0.113.1']);
    expect(facts.routesBack).toEqual({
      ok: true,
      value: new Map([
        [parseIpv4('203.0.113.1'), 'up0'],
        [parseIpv4('198.51.100.7'), null],
      ]),
    });
    expect(facts.samples?.[1].routes).toHaveLength(1);
  });

  it('a stale pidfile (pid not an igmpproxy) is not signalled', async () => {
    write('run/stale.pid', '4243\n');
    write('proc/4243/comm', 'bash\n');
    const facts = await gatherFacts({
      configPath: config,
      pidfile: path.join(root, 'run/stale.pid'),
      statusFile,
      proc: path.join(root, 'proc'),
      sysClassNet: path.join(root, 'sys/class/net'),
      addresses,
      readFirewall: async () => ({ ok: true, value: '' }),
      requestStatus: () => {
        throw new Error('must not be signalled');
      },
      sampleIntervalMs: 1,
      lookupRoute: kernel([]),
    });
    expect(facts.daemon).toEqual({
      pidfile: path.join(root, 'run/stale.pid'),
      pid: 4243,
      running: false,
      status: undefined,
    });
  });

  it('nothing there: every reading says why, and diagnose still answers', async () => {
    const empty = path.join(root, 'empty');
    mkdirSync(path.join(empty, 'sys'), { recursive: true });
    const facts = await gatherFacts({
      configPath: path.join(empty, 'none.conf'),
      pidfile: path.join(empty, 'none.pid'),
      statusFile: path.join(empty, 'none.status'),
      proc: path.join(empty, 'proc'),
      sysClassNet: path.join(empty, 'sys'),
      addresses: () => ({}),
      readFirewall: async () => ({ ok: false, reason: 'iptables is not installed' }),
      sampleIntervalMs: 1,
      lookupRoute: refuseToAsk,
    });
    expect(facts.config.loaded).toMatchObject({ ok: false, errors: [expect.stringMatching(/does not exist/)] });
    expect(facts.multicastRouting).toBe(false);
    expect(facts.samples).toBeUndefined();
    expect(facts.routesBack).toEqual({ ok: true, value: new Map() }); // no upstream known: nothing asked
    const result = diagnose(facts);
    expect(result.checks.map((c) => [c.id, c.ok])).toEqual([
      ['config', false],
      ['kernel-mroute', false],
      ['daemon', false],
      ['firewall', false],
    ]);
  });

  it("a configuration the web page's initscript made is known by its first line", async () => {
    const managed = write(
      'etc/managed.conf',
      `${WEB_PAGE_MARK}: made by the initscript\nphyint up0 upstream\nphyint br0 downstream\n`,
    );
    const facts = await gatherFacts({
      configPath: managed,
      pidfile: path.join(root, 'run/none.pid'),
      statusFile,
      proc: path.join(root, 'proc'),
      sysClassNet: path.join(root, 'sys/class/net'),
      addresses,
      readFirewall: async () => ({ ok: true, value: '' }),
      sampleIntervalMs: 1,
      lookupRoute: kernel([]),
    });
    expect(facts.config).toMatchObject({ writtenByWebPage: true, loaded: { ok: true } });
  });

  it('a route lookup that fails becomes a reason, not an exception', async () => {
    const facts = await gatherFacts({
      configPath: config,
      pidfile: path.join(root, 'run/none.pid'),
      statusFile,
      proc: path.join(root, 'proc'),
      sysClassNet: path.join(root, 'sys/class/net'),
      addresses,
      readFirewall: async () => ({ ok: true, value: '' }),
      sampleIntervalMs: 1,
      lookupRoute: async () => {
        throw new Error('no answer from the kernel to a route lookup in 2000 ms');
      },
    });
    expect(facts.routesBack).toEqual({
      ok: false,
      reason:
        'cannot ask the kernel for the route to 203.0.113.1: no answer from the kernel to a route lookup in 2000 ms',
    });
    expect(diagnose(facts).checks.find((c) => c.id === 'upstream-rp-filter')).toMatchObject({
      ok: false,
      message: expect.stringContaining('no answer from the kernel'),
    });
  });

  it('a daemon that does not answer SIGUSR1 is reported after the bounded wait', async () => {
    const facts = await gatherFacts({
      configPath: config,
      pidfile,
      statusFile: path.join(root, 'run/never.status'),
      proc: path.join(root, 'proc'),
      sysClassNet: path.join(root, 'sys/class/net'),
      addresses,
      readFirewall: async () => ({ ok: true, value: '' }),
      requestStatus: () => undefined,
      sampleIntervalMs: 1,
      statusTimeoutMs: 200,
      lookupRoute: kernel([]),
    });
    expect(facts.daemon.status).toEqual({
      ok: false,
      reason: expect.stringMatching(/did not write .*never.status within 0.2 s of SIGUSR1/),
    });
  });
});

describe('diagnose output', () => {
  const diagnosis: Diagnosis = {
    checks: [
      { id: 'daemon', ok: true, message: 'igmpproxy runs', fix: null },
      {
        id: 'upstream-multicast',
        interface: 'up\u001b[31m0',
        ok: false,
        message: 'multicast is switched off on up\u001b[31m0',
        fix: 'ip link set dev up0 multicast on',
      },
    ],
    groups: [
      {
        group: '239.1.1.1',
        source: '10.0.0.1',
        upstream: 'up0',
        receivers: 2,
        downstreams: ['br0'],
        packets: 500,
        packetsPerSecond: 100,
        bitsPerSecond: 1_052_800,
        stalled: false,
      },
    ],
  };

  it('human: a checklist with the fix under each problem, the groups, a count; no control characters', () => {
    expect(formatHuman(diagnosis)).toBe(
      [
        'ok       daemon              igmpproxy runs',
        'PROBLEM  upstream-multicast  multicast is switched off on up?[31m0',
        '                             fix: ip link set dev up0 multicast on',
        '',
        'group      source    upstream  receivers  packets  rate',
        '239.1.1.1  10.0.0.1  up0       2 on br0   500      1.1 Mbit/s (100 pkt/s)',
        '',
        '1 problem found.',
        '',
      ].join('\n'),
    );
  });

  it('JSON: schema 1, the checks and groups as they are', () => {
    const parsed = JSON.parse(formatJson(diagnosis));
    expect(parsed).toEqual({ schema: 1, checks: diagnosis.checks, groups: diagnosis.groups });
  });

  it('rates', () => {
    expect([999, 64_000, 8_000_000].map(formatRate)).toEqual(['999 bit/s', '64.0 kbit/s', '8.0 Mbit/s']);
  });
});

describe('diagnose and the add-on agree', () => {
  it('on the firewall chains and the helper', () => {
    expect(FIREWALL_CHAINS).toEqual({
      input: LAYOUT.chainIn,
      forward: LAYOUT.chainFwd,
      output: LAYOUT.chainOut,
      iptvInput: LAYOUT.iptvInput,
      iptvForward: LAYOUT.iptvForward,
      customOutput: LAYOUT.customOutput,
    });
    expect(FIREWALL_HELPER).toBe(LAYOUT.firewallHelper);
  });

  it("on the web page's settings file and the first line of the configuration it makes", () => {
    expect(WEB_PAGE_SETTINGS).toBe(LAYOUT.settingsFile);
    expect(WEB_PAGE_MARK).toBe(`# ${LAYOUT.managedMark}`);
  });
});

describe('igmpproxy diagnose arguments', () => {
  it.each([
    [[], { configPath: '/etc/igmpproxy.conf', json: false, pidfile: undefined, statusFile: undefined }],
    [['--json', 'my.conf'], { configPath: 'my.conf', json: true, pidfile: undefined, statusFile: undefined }],
    [
      ['--pidfile', '/p', '--status-file', '/s'],
      { configPath: '/etc/igmpproxy.conf', json: false, pidfile: '/p', statusFile: '/s' },
    ],
  ])('diagnose %j', (args, expected) => {
    expect(parseArgs(['diagnose', ...args])).toEqual({ kind: 'diagnose', ...expected });
  });

  it.each([[['--jsn']], [['a', 'b']], [['--pidfile']]])('refuses diagnose %j', (args) => {
    expect(parseArgs(['diagnose', ...args]).kind).toBe('usage-error');
  });
});
