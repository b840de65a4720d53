// A PPPoE reconnect, as the daemon sees it: the upstream interface is deleted and a new
// one with the same name (and a new ifindex) appears. Also a VLAN like red0.8 being
// re-created, and an upstream absent at start. The daemon must notice by itself
// (rtnetlink), re-add the VIF, re-join upstream and let the streams resume: no restart.
//
//   isp ns: bridge <p>ib (isp program, 10.97.0.1/24) ── port <p>ip ══ veth ══ <p>u (proxy ns, upstream)
//   proxy ns: <p>d 192.168.97.1/24 ══ veth ══ <p>t 192.168.97.10/24 (tv ns, tv program)
//
// The provider sits on a bridge so that re-creating the veth pair leaves its program and
// sockets untouched, as a real provider's router would be.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { checkNetnsSupport, NetnsLab } from '../../scripts/lab/netns.ts';
import type { Netns, NetnsProcess } from '../../scripts/lab/netns.ts';
import { labNode, labShim, repositoryRoot, startLabProgram } from '../../scripts/lab/iptv-lab.ts';
import type { LabProgram } from '../../scripts/lab/program-client.ts';
import type { IspProgramConfig } from '../../scripts/lab/isp-program.ts';
import type { TvProgramConfig } from '../../scripts/lab/tv-program.ts';
import { scaled } from '../../scripts/lab/slowdown.ts';

const PREFIX = 'ipr9';
const support = checkNetnsSupport(PREFIX);
if (!support.available) console.warn(`reconnect tests skipped: ${support.reason}`);

const names = {
  bridge: `${PREFIX}ib`,
  ispPort: `${PREFIX}ip`,
  upstream: `${PREFIX}u`,
  downstream: `${PREFIX}d`,
  tv: `${PREFIX}t`,
};
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(!support.available)('upstream deleted and re-created (PPPoE reconnect)', () => {
  const lab = new NetnsLab(PREFIX);
  let isp: Netns;
  let proxyNs: Netns;
  let ispProgram: LabProgram;
  let tvProgram: LabProgram;
  let daemon: NetnsProcess;
  let dir: string;

  async function connectUpstream(): Promise<void> {
    await lab.connect(isp, names.ispPort, proxyNs, names.upstream);
    await isp.ip('link', 'set', 'dev', names.ispPort, 'master', names.bridge);
    await isp.up(names.ispPort);
    await proxyNs.addAddress(names.upstream, '10.97.0.2/24');
    await proxyNs.up(names.upstream);
  }

  async function packets(group: string): Promise<number> {
    const stats = (await tvProgram.call('stats')) as unknown as { groups: Record<string, { packets: number }> };
    return stats.groups[group]?.packets ?? 0;
  }

  beforeAll(async () => {
    const shim = await labShim();
    isp = await lab.createNamespace('isp');
    proxyNs = await lab.createNamespace('proxy');
    const tv = await lab.createNamespace('tv');
    await isp.ip('link', 'add', names.bridge, 'type', 'bridge');
    await isp.addAddress(names.bridge, '10.97.0.1/24');
    await isp.up(names.bridge);
    await lab.connect(proxyNs, names.downstream, tv, names.tv);
    await proxyNs.addAddress(names.downstream, '192.168.97.1/24');
    await proxyNs.up(names.downstream);
    await tv.addAddress(names.tv, '192.168.97.10/24');
    await tv.up(names.tv);
    await tv.ip('route', 'add', 'default', 'via', '192.168.97.1');
    await proxyNs.sysctl('net.ipv4.conf.all.rp_filter', 0);
    await proxyNs.sysctl('net.ipv4.conf.default.rp_filter', 0);

    ispProgram = await startLabProgram(isp, 'isp', 'isp-program.ts', {
      shim,
      ifname: names.bridge,
      address: '10.97.0.1',
      sourceAddress: '10.97.0.1',
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
      address: '192.168.97.10',
      port: 5000,
    } satisfies TvProgramConfig);

    // The upstream does not exist yet when the daemon starts: it must wait for it.
    dir = mkdtempSync(path.join(tmpdir(), `${PREFIX}-`));
    const config = path.join(dir, 'igmpproxy.conf');
    writeFileSync(
      config,
      `quickleave\nphyint ${names.upstream} upstream\n  altnet 10.97.0.0/24\nphyint ${names.downstream} downstream\n`,
    );
    // -d logs to stderr; the harness reads stdout lines, so the daemon's stderr goes there.
    daemon = proxyNs.spawn(
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
    await daemon.waitForLine(
      (line) => line.includes(`${names.upstream} (upstream) is not present or not up; waiting for it`),
      10_000,
    );
  }, scaled(90_000));

  afterAll(async () => {
    daemon?.child.kill('SIGTERM');
    await daemon?.stop(3_000);
    await lab.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, scaled(30_000));

  test('an upstream absent at start is picked up when it appears', async () => {
    const from = daemon.lines.length;
    await connectUpstream();
    await daemon.waitForLine((line) => /ipr9u is upstream \(ifindex \d+/.test(line), 5_000, from);
    const group = '239.40.0.1';
    const ispMark = ispProgram.mark;
    await tvProgram.call('join', { group });
    await ispProgram.waitForEvent(
      (event) => event.event === 'report' && event.group === group && event.kind === 'join',
      5_000,
      ispMark,
      'join',
    );
    await tvProgram.waitForEvent((event) => event.event === 'first' && event.group === group, 5_000, 0, 'first packet');
  });

  test('deleted and re-created with a new ifindex: joins re-sent at once, streams resume without a restart', async () => {
    const group = '239.40.0.1';
    const before = await packets(group);
    expect(before).toBeGreaterThan(0);
    const oldIfindex = await proxyNs.ifindex(names.upstream);
    const from = daemon.lines.length;
    await proxyNs.deleteLink(names.upstream);
    await daemon.waitForLine((line) => line.includes(`${names.upstream} is gone`), 5_000, from);
    await sleep(300);
    const during = await packets(group);
    await sleep(300);
    expect(await packets(group)).toBe(during); // no upstream, no stream

    const ispMark = ispProgram.mark;
    await connectUpstream();
    const newIfindex = await proxyNs.ifindex(names.upstream);
    expect(newIfindex).not.toBe(oldIfindex);
    await daemon.waitForLine(
      (line) => line.includes(`${names.upstream} is upstream (ifindex ${newIfindex}`),
      5_000,
      from,
    );
    const rejoin = await ispProgram.waitForEvent(
      (event) => event.event === 'report' && event.group === group && event.kind === 'join',
      5_000,
      ispMark,
      'the re-join',
    );
    expect(rejoin.from).toBe('10.97.0.2');
    const resumeDeadline = Date.now() + 5_000;
    while ((await packets(group)) < during + 50 && Date.now() < resumeDeadline) await sleep(100);
    expect(await packets(group)).toBeGreaterThanOrEqual(during + 50);
    expect(daemon.exited).toBe(false);
  });

  test('down and up again (link flap): the stream resumes', async () => {
    const group = '239.40.0.1';
    const from = daemon.lines.length;
    await proxyNs.ip('link', 'set', 'dev', names.upstream, 'down');
    await daemon.waitForLine((line) => line.includes(`${names.upstream} is down`), 5_000, from);
    await proxyNs.up(names.upstream);
    await daemon.waitForLine((line) => /ipr9u is upstream \(ifindex/.test(line), 5_000, from);
    const start = await packets(group);
    const deadline = Date.now() + 5_000;
    while ((await packets(group)) < start + 50 && Date.now() < deadline) await sleep(100);
    expect(await packets(group)).toBeGreaterThanOrEqual(start + 50);
  });

  test("multicast switched off on the upstream (IPFire's red.up does that) is switched back on, the stream goes on", async () => {
    const group = '239.40.0.1';
    const from = daemon.lines.length;
    await proxyNs.ip('link', 'set', 'dev', names.upstream, 'multicast', 'off');
    await daemon.waitForLine(
      (line) => line.includes(`${names.upstream}: multicast was switched off on it; switched it on`),
      5_000,
      from,
    );
    const flags = Number.parseInt((await proxyNs.run(['cat', `/sys/class/net/${names.upstream}/flags`])).trim(), 16);
    expect(flags & 0x1000).toBe(0x1000); // IFF_MULTICAST
    const start = await packets(group);
    const deadline = Date.now() + 5_000;
    while ((await packets(group)) < start + 50 && Date.now() < deadline) await sleep(100);
    expect(await packets(group)).toBeGreaterThanOrEqual(start + 50);
  });
});
