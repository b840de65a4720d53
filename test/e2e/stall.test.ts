// The stall alarm end to end in the IPTV lab: a TV watches a group through our daemon, the
// provider stops sending it (membership kept: a head-end failure) -> one stall warning in
// the log naming group, source, upstream, duration and cause, and the status document
// says the group is stalled; the provider resumes -> the recovery is logged with the outage
// and the status clears. When the viewer leaves, the daemon stops reading the counters.
// The status document the daemon writes is also checked against docs/status-format.md.
// Needs multicast routing (the test VM).
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { checkNetnsSupport } from '../../scripts/lab/netns.ts';
import { scaled } from '../../scripts/lab/slowdown.ts';
import { checkStatusDocument } from '../helpers/status-format.ts';
import { IptvLab, LAB_ADDRESSES } from '../../scripts/lab/iptv-lab.ts';
import type { ProxyHandle } from '../../scripts/lab/iptv-lab.ts';
import { SourceDaemon } from '../../scripts/lab/source-daemon.ts';

const PREFIX = 'ipst';
const STALL_SECONDS = 2;
const support = checkNetnsSupport(PREFIX);
if (!support.available) console.warn(`stall alarm end-to-end tests skipped: ${support.reason}`);

interface StallGroup {
  group: string;
  stalls: number;
  stalled: boolean;
  stalledForSeconds: number | null;
}
interface Status {
  schema: number;
  stallAlarm: { afterSeconds: number | null; groups: StallGroup[] };
}

const escapeRegExp = (text: string): string => text.replace(/[.()]/g, '\\$&');

describe.skipIf(!support.available)('stall alarm', () => {
  let lab: IptvLab;
  let daemon: SourceDaemon;
  let proxy: ProxyHandle;
  const group = '239.50.0.1';

  const packets = async (): Promise<number> => (await lab.tv(0).stats()).groups[group]?.packets ?? 0;

  beforeAll(async () => {
    lab = await IptvLab.create({ prefix: PREFIX, queryIntervalMs: 0, tvClients: 1 });
    daemon = await SourceDaemon.start(
      lab,
      PREFIX,
      lab.proxyConfig({ quickleave: true, extra: `stallalarm ${STALL_SECONDS}` }),
    );
    proxy = daemon.proxy;
  }, scaled(90_000));

  afterAll(async () => {
    await lab?.dispose();
    daemon?.dispose();
  }, scaled(30_000));

  test('nobody watches: the daemon does not read the counters, and the status lists no stall', async () => {
    expect(proxy.log.filter((line) => line.includes('stall alarm:'))).toEqual([]);
    const status = await daemon.status<Status>();
    expect(status.schema).toBe(1);
    expect(status.stallAlarm).toEqual({ afterSeconds: STALL_SECONDS, groups: [] });
    expect(checkStatusDocument(status)).toEqual([]);
  });

  test('the provider stops the stream: one stall warning with its cause; the status says stalled', async () => {
    await lab.tv(0).join(group);
    await lab.tv(0).waitFirstPacket(group, scaled(5_000));
    await proxy.waitForLog(
      /stall alarm: 1 route\(s\) with receivers; reading their packet counters every second/,
      scaled(5_000),
    );
    await lab.waitFor(async () => (await packets()) >= 50, scaled(5_000), '50 packets at the TV');

    const from = proxy.log.length;
    await lab.isp.pauseGroup(group);
    const stream = `group ${group} from ${LAB_ADDRESSES.ispLink} on upstream ${lab.interfaces.upstream}`;
    const line = await proxy.waitForLog(
      new RegExp(
        `stall: ${escapeRegExp(stream)}: no packets for \\d+ s while receivers wait; most likely: the provider stopped sending$`,
      ),
      scaled(STALL_SECONDS * 1000 + 5_000),
      from,
    );
    const silent = Number(/no packets for (\d+) s/.exec(line)?.[1]);
    expect(silent).toBeGreaterThanOrEqual(STALL_SECONDS);
    // Logged once, however long it lasts.
    await new Promise((resolve) => setTimeout(resolve, scaled(3_000)));
    expect(proxy.log.slice(from).filter((entry) => entry.includes('stall: '))).toHaveLength(1);

    const status = await daemon.status<Status>();
    expect(status.stallAlarm.groups).toEqual([
      { group, stalls: 1, stalled: true, stalledForSeconds: expect.any(Number) },
    ]);
    expect(status.stallAlarm.groups[0]?.stalledForSeconds).toBeGreaterThanOrEqual(STALL_SECONDS + 2);
    expect(checkStatusDocument(status)).toEqual([]);
  });

  test('the provider resumes: the recovery is logged with the outage, the status clears', async () => {
    const from = proxy.log.length;
    const before = await packets();
    await lab.isp.resumeGroup(group);
    await lab.waitFor(async () => (await packets()) > before, scaled(5_000), 'packets again at the TV');
    const stream = `group ${group} from ${LAB_ADDRESSES.ispLink} on upstream ${lab.interfaces.upstream}`;
    const line = await proxy.waitForLog(
      new RegExp(`stall over: ${escapeRegExp(stream)} flows again after \\d+ s$`),
      scaled(5_000),
      from,
    );
    expect(Number(/after (\d+) s$/.exec(line)?.[1])).toBeGreaterThanOrEqual(STALL_SECONDS + 3);
    const status = await daemon.status<Status>();
    expect(status.stallAlarm.groups).toEqual([{ group, stalls: 1, stalled: false, stalledForSeconds: null }]);
    expect(checkStatusDocument(status)).toEqual([]);
  });

  test('the viewer leaves: the route goes and the counters are no longer read; the count stays', async () => {
    const from = proxy.log.length;
    await lab.tv(0).leave(group);
    await proxy.waitForLog(/stall alarm: no route has receivers; counters no longer read/, scaled(5_000), from);
    // It stays asleep (the unit test of runtime/stall-monitor.ts shows no timer is left).
    await new Promise((resolve) => setTimeout(resolve, scaled(2_000)));
    expect(proxy.log.slice(from).filter((entry) => entry.includes('reading their packet counters'))).toEqual([]);
    const status = await daemon.status<Status>();
    expect(status.stallAlarm.groups).toEqual([{ group, stalls: 1, stalled: false, stalledForSeconds: null }]);
  });
});
