// The firewall helper's per-host IGMP share rules of one downstream, as `iptables -S` prints
// them: what the helper renders from the daemon's own share (build/render.ts HOST_SHARE_VALUES).
import { spawnSync } from 'node:child_process';
import { HOST_SHARE_VALUES } from '../../build/render.ts';

/** The helper's table bounds (firewall-helper.mustache HOST_TABLE_*). */
export const HOST_TABLE = { buckets: 1024, max: 4096, expireMs: 300_000 } as const;

const rate = `${HOST_SHARE_VALUES.hostShareRate}/sec`;
const burst = HOST_SHARE_VALUES.hostShareBurst;

/** The helper's hashlimit table name for `ifname`: "igmp_" and the POSIX cksum CRC of the name and the share's settings, in hex. */
export function hostShareTable(ifname: string): string {
  return cksumName(`${ifname} ${rate} ${burst} ${HOST_TABLE.buckets} ${HOST_TABLE.max} ${HOST_TABLE.expireMs}`);
}

function cksumName(input: string): string {
  const result = spawnSync('cksum', [], { input, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`cksum failed: ${result.stderr}`);
  const crc = Number(result.stdout.split(' ')[0]);
  return `igmp_${crc.toString(16).padStart(8, '0')}`;
}

/** `-A IGMPPROXY_IN ...` for the downstream `ifname`, its catch-all share rule (the only one of a
 * downstream without an address or altnet; names iptables prints without quotes only). */
export function hostShareRule(ifname: string): string {
  return (
    `-A IGMPPROXY_IN -i ${ifname} -p igmp -m hashlimit --hashlimit-above ${rate} --hashlimit-burst ${burst} ` +
    `--hashlimit-mode srcip --hashlimit-name ${hostShareTable(ifname)} --hashlimit-htable-size ${HOST_TABLE.buckets} ` +
    `--hashlimit-htable-max ${HOST_TABLE.max} --hashlimit-htable-expire ${HOST_TABLE.expireMs} -j DROP`
  );
}

/** The lan table's bound (firewall-helper.mustache LAN_TABLE_CAP): a /16 and 0.0.0.0. */
export const LAN_TABLE_CAP = 65_536 + 1;

/** The helper's lan table bound for `networks` (prefix lengths): every address in them, at most LAN_TABLE_CAP. */
export function lanTableMax(prefixLengths: readonly number[]): number {
  return Math.min(
    LAN_TABLE_CAP,
    prefixLengths.reduce((total, prefix) => total + 2 ** (32 - prefix), 0),
  );
}

/** The helper's lan table name for `ifname` with `max` entries (one hash bucket per 8). */
export function lanShareTable(ifname: string, max: number): string {
  return cksumName(`${ifname} lan ${rate} ${burst} ${Math.ceil(max / 8)} ${max} ${HOST_TABLE.expireMs}`);
}

/**
 * The helper's rules for the downstream `ifname` whose own networks (0.0.0.0/32 first, then
 * its addresses' subnets and altnets, as `iptables -S` prints them) are `networks`: per
 * network a share DROP in the lan table and an ACCEPT, then the catch-all pair.
 */
export function downstreamShareRules(ifname: string, networks: readonly string[]): string[] {
  const rules: string[] = [];
  if (networks.length > 0) {
    const max = lanTableMax(networks.map((network) => Number(network.split('/')[1])));
    const match =
      `-m hashlimit --hashlimit-above ${rate} --hashlimit-burst ${burst} --hashlimit-mode srcip ` +
      `--hashlimit-name ${lanShareTable(ifname, max)} --hashlimit-htable-size ${Math.ceil(max / 8)} ` +
      `--hashlimit-htable-max ${max} --hashlimit-htable-expire ${HOST_TABLE.expireMs}`;
    for (const network of networks) {
      rules.push(`-A IGMPPROXY_IN -s ${network} -i ${ifname} -p igmp ${match} -j DROP`);
      rules.push(`-A IGMPPROXY_IN -s ${network} -i ${ifname} -p igmp -j ACCEPT`);
    }
  }
  rules.push(hostShareRule(ifname), `-A IGMPPROXY_IN -i ${ifname} -p igmp -j ACCEPT`);
  return rules;
}
