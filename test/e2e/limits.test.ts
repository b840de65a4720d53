// Limits and the IGMP TTL rule end to end in the IPTV lab, with our daemon and real kernels:
// one TV joins more groups than `maxgroupsperhost` allows -> the joins beyond it are
// refused, counted in the status document and logged, while another TV still gets its
// channel; a report sent with IP TTL 64 makes no upstream join (and, as a control, does
// with `igmpttl any`). Needs multicast routing (the test VM). Kept lean: one lab, one daemon.
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildIgmp } from '../../addon/daemon/igmp/index.ts';
import { parseIpv4 } from '../../addon/daemon/net/ipv4.ts';
import { checkNetnsSupport } from '../../scripts/lab/netns.ts';
import { scaled } from '../../scripts/lab/slowdown.ts';
import { checkStatusDocument } from '../helpers/status-format.ts';
import { IptvLab, tvAddress } from '../../scripts/lab/iptv-lab.ts';
import type { ProxyHandle } from '../../scripts/lab/iptv-lab.ts';
import { SourceDaemon } from '../../scripts/lab/source-daemon.ts';

const PREFIX = 'lm4';
const PER_HOST = 3;
const support = checkNetnsSupport(PREFIX);
if (!support.available) console.warn(`limits end-to-end tests skipped: ${support.reason}`);

interface Status {
  proxy: {
    limits: { groupsPerHost: number; requireTtlOne: boolean };
    downstreams: {
      name: string;
      groups: { group: string; hosts: string[] }[];
      refused: { groupsPerHost: number; ttl: number; lastHost: string | null };
    }[];
    upstreams: { joined: { group: string }[] }[];
  };
}

describe.skipIf(!support.available)('limits and the TTL rule', () => {
  let lab: IptvLab;
  let daemon: SourceDaemon;
  let proxy: ProxyHandle;
  const hostile = 1;
  const viewer = 0;

  /** An IGMPv2 report for `group` from the hostile TV, its IP header made by its kernel with `ttl`. */
  async function rawReport(group: string, ttl: number): Promise<void> {
    const payload = buildIgmp({ type: 'v2-report', group: parseIpv4(group)! });
    expect(await lab.tv(hostile).mcastSend({ destination: group, payloads: [payload], ttl })).toMatchObject({
      sent: 1,
      failed: 0,
    });
  }

  beforeAll(async () => {
    lab = await IptvLab.create({ prefix: PREFIX, queryIntervalMs: 0, tvClients: 2 });
    daemon = await SourceDaemon.start(
      lab,
      PREFIX,
      lab.proxyConfig({ quickleave: true, extra: `maxgroupsperhost ${PER_HOST}` }),
    );
    proxy = daemon.proxy;
  }, scaled(90_000));

  afterAll(async () => {
    await lab?.dispose();
    daemon?.dispose();
  }, scaled(30_000));

  test('a TV beyond maxgroupsperhost is refused and counted; another TV still gets its channel', async () => {
    const greedy = Array.from({ length: PER_HOST + 3 }, (_, i) => `239.61.0.${i + 1}`);
    const from = lab.isp.mark;
    const joined = await lab.tv(hostile).joinMany(greedy);
    expect(joined.failures).toEqual({});
    const refusal = await proxy.waitForLog(
      new RegExp(
        `join of 239\\.61\\.0\\.\\d+ from ${tvAddress(hostile).replaceAll('.', '\\.')} ignored: this host is already in ${PER_HOST} groups, the limit \\(maxgroupsperhost ${PER_HOST}\\)`,
      ),
      scaled(5_000),
    );
    expect(refusal).toContain('logged once a minute');

    // The other TV zaps in as usual.
    const channel = '239.61.1.1';
    await lab.tv(viewer).join(channel);
    await lab.isp.waitForReport(channel, { from, kinds: ['join'], timeoutMs: scaled(5_000) });
    await lab.tv(viewer).waitFirstPacket(channel, scaled(5_000));

    const status = await daemon.status<Status>();
    expect(checkStatusDocument(status)).toEqual([]);
    const downstream = status.proxy.downstreams[0]!;
    expect(status.proxy.limits.groupsPerHost).toBe(PER_HOST);
    expect(downstream.groups.filter((g) => g.hosts.includes(tvAddress(hostile)))).toHaveLength(PER_HOST);
    expect(downstream.refused.groupsPerHost).toBeGreaterThanOrEqual(greedy.length - PER_HOST);
    expect(downstream.refused.lastHost).toBe(tvAddress(hostile));
    // Upstream: the admitted groups and the viewer's channel, none of the refused ones.
    const upstream = status.proxy.upstreams[0]!.joined.map((j) => j.group);
    expect(upstream).toContain(channel);
    expect(upstream.filter((g) => greedy.includes(g))).toHaveLength(PER_HOST);
    // Logged once for the host, however many joins were refused (throttled for a minute).
    expect(proxy.log.filter((line) => line.includes(`from ${tvAddress(hostile)} ignored`))).toHaveLength(1);
    await lab.tv(hostile).leaveAll();
    await lab.tv(viewer).leave(channel);
  });

  test('a report with IP TTL 64 makes no upstream join; with `igmpttl any` it does', async () => {
    const group = '239.61.2.1';
    const from = lab.isp.mark;
    const logFrom = proxy.log.length;
    await rawReport(group, 64);
    await proxy.waitForLog(
      new RegExp(`ignoring IGMP v2-report from ${tvAddress(hostile).replaceAll('.', '\\.')} with IP TTL 64`),
      scaled(5_000),
      logFrom,
    );
    // A barrier: a later join by the viewer reaches the provider, so the report above was
    // handled before it and anything it caused upstream would have been sent by now.
    await lab.tv(viewer).join('239.61.2.2');
    await lab.isp.waitForReport('239.61.2.2', { from, kinds: ['join'], timeoutMs: scaled(5_000) });
    expect(lab.isp.events('report', from, (event) => event.group === group)).toEqual([]);
    expect((await daemon.status<Status>()).proxy.downstreams[0]!.refused.ttl).toBeGreaterThanOrEqual(1);

    // Control: the same packet is a valid join once the TTL rule is off.
    writeFileSync(
      proxy.configPath,
      lab.proxyConfig({ quickleave: true, extra: `maxgroupsperhost ${PER_HOST}\nigmpttl any` }),
    );
    const reloadFrom = proxy.log.length;
    proxy.process.child.kill('SIGHUP');
    await proxy.waitForLog(/reloaded /, scaled(5_000), reloadFrom);
    expect((await daemon.status<Status>()).proxy.limits.requireTtlOne).toBe(false);
    const controlFrom = lab.isp.mark;
    await rawReport(group, 64);
    await lab.isp.waitForReport(group, { from: controlFrom, kinds: ['join'], timeoutMs: scaled(5_000) });
    await lab.tv(viewer).leave('239.61.2.2');
  });
});
