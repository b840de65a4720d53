// Tests of the IPTV lab itself (scripts/lab/): that its provider, its TVs and its
// topology behave like the real thing BEFORE any proxy of ours is judged in it.
// - without a proxy, a host in the proxy namespace joining on the upstream gets the
//   provider to stream to it, and its leave stops the stream;
// - the provider's queries reach the proxy namespace's kernel, which answers them;
// - a second upstream has its own provider; TVs speak the IGMP version they are told;
//   the raw sender puts malformed IGMP on the TV link;
// - with Debian's C igmpproxy 0.3 as a known proxy: a TV's join brings the first packet
//   (from an altnet source), its leave stops the stream.
import { existsSync, readlinkSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { checkNetnsSupport } from '../../scripts/lab/netns.ts';
import { findCIgmpproxy } from '../../scripts/lab/c-igmpproxy.ts';
import { IptvLab, LAB_ADDRESSES, LAB_PREFIX, tvAddress } from '../../scripts/lab/iptv-lab.ts';
import type { TvHandle } from '../../scripts/lab/iptv-lab.ts';
import { scaled } from '../../scripts/lab/slowdown.ts';

const support = checkNetnsSupport(LAB_PREFIX);
if (!support.available) console.warn(`IPTV lab tests skipped: ${support.reason}`);
const cProxy = support.available ? findCIgmpproxy() : { available: false as const, reason: support.reason };
if (support.available && !cProxy.available) console.warn(`IPTV lab test with C igmpproxy skipped: ${cProxy.reason}`);

describe.skipIf(!support.available)('IPTV lab without a proxy', () => {
  let lab: IptvLab;
  let listener: TvHandle;

  beforeAll(async () => {
    lab = await IptvLab.create({
      ispVersion: 3,
      tvClients: 2,
      tvIgmpVersions: [2, undefined],
      secondUpstream: true,
      queryIntervalMs: 0,
    });
    listener = await lab.startUpstreamListener(1);
  }, scaled(60_000));

  afterAll(async () => {
    await lab?.dispose();
  }, scaled(30_000));

  test('a join on the upstream makes the isp stream the group; the leave stops it', async () => {
    const group = '239.1.1.1';
    const from = lab.isp.mark;
    const joinedAt = await listener.join(group);
    const report = await lab.isp.waitForReport(group, { from, kinds: ['join'] });
    expect(report).toMatchObject({ from: LAB_ADDRESSES.upstream, version: 3, recordType: 'to-exclude' });
    const start = await lab.isp.waitForStart(group, from);
    expect(start.t).toBeGreaterThanOrEqual(report.t);
    const first = await listener.waitFirstPacket(group, 5_000);
    expect(first.t).toBeGreaterThan(joinedAt);
    expect(first.latencyMs).toBeCloseTo(first.t - joinedAt, 3);

    await lab.waitFor(async () => ((await listener.stats()).groups[group]?.packets ?? 0) >= 20, 5_000, '20 packets');
    const leaveFrom = lab.isp.mark;
    const left = await listener.leave(group);
    expect(left.lost).toBe(0);
    const leave = await lab.isp.waitForReport(group, { from: leaveFrom, kinds: ['leave'] });
    expect(leave).toMatchObject({ from: LAB_ADDRESSES.upstream, recordType: 'to-include' });
    // The isp asks twice (last member query, 200 ms apart), nobody answers, it stops.
    const stop = await lab.isp.waitForStop(group, leaveFrom, 3_000);
    expect(stop.reason).toBe('expired');
    expect(lab.isp.events('query-sent', leaveFrom, (event) => event.group === group).length).toBe(2);
    expect((await lab.isp.status()).groups).toEqual([]);
  });

  test('the proxy namespace kernel answers the isp queries, v3 and v2', async () => {
    const group = '239.1.1.2';
    await listener.join(group);
    await lab.isp.waitForReport(group, { kinds: ['join'] });
    const v3From = lab.isp.mark;
    await lab.isp.query({ maxResponseMs: 500 });
    // The answer to a general query is a current-state record (IS_EX), not a state change.
    const current = await lab.isp.waitForReport(group, { from: v3From, kinds: ['current'], timeoutMs: 3_000 });
    expect(current).toMatchObject({ from: LAB_ADDRESSES.upstream, version: 3, recordType: 'is-exclude' });

    const v2From = lab.isp.mark;
    await lab.isp.query({ version: 2, maxResponseMs: 500 });
    // An IGMPv2 query switches the host to v2 compatibility: it answers with a v2 report.
    const v2 = await lab.isp.waitForReport(group, { from: v2From, kinds: ['join'], timeoutMs: 3_000 });
    expect(v2).toMatchObject({ from: LAB_ADDRESSES.upstream, version: 2 });
    await listener.leave(group);
  });

  test('a paused group keeps its membership but gets no packets until resumed (a head-end failure)', async () => {
    const group = '239.1.1.3';
    await listener.join(group);
    await listener.waitFirstPacket(group, 5_000);
    const received = async (): Promise<number> => (await listener.stats()).groups[group]?.packets ?? 0;
    await lab.isp.pauseGroup(group);
    await new Promise((resolve) => setTimeout(resolve, 200)); // packets in flight arrive
    const paused = await received();
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await received()).toBe(paused);
    expect(await lab.isp.status()).toMatchObject({ groups: expect.arrayContaining([group]) });
    expect(await lab.isp.resumeGroup(group)).toBe(true);
    await lab.waitFor(async () => (await received()) >= paused + 10, 5_000, '10 packets after the resume');
    await listener.leave(group);
  });

  test('the second upstream has its own provider, which hears only its own link', async () => {
    const isp2 = lab.isp2;
    if (!isp2) throw new Error('lab without second upstream');
    const listener2 = await lab.startUpstreamListener(2);
    const group = '239.2.2.2';
    const from1 = lab.isp.mark;
    const from2 = isp2.mark;
    await listener2.join(group);
    const report = await isp2.waitForReport(group, { from: from2, kinds: ['join'] });
    expect(report.from).toBe(LAB_ADDRESSES.upstream2);
    const first = await listener2.waitFirstPacket(group, 5_000);
    expect(first.transitMs).toBeGreaterThan(0);
    expect(lab.isp.events('report', from1, (event) => event.group === group)).toEqual([]);
    await listener2.leave(group);
  });

  test('a TV speaks the IGMP version it is told, and its sniffer sees its own reports', async () => {
    const v2Tv = lab.tv(0);
    const v3Tv = lab.tv(1);
    await v2Tv.sniff();
    await v3Tv.sniff();
    const from2 = v2Tv.mark;
    const from3 = v3Tv.mark;
    await v2Tv.join('239.3.3.3');
    await v3Tv.join('239.3.3.4');
    const own = (tv: TvHandle, from: number, type: string): Promise<unknown> =>
      tv.program.waitForEvent(
        (event) =>
          event.event === 'igmp' &&
          event.dir === 'out' &&
          (event.message as { type?: string } | undefined)?.type === type,
        3_000,
        from,
        `an outgoing ${type}`,
      );
    const v2 = await own(v2Tv, from2, 'v2-report');
    expect(v2).toMatchObject({ from: tvAddress(0), to: '239.3.3.3', ttl: 1, routerAlert: true });
    const v3 = await own(v3Tv, from3, 'v3-report');
    expect(v3).toMatchObject({ from: tvAddress(1), to: '224.0.0.22', routerAlert: true });
    // The bridge floods: tv1 sees tv0's v2 report on its own link.
    await v3Tv.program.waitForEvent(
      (event) => event.event === 'igmp' && event.dir === 'in' && event.from === tvAddress(0),
      3_000,
      from3,
      "tv0's report on tv1's link",
    );
    await v2Tv.leave('239.3.3.3');
    await v3Tv.leave('239.3.3.4');
  });

  test('mcast-send puts 10,000 malformed IGMP packets on the TV link, all seen by the other TV', async () => {
    const sender = lab.tv(0);
    const observer = lab.tv(1);
    await observer.sniff();
    const from = observer.mark;
    const result = await sender.mcastSend({ destination: '224.0.0.22', count: 10_000, seed: 7 });
    expect(result).toMatchObject({ sent: 10_000, failed: 0 });
    await lab.waitFor(
      () => observer.igmpEvents(from, (event) => event.from === tvAddress(0)).length >= 10_000,
      15_000,
      '10,000 packets at the observer',
    );
    const seen = observer.igmpEvents(from, (event) => event.from === tvAddress(0));
    expect(seen.length).toBe(10_000);
    // Every one of them is malformed for the project's parser, and they arrive in order.
    expect(seen.every((event) => typeof event.unparsed === 'string')).toBe(true);
  });
});

describe.skipIf(!support.available || !cProxy.available)('IPTV lab with Debian C igmpproxy', () => {
  let lab: IptvLab;
  const proxyPids: number[] = [];

  beforeAll(async () => {
    lab = await IptvLab.create({
      ispVersion: 3,
      tvClients: 2,
      sourceAddress: LAB_ADDRESSES.altSource,
      queryIntervalMs: 0,
    });
  }, scaled(60_000));

  afterAll(async () => {
    await lab?.dispose();
    // No proxy the lab started outlives it.
    expect(proxyPids.filter((pid) => existsSync(`/proc/${pid}`))).toEqual([]);
  }, scaled(30_000));

  test('a TV join brings the first packet from an altnet source; the leave stops the stream (quickleave)', async () => {
    if (!cProxy.available) return;
    const proxy = await lab.startProxy({
      command: [cProxy.path, '-d', '-vv'],
      config: lab.proxyConfig({ quickleave: true }),
    });
    proxyPids.push(proxy.pid);
    // The lab starts it through `ip netns exec`, which execs the proxy a moment later.
    const exe = (): string => {
      try {
        return readlinkSync(`/proc/${proxy.pid}/exe`);
      } catch {
        return '';
      }
    };
    await lab.waitFor(() => exe() === cProxy.path, 5_000, `pid ${proxy.pid} to run ${cProxy.path}`);
    expect(exe()).toBe(cProxy.path);
    await proxy.waitForLog(/ipe8br/, 5_000);
    const group = '239.5.5.5';
    const watcher = lab.tv(0);
    const neighbour = lab.tv(1);
    await neighbour.sniff();

    const from = lab.isp.mark;
    const joinedAt = await watcher.join(group);
    const report = await lab.isp.waitForReport(group, { from, kinds: ['join'] });
    expect(report.from).toBe(LAB_ADDRESSES.upstream);
    const first = await watcher.waitFirstPacket(group, 5_000);
    expect(first.t).toBeGreaterThan(joinedAt);
    await lab.waitFor(async () => ((await watcher.stats()).groups[group]?.packets ?? 0) >= 10, 5_000, '10 packets');
    expect((await neighbour.wireStats()).groups[group]?.packets ?? 0).toBeGreaterThan(0);

    const leaveFrom = lab.isp.mark;
    await watcher.leave(group);
    const leave = await lab.isp.waitForReport(group, { from: leaveFrom, kinds: ['leave'], timeoutMs: 15_000 });
    expect(leave.from).toBe(LAB_ADDRESSES.upstream);
    await lab.isp.waitForStop(group, leaveFrom, 5_000);
    await neighbour.waitWireQuiet(group, 500, 5_000);
    const wireAfter = (await neighbour.wireStats()).groups[group]?.packets;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await neighbour.wireStats()).groups[group]?.packets).toBe(wireAfter);

    const stopped = await proxy.stop();
    expect(stopped).toMatchObject({ code: 0, killed: false });
  });
});
