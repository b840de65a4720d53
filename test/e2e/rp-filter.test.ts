// Strict reverse-path filtering on a Telekom legacy line, end to end. IPFire's own
// sysctl.conf (test/fixtures/ipfire/sysctl.conf: conf/all and conf/default rp_filter = 1)
// is applied inside the proxy namespace; the streams arrive on the upstream <p>u while the
// default route, and so the route back to their altnet sources, leaves by <p>ppp (the
// "ppp0" of a legacy line; here a veth to a namespace standing for the internet).
//
//   isp ns:  bridge <p>ib 10.96.0.1/24 + stream source 203.0.113.10 ── port <p>ip ══ veth ══ <p>u (proxy ns, upstream, 10.96.0.2/24)
//   inet ns: <p>in 100.64.0.1/30 ══ veth ══ <p>ppp (proxy ns, 100.64.0.2/30, default route)
//   proxy ns: <p>d 192.168.96.1/24 ══ veth ══ <p>t 192.168.96.10/24 (tv ns, tv program)
//
// With `rpfilter keep` the kernel drops every stream packet (its IPReversePathFilter
// counter rises, the TV gets nothing); with the default `rpfilter auto` the daemon switches
// <p>u to loose mode, the stream flows, a re-created upstream (reconnect) is switched again,
// and the strict value is back after the daemon stops. Needs multicast routing (the test VM).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { checkNetnsSupport, NetnsLab, waitUntil } from '../../scripts/lab/netns.ts';
import type { Netns, NetnsProcess } from '../../scripts/lab/netns.ts';
import { scaled } from '../../scripts/lab/slowdown.ts';
import { labNode, labShim, repositoryRoot, startLabProgram } from '../../scripts/lab/iptv-lab.ts';
import type { LabProgram } from '../../scripts/lab/program-client.ts';
import type { IspProgramConfig } from '../../scripts/lab/isp-program.ts';
import type { TvProgramConfig } from '../../scripts/lab/tv-program.ts';

const PREFIX = 'rp4';
const support = checkNetnsSupport(PREFIX);
if (!support.available) console.warn(`rp_filter end-to-end tests skipped: ${support.reason}`);

const names = {
  bridge: `${PREFIX}ib`,
  ispPort: `${PREFIX}ip`,
  upstream: `${PREFIX}u`,
  ppp: `${PREFIX}ppp`,
  inet: `${PREFIX}in`,
  downstream: `${PREFIX}d`,
  tv: `${PREFIX}t`,
};
const SOURCE = '203.0.113.10';
const GROUP = '239.41.0.1';
const rpFilterKey = (name: string): string => `net.ipv4.conf.${name}.rp_filter`;

/** The `net.ipv4.conf.{all,default}.rp_filter` lines of IPFire's sysctl.conf (per namespace). */
function ipfireRpFilterSettings(): [key: string, value: string][] {
  const text = readFileSync(path.join(repositoryRoot, 'test', 'fixtures', 'ipfire', 'sysctl.conf'), 'utf8');
  return [...text.matchAll(/^(net\.ipv4\.conf\.(?:all|default)\.rp_filter)\s*=\s*(\d+)\s*$/gm)].map((m) => [
    m[1] as string,
    m[2] as string,
  ]);
}

describe.skipIf(!support.available)(
  'strict rp_filter on a legacy line (IPTV on the VLAN, default route over ppp)',
  () => {
    const lab = new NetnsLab(PREFIX);
    let isp: Netns;
    let proxyNs: Netns;
    let ispProgram: LabProgram;
    let tvProgram: LabProgram;
    let daemon: NetnsProcess | undefined;
    let dir: string;

    async function connectUpstream(): Promise<void> {
      await lab.connect(isp, names.ispPort, proxyNs, names.upstream);
      await isp.ip('link', 'set', 'dev', names.ispPort, 'master', names.bridge);
      await isp.up(names.ispPort);
      await proxyNs.addAddress(names.upstream, '10.96.0.2/24');
      await proxyNs.up(names.upstream);
    }

    async function startDaemon(rpFilterLine: string): Promise<NetnsProcess> {
      const config = path.join(dir, 'igmpproxy.conf');
      writeFileSync(
        config,
        `quickleave\n${rpFilterLine}\nphyint ${names.upstream} upstream\n  altnet 203.0.113.0/24\n` +
          `phyint ${names.downstream} downstream\nphyint ${names.ppp} disabled\n`,
      );
      // -d logs to stderr; the harness reads stdout lines, so the daemon's stderr goes there.
      const child = proxyNs.spawn(
        [
          'sh',
          '-c',
          'exec "$0" "$@" 2>&1',
          ...labNode,
          path.join(repositoryRoot, 'addon', 'daemon', 'main.ts'),
          '-d',
          '-vv',
          '--pidfile',
          path.join(dir, 'pid'),
          '--status-file',
          path.join(dir, 'status'),
          config,
        ],
        { cwd: repositoryRoot },
      );
      await child.waitForLine((line) => line.endsWith(' started'), 10_000);
      return child;
    }

    async function stopDaemon(): Promise<void> {
      daemon?.child.kill('SIGTERM');
      await daemon?.stop(3_000);
    }

    async function packets(): Promise<number> {
      const stats = (await tvProgram.call('stats')) as unknown as { groups: Record<string, { packets: number }> };
      return stats.groups[GROUP]?.packets ?? 0;
    }

    async function waitForPackets(atLeast: number): Promise<void> {
      await waitUntil(async () => (await packets()) >= atLeast, 5_000, `${atLeast} packets of ${GROUP} at the TV`, 100);
    }

    /** The kernel's count of packets dropped by the reverse-path filter in the proxy namespace. */
    async function reversePathDrops(): Promise<number> {
      const [header, values] = (await proxyNs.run(['cat', '/proc/net/netstat']))
        .split('\n')
        .filter((line) => line.startsWith('TcpExt:'));
      const index = (header ?? '').split(/\s+/).indexOf('IPReversePathFilter');
      return Number((values ?? '').split(/\s+/)[index]);
    }

    async function rpFilter(name: string): Promise<string> {
      return proxyNs.readSysctl(rpFilterKey(name));
    }

    beforeAll(async () => {
      const shim = await labShim();
      isp = await lab.createNamespace('isp');
      proxyNs = await lab.createNamespace('proxy');
      const inet = await lab.createNamespace('inet');
      const tv = await lab.createNamespace('tv');
      // IPFire's strict setting first, so every interface made in the proxy namespace starts strict.
      for (const [key, value] of ipfireRpFilterSettings()) await proxyNs.sysctl(key, value);
      await proxyNs.sysctl('net.ipv4.ip_forward', 1);

      await isp.ip('link', 'add', names.bridge, 'type', 'bridge');
      await isp.addAddress(names.bridge, '10.96.0.1/24');
      await isp.addAddress(names.bridge, `${SOURCE}/32`);
      await isp.up(names.bridge);
      await lab.connect(inet, names.inet, proxyNs, names.ppp);
      await inet.addAddress(names.inet, '100.64.0.1/30');
      await inet.up(names.inet);
      await proxyNs.addAddress(names.ppp, '100.64.0.2/30');
      await proxyNs.up(names.ppp);
      await proxyNs.ip('route', 'add', 'default', 'via', '100.64.0.1');
      await lab.connect(proxyNs, names.downstream, tv, names.tv);
      await proxyNs.addAddress(names.downstream, '192.168.96.1/24');
      await proxyNs.up(names.downstream);
      await tv.addAddress(names.tv, '192.168.96.10/24');
      await tv.up(names.tv);
      await tv.ip('route', 'add', 'default', 'via', '192.168.96.1');
      await connectUpstream();

      ispProgram = await startLabProgram(isp, 'isp', 'isp-program.ts', {
        shim,
        ifname: names.bridge,
        address: '10.96.0.1',
        sourceAddress: SOURCE,
        version: 3,
        queryIntervalMs: 0,
        queryResponseMs: 1_000,
        robustness: 2,
        lastMemberQueryMs: 200,
        lastMemberCount: 2,
        leaveMode: 'query',
        port: 5000,
        packetIntervalMs: 10,
        payloadBytes: 64,
      } satisfies IspProgramConfig);
      tvProgram = await startLabProgram(tv, 'tv', 'tv-program.ts', {
        shim,
        ifname: names.tv,
        address: '192.168.96.10',
        port: 5000,
      } satisfies TvProgramConfig);
      dir = mkdtempSync(path.join(tmpdir(), `${PREFIX}-`));
    }, scaled(90_000));

    afterAll(async () => {
      await stopDaemon();
      await lab.cleanup();
      if (dir) rmSync(dir, { recursive: true, force: true });
    }, scaled(30_000));

    test("IPFire's setting is strict, and the route back to the sources leaves by the ppp interface", async () => {
      expect([await rpFilter('all'), await rpFilter('default'), await rpFilter(names.upstream)]).toEqual([
        '1',
        '1',
        '1',
      ]);
      expect(await proxyNs.ip('-o', 'route', 'get', '203.0.113.1')).toContain(`dev ${names.ppp}`);
    });

    test('`rpfilter keep`: the stream reaches the upstream and the kernel drops it there', async () => {
      daemon = await startDaemon('rpfilter keep');
      const dropsBefore = await reversePathDrops();
      const ispMark = ispProgram.mark;
      await tvProgram.call('join', { group: GROUP });
      await ispProgram.waitForEvent(
        (event) => event.event === 'start' && event.group === GROUP,
        5_000,
        ispMark,
        'the stream to start',
      );
      // Proof by the kernel's own counter that stream packets arrived and were dropped.
      await waitUntil(async () => (await reversePathDrops()) >= dropsBefore + 20, 5_000, 'reverse-path drops', 100);
      expect(await packets()).toBe(0);
      expect(await rpFilter(names.upstream)).toBe('1');
      expect(daemon.lines.filter((line) => line.includes('rp_filter'))).toEqual([]);
      await tvProgram.call('leave', { group: GROUP });
      await stopDaemon();
      expect(await rpFilter(names.upstream)).toBe('1');
    });

    test('`rpfilter auto` (the default): the upstream is switched to loose once, logged with the reason, and the stream flows', async () => {
      daemon = await startDaemon('');
      await daemon.waitForLine(
        (line) =>
          line.includes(
            `${names.upstream}: rp_filter set to loose (2) while igmpproxy runs (was 1): ` +
              'strict rp_filter (conf/rp4u = 1) would drop its streams from altnet 203.0.113.0/24: the route back to it goes out through rp4ppp',
          ),
        5_000,
      );
      expect([await rpFilter(names.upstream), await rpFilter('all')]).toEqual(['2', '1']);
      const tvMark = tvProgram.mark;
      await tvProgram.call('join', { group: GROUP });
      await tvProgram.waitForEvent(
        (event) => event.event === 'first' && event.group === GROUP,
        5_000,
        tvMark,
        'the first packet',
      );
      await waitForPackets(50);
      expect(daemon.lines.filter((line) => line.includes('rp_filter set to loose'))).toHaveLength(1);
    });

    test('upstream deleted and re-created (reconnect): the new interface starts strict and is switched again', async () => {
      const from = daemon?.lines.length ?? 0;
      await proxyNs.deleteLink(names.upstream);
      await daemon?.waitForLine((line) => line.includes(`${names.upstream} is gone`), 5_000, from);
      const before = await packets();
      await connectUpstream();
      await daemon?.waitForLine(
        (line) => line.includes(`${names.upstream}: rp_filter set to loose (2) while igmpproxy runs (was 1)`),
        5_000,
        from,
      );
      expect(await rpFilter(names.upstream)).toBe('2');
      await waitForPackets(before + 50);
    });

    test('stopped: the strict value is back', async () => {
      const from = daemon?.lines.length ?? 0;
      await stopDaemon();
      expect(
        daemon?.lines.slice(from).some((line) => line.includes(`${names.upstream}: rp_filter put back to 1`)),
      ).toBe(true);
      expect([await rpFilter(names.upstream), await rpFilter('all')]).toEqual(['1', '1']);
    });
  },
);
