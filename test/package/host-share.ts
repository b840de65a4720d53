// The firewall helper's per-host IGMP share rule of one downstream, as `iptables -S` prints
// it: what the helper renders from the daemon's own share (build/render.ts HOST_SHARE_VALUES).
import { spawnSync } from 'node:child_process';
import { HOST_SHARE_VALUES } from '../../build/render.ts';

/** The helper's table bounds (firewall-helper.mustache HOST_TABLE_*). */
export const HOST_TABLE = { buckets: 1024, max: 4096, expireMs: 300_000 } as const;

const rate = `${HOST_SHARE_VALUES.hostShareRate}/sec`;
const burst = HOST_SHARE_VALUES.hostShareBurst;

/** The helper's hashlimit table name for `ifname`: "igmp_" and the POSIX cksum CRC of the name and the share's settings, in hex. */
export function hostShareTable(ifname: string): string {
  const input = `${ifname} ${rate} ${burst} ${HOST_TABLE.buckets} ${HOST_TABLE.max} ${HOST_TABLE.expireMs}`;
  const result = spawnSync('cksum', [], { input, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`cksum failed: ${result.stderr}`);
  const crc = Number(result.stdout.split(' ')[0]);
  return `igmp_${crc.toString(16).padStart(8, '0')}`;
}

/** `-A IGMPPROXY_IN ...` for the downstream `ifname` (names iptables prints without quotes only). */
export function hostShareRule(ifname: string): string {
  return (
    `-A IGMPPROXY_IN -i ${ifname} -p igmp -m hashlimit --hashlimit-above ${rate} --hashlimit-burst ${burst} ` +
    `--hashlimit-mode srcip --hashlimit-name ${hostShareTable(ifname)} --hashlimit-htable-size ${HOST_TABLE.buckets} ` +
    `--hashlimit-htable-max ${HOST_TABLE.max} --hashlimit-htable-expire ${HOST_TABLE.expireMs} -j DROP`
  );
}
