// The add-on's boot links against IPFire's own (lfs/initscripts, vendored in
// test/fixtures/ipfire/lfs-initscripts): at boot the daemon starts after syslog (so its
// start-up lines are kept) and after the network (its interfaces exist); the firewall is
// already up then (rcsysinit.d runs before rc3.d). At halt and reboot it stops before the
// network and syslog go (its routes are deleted and its last lines logged while both exist).
// IPFire's rc runs a runlevel's K links, then its S links, each in `ls -v` order.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LAYOUT } from '../../build/render.ts';
import { IPFIRE_FIXTURES } from './ipfire-mounts.ts';

interface BootLink {
  readonly dir: string;
  readonly kind: 'S' | 'K';
  readonly number: number;
  readonly service: string;
}

/** `ln -sf ../init.d/NAME /etc/rc.d/DIR/[SK]NNNAME` lines of IPFire's lfs/initscripts. */
function ipfireBootLinks(): BootLink[] {
  const text = readFileSync(path.join(IPFIRE_FIXTURES, 'lfs-initscripts'), 'utf8');
  return [...text.matchAll(/^\s*ln\s+-sf\s+\.\.\/init\.d\/(\S+)\s+\/etc\/rc\.d\/(rc\w+\.d)\/([SK])(\d\d)(\S+)\s*$/gm)]
    .filter((match) => match[1] === match[5])
    .map((match) => ({ dir: match[2]!, kind: match[3] as 'S' | 'K', number: Number(match[4]), service: match[1]! }));
}

function numberOf(links: readonly BootLink[], dir: string, kind: 'S' | 'K', service: string): number {
  const found = links.filter((link) => link.dir === dir && link.kind === kind && link.service === service);
  if (found.length !== 1)
    throw new Error(`lfs-initscripts: expected one ${dir}/${kind}??${service}, found ${found.length}`);
  return found[0]!.number;
}

describe("boot order against IPFire's lfs/initscripts", () => {
  const links = ipfireBootLinks();
  const start = Number(LAYOUT.startNumber);
  const stop = Number(LAYOUT.stopNumber);

  it("reads IPFire's links (the parser matches the file's shape)", () => {
    expect(links.length).toBeGreaterThan(50);
    expect(numberOf(links, 'rc3.d', 'S', 'network')).toBe(20);
  });

  it('starts in rc3.d after syslog and the network; the firewall is up before rc3.d', () => {
    expect(start).toBeGreaterThan(numberOf(links, 'rc3.d', 'S', 'sysklogd'));
    expect(start).toBeGreaterThan(numberOf(links, 'rc3.d', 'S', 'network'));
    expect(links.filter((link) => link.service === 'firewall').map((link) => link.dir)).toEqual(['rcsysinit.d']);
  });

  it('stops in rc0.d and rc6.d before the network and syslog', () => {
    for (const dir of ['rc0.d', 'rc6.d']) {
      expect(stop, dir).toBeLessThan(numberOf(links, dir, 'K', 'network'));
      expect(stop, dir).toBeLessThan(numberOf(links, dir, 'K', 'sysklogd'));
    }
  });
});
