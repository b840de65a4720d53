// The interface watcher on a real kernel while ports come and go on a bridge (issue 14,
// part 5): the bridge loses carrier whenever no port forwards, and os.networkInterfaces()
// then lists none of its addresses. The watcher must keep reporting the bridge's address
// through that (the address never changed), yet still report a real removal made while
// the bridge has no carrier. Watcher only, no multicast routing: runs on this machine.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { checkNetnsSupport, NetnsLab } from '../../scripts/lab/netns.ts';
import type { Netns } from '../../scripts/lab/netns.ts';
import { LabDriver } from './support.ts';
import type { DriverEvent } from './support.ts';
import { scaled } from '../../scripts/lab/slowdown.ts';

const PREFIX = 'mm4';
const BRIDGE = 'mm4br0';
const support = checkNetnsSupport(PREFIX);
if (!support.available) console.warn(`bridge watcher tests skipped: ${support.reason}`);

interface Entry {
  name: string;
  up: boolean;
  running: boolean;
  address: string;
}

const bridgeIn = (event: DriverEvent): Entry | undefined =>
  (event.table as Entry[] | undefined)?.find((entry) => entry.name === BRIDGE);

describe.skipIf(!support.available)('interface watcher while bridge ports come and go', () => {
  const lab = new NetnsLab(PREFIX);
  let ns: Netns;
  let driver: LabDriver;

  beforeAll(async () => {
    ns = await lab.createNamespace('bridge');
    await lab.connect(ns, 'mm4a0', ns, 'mm4a1');
    await ns.bridge(BRIDGE, ['mm4a0']);
    await ns.up('mm4a1');
    await ns.addAddress(BRIDGE, '198.51.100.1/24');
    driver = await LabDriver.start(ns);
    await driver.call('watch');
  }, scaled(60_000));

  afterAll(() => lab.cleanup(), 30_000);

  const carrier = async (): Promise<string> => (await ns.run(['cat', `/sys/class/net/${BRIDGE}/carrier`])).trim();

  test('ports added without carrier, the only live port removed, a port coming alive: the address stays', async () => {
    const from = driver.mark;
    for (const n of [1, 2, 3]) {
      await lab.connect(ns, `mm4p${n}0`, ns, `mm4p${n}1`);
      await ns.ip('link', 'set', 'dev', `mm4p${n}0`, 'master', BRIDGE);
      await ns.up(`mm4p${n}0`); // its peer stays down: no carrier, not forwarding
    }
    await ns.deleteLink('mm4a0'); // the only forwarding port: the bridge loses carrier
    expect(await carrier()).toBe('0');
    // The first report that shows the carrier loss or a different address.
    const dark = await driver.waitForEvent(
      (event) =>
        event.event === 'interfaces' &&
        (bridgeIn(event)?.running === false || bridgeIn(event)?.address !== '198.51.100.1'),
      scaled(3_000),
      from,
    );
    expect(bridgeIn(dark)).toMatchObject({ up: true, running: false, address: '198.51.100.1' });

    await ns.up('mm4p11');
    await driver.waitForEvent(
      (event) => event.event === 'interfaces' && bridgeIn(event)?.running === true,
      scaled(3_000),
      dark.index + 1,
    );
    expect(await carrier()).toBe('1');
    for (const n of [1, 2, 3]) await ns.deleteLink(`mm4p${n}0`);
    expect(await carrier()).toBe('0');
    await driver.waitForEvent(
      (event) => event.event === 'interfaces' && bridgeIn(event)?.running === false,
      scaled(3_000),
      dark.index + 1,
    );

    const reported = driver
      .events((event) => event.event === 'interfaces', from)
      .map((event) => bridgeIn(event)?.address);
    expect(reported.length).toBeGreaterThanOrEqual(3);
    expect(reported.filter((address) => address !== '198.51.100.1')).toEqual([]);
  });

  test('an address removed while the bridge has no carrier is reported as gone', async () => {
    expect(await carrier()).toBe('0');
    const from = driver.mark;
    await ns.ip('-4', 'address', 'del', '198.51.100.1/24', 'dev', BRIDGE);
    const gone = await driver.waitForEvent(
      (event) => event.event === 'interfaces' && bridgeIn(event)?.address === '0.0.0.0',
      scaled(3_000),
      from,
    );
    expect(bridgeIn(gone)).toMatchObject({ up: true, running: false });
  });
});
