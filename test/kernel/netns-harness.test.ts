// The namespace lab harness (scripts/lab/netns.ts) keeps its promises: names carry the
// prefix and pid, interface names are checked, processes inside are stopped and exactly
// the lab's namespaces are deleted by cleanup().
import { existsSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { checkNetnsSupport, execBounded, NetnsLab, waitUntil } from '../../scripts/lab/netns.ts';
import { NETNS_PREFIX } from './support.ts';

const support = checkNetnsSupport(NETNS_PREFIX);
if (!support.available) console.warn(`netns harness tests skipped: ${support.reason}`);

test('prefixes and interface names are validated before anything is created', () => {
  expect(() => new NetnsLab('Bad-Prefix')).toThrow(/prefix/);
  const lab = new NetnsLab(NETNS_PREFIX);
  expect(() => lab.checkInterfaceName('eth0')).toThrow(/must start with "ipk4"/);
  expect(() => lab.checkInterfaceName('ipk4-much-too-long')).toThrow(/at most 15/);
  expect(() => lab.checkInterfaceName('ipk4up')).not.toThrow();
});

test('waitUntil is bounded in time', async () => {
  const started = Date.now();
  await expect(waitUntil(() => false, 200, 'never')).rejects.toThrow(/timed out after 200 ms waiting for never/);
  expect(Date.now() - started).toBeLessThan(2_000);
});

describe.skipIf(!support.available)('NetnsLab on a real kernel', () => {
  test('creates named namespaces and veth pairs, runs processes inside, and cleanup removes exactly them', async () => {
    const lab = new NetnsLab(NETNS_PREFIX);
    try {
      const left = await lab.createNamespace('left');
      const right = await lab.createNamespace('right');
      expect(left.name).toMatch(new RegExp(`^ipk4-${process.pid}-\\d+-left$`));
      await lab.connect(left, 'ipk4l', right, 'ipk4r');
      await left.addAddress('ipk4l', '10.7.0.1/24');
      await right.addAddress('ipk4r', '10.7.0.2/24');
      await left.up('ipk4l');
      await right.up('ipk4r');
      await right.sysctl('net.ipv4.conf.ipk4r.force_igmp_version', 3);
      expect(await right.readSysctl('net.ipv4.conf.ipk4r.force_igmp_version')).toBe('3');
      await right.bridge('ipk4br', []);
      expect(await right.ifindex('ipk4br')).toBeGreaterThan(1);
      // Nothing leaked into the host namespace.
      expect((await execBounded(['ip', 'link', 'show', 'dev', 'ipk4l'])).code).not.toBe(0);
      expect(await right.run(['ip', '-4', '-o', 'address', 'show', 'dev', 'ipk4r'])).toContain('10.7.0.2/24');

      const sleeper = right.spawn(['sleep', '30']);
      const echo = left.spawn(['cat']);
      echo.send('hello');
      expect((await echo.waitForLine((line) => line === 'hello', 5_000)).index).toBe(0);
      await expect(echo.waitForLine((line) => line === 'never', 100)).rejects.toThrow(/timed out/);

      await lab.cleanup();
      expect(existsSync(`/run/netns/${left.name}`)).toBe(false);
      expect(existsSync(`/run/netns/${right.name}`)).toBe(false);
      expect(sleeper.exited).toBe(true);
      expect(echo.exited).toBe(true);
    } finally {
      await lab.cleanup();
    }
  });
});
