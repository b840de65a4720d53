// The rtnetlink interface watcher and VIF re-adding against a real kernel, in a namespace:
// a veth pair is deleted and re-created (new ifindex, like a PPPoE reconnect's new ppp0),
// the watcher reports both within a bounded time, the VIF comes back under its old number,
// and the watching process uses no CPU while nothing changes.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { checkNetnsSupport, NetnsLab } from '../../scripts/lab/netns.ts';
import type { Netns } from '../../scripts/lab/netns.ts';
import { LabDriver, NETNS_PREFIX } from './support.ts';
import type { DriverEvent } from './support.ts';
import { scaled } from '../../scripts/lab/slowdown.ts';

const support = checkNetnsSupport(NETNS_PREFIX);
if (!support.available) console.warn(`kernel watcher tests skipped: ${support.reason}`);

interface TableEvent extends DriverEvent {
  table: { name: string; ifindex: number; up: boolean; address: string }[];
}

const entryOf = (event: DriverEvent, name: string) => (event as TableEvent).table.find((entry) => entry.name === name);

/** utime + stime of a process, in clock ticks. */
function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return Number(fields[11]) + Number(fields[12]);
}

describe.skipIf(!support.available)('interface watcher and VIFs on a real kernel', () => {
  const lab = new NetnsLab(NETNS_PREFIX);
  let ns: Netns;
  let driver: LabDriver;

  beforeAll(async () => {
    ns = await lab.createNamespace('watch');
    await lab.connect(ns, 'ipk4w0', ns, 'ipk4w1');
    await ns.up('ipk4w0');
    await ns.up('ipk4w1');
    driver = await LabDriver.start(ns);
    await driver.call('open');
  }, scaled(60_000));

  afterAll(() => lab.cleanup(), 30_000);

  test('the table lists interfaces without an address, with ifindex and flags', async () => {
    const reply = (await driver.call('interfaces')) as unknown as TableEvent;
    const w0 = reply.table.find((entry) => entry.name === 'ipk4w0');
    expect(w0).toMatchObject({ ifindex: await ns.ifindex('ipk4w0'), up: true, address: '0.0.0.0' });
    expect(reply.table.find((entry) => entry.name === 'lo')).toMatchObject({ ifindex: 1, address: '127.0.0.1' });
  });

  test('deletion and re-creation (new ifindex) are reported within 2 s each; the VIF keeps its number', async () => {
    const first = await driver.call('add-vif', { name: 'ipk4w0' });
    expect(first.vif).toBe(0);
    const oldIfindex = Number(first.ifindex);
    await driver.call('watch');

    let from = driver.mark;
    await ns.deleteLink('ipk4w0');
    const gone = await driver.waitForEvent(
      (event) => event.event === 'interfaces' && !entryOf(event, 'ipk4w0'),
      2_000,
      from,
    );
    expect(entryOf(gone, 'ipk4w1')).toBeUndefined(); // the peer went with it
    // The kernel dropped the VIF of the deleted device by itself.
    expect((await ns.run(['cat', '/proc/net/ip_mr_vif'])).trim().split('\n')).toHaveLength(1);

    from = driver.mark;
    await lab.connect(ns, 'ipk4w0', ns, 'ipk4w1');
    const back = await driver.waitForEvent(
      (event) => event.event === 'interfaces' && entryOf(event, 'ipk4w0') !== undefined,
      2_000,
      from,
    );
    const newIfindex = entryOf(back, 'ipk4w0')?.ifindex;
    expect(newIfindex).toBe(await ns.ifindex('ipk4w0'));
    expect(newIfindex).not.toBe(oldIfindex);

    from = driver.mark;
    await ns.up('ipk4w0');
    await ns.addAddress('ipk4w0', '10.9.0.1/24');
    await ns.up('ipk4w1');
    await driver.waitForEvent(
      (event) => event.event === 'interfaces' && entryOf(event, 'ipk4w0')?.address === '10.9.0.1',
      2_000,
      from,
    );

    const again = await driver.call('add-vif', { name: 'ipk4w0' });
    expect(again).toMatchObject({ vif: 0, ifindex: newIfindex });
    const vifs = (await ns.run(['cat', '/proc/net/ip_mr_vif'])).trim().split('\n');
    expect(vifs).toHaveLength(2);
    expect(vifs[1]).toMatch(/^\s*0 ipk4w0\s/);
  });

  test('no CPU is used while nothing changes (netlink and raw socket wait in the event loop)', async () => {
    await new Promise((resolve) => setTimeout(resolve, 500)); // let start-up work settle
    const pid = Number((await driver.process.waitForJson((value) => value.event === 'ready', 1_000)).pid);
    const before = cpuTicks(pid);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(cpuTicks(pid) - before).toBeLessThanOrEqual(1); // 1 tick = 10 ms of 2 s
  });
});
