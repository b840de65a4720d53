// Which source networks the firewall helper gives a downstream's lan table (real iptables and
// kernel interfaces (bridges: no dummy module here) in a network namespace this test creates; the interface list and altnets
// from the real daemon): 0.0.0.0/32, the subnet of each of the interface's addresses (a
// point-to-point address's peer), each altnet, each once, the table sized to hold every
// address in them up to a /16 and 0.0.0.0; a downstream with no address and no altnet keeps
// only the catch-all table; an address added later counts from the next reload.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AddonFirewall } from '../../scripts/lab/addon-firewall.ts';
import { NetnsLab, type Netns } from '../../scripts/lab/netns.ts';
import { realDaemonCommand } from '../helpers/real-daemon.ts';
import { downstreamShareRules, hostShareTable, LAN_TABLE_CAP, lanShareTable, lanTableMax } from './host-share.ts';
import { applianceSupport } from './support.ts';

const support = applianceSupport();

const SEVERAL = 'fgdn0';
const WIDE = 'fgwide0';
const BARE = 'fgbare0';
const CONFIG = `phyint fgup0 upstream
phyint ${SEVERAL} downstream
    altnet 172.20.1.9/22
    altnet 192.168.7.99/32
phyint ${WIDE} downstream
phyint ${BARE} downstream
`;
/** SEVERAL's networks as the rules name them, in the helper's order: addresses, then altnets. */
const SEVERAL_NETWORKS = [
  '0.0.0.0/32',
  '192.168.7.0/24',
  '10.1.2.0/30', // from 10.1.2.1/30 and 10.1.2.2/30: once
  '10.9.9.2/32', // 10.9.9.1 peer 10.9.9.2/32
  '172.20.0.0/22',
  '192.168.7.99/32',
];

describe.skipIf(!support.available)(`the firewall helper's lan networks ${support.reason}`, () => {
  const lab = new NetnsLab('fg');
  let ns: Netns;
  let work = '';
  let firewall: AddonFirewall | undefined;

  beforeAll(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'fg-lan-'));
    const config = path.join(work, 'igmpproxy.conf');
    await writeFile(config, CONFIG);
    ns = await lab.createNamespace('lan');
    for (const ifname of [SEVERAL, WIDE, BARE]) await ns.ip('link', 'add', ifname, 'type', 'bridge');
    for (const cidr of ['192.168.7.1/24', '10.1.2.1/30', '10.1.2.2/30']) await ns.addAddress(SEVERAL, cidr);
    await ns.ip('-4', 'address', 'add', '10.9.9.1', 'peer', '10.9.9.2/32', 'dev', SEVERAL);
    await ns.addAddress(WIDE, '10.0.0.1/15');
    // IPFire's hook chains, legacy iptables, the helper as the package renders it.
    firewall = await AddonFirewall.install(ns, realDaemonCommand(), config);
  });

  afterAll(async () => {
    await firewall?.dispose();
    await lab.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
  });

  async function helperMust(command: string): Promise<void> {
    if (firewall === undefined) throw new Error('no firewall helper');
    const result = await firewall.helper(command);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toBe('');
  }

  /** The IGMPPROXY_IN rules of one downstream, as `iptables -S` prints them. */
  async function downstreamRules(ifname: string): Promise<string[]> {
    return (await ns.run(['iptables-legacy', '-S', 'IGMPPROXY_IN']))
      .split('\n')
      .filter((rule) => rule.includes(` -i ${ifname} `));
  }

  async function tables(): Promise<string[]> {
    return (await ns.run(['ls', '/proc/net/ipt_hashlimit'])).trim().split('\n').filter(Boolean).sort();
  }

  it('several addresses and altnets: each network once, the table as big as all of them', async () => {
    await helperMust('start');
    expect(await downstreamRules(SEVERAL)).toEqual(downstreamShareRules(SEVERAL, SEVERAL_NETWORKS));
    // 0.0.0.0, a /24, a /30, the peer, a /22 and a /32.
    expect(lanTableMax([32, 24, 30, 32, 22, 32])).toBe(1 + 256 + 4 + 1 + 1024 + 1);
    expect((await downstreamRules(SEVERAL))[0]).toContain(' --hashlimit-htable-size 161 --hashlimit-htable-max 1287 ');
  });

  it('a subnet wider than a /16: the table stops at a /16 and 0.0.0.0', async () => {
    const rules = await downstreamRules(WIDE);
    expect(rules).toEqual(downstreamShareRules(WIDE, ['0.0.0.0/32', '10.0.0.0/15']));
    expect(rules[0]).toContain(` --hashlimit-htable-max ${LAN_TABLE_CAP} `);
  });

  it('no address and no altnet: the catch-all table only, as before the lan table', async () => {
    expect(await downstreamRules(BARE)).toEqual(downstreamShareRules(BARE, []));
    expect(await tables()).toEqual(
      [
        lanShareTable(SEVERAL, 1287),
        hostShareTable(SEVERAL),
        lanShareTable(WIDE, LAN_TABLE_CAP),
        hostShareTable(WIDE),
        hostShareTable(BARE),
      ].sort(),
    );
  });

  it('an address added later counts from the next reload; the catch-all table stays', async () => {
    await ns.addAddress(BARE, '192.168.50.1/24');
    expect(await downstreamRules(BARE)).toEqual(downstreamShareRules(BARE, []));
    await helperMust('reload');
    expect(await downstreamRules(BARE)).toEqual(downstreamShareRules(BARE, ['0.0.0.0/32', '192.168.50.0/24']));
    expect(await tables()).toContain(lanShareTable(BARE, 257));
    expect(await tables()).toContain(hostShareTable(BARE));
  });

  it('stop removes every rule and table', async () => {
    await helperMust('stop');
    expect(await ns.run(['iptables-legacy', '-S'])).not.toContain('hashlimit');
    expect(await tables()).toEqual([]);
  });
});
