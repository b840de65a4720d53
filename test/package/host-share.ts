// The firewall helper's per-host IGMP share rule of one downstream, as `iptables -S` prints
// it: what the helper renders from the daemon's own share (build/render.ts HOST_SHARE_VALUES).
import { spawnSync } from 'node:child_process';
import { HOST_SHARE_VALUES } from '../../build/render.ts';

/** The helper's hashlimit table name for `ifname`: "igmp_" and the POSIX cksum CRC of the name, in hex. */
export function hostShareTable(ifname: string): string {
  const result = spawnSync('cksum', [], { input: ifname, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`cksum failed: ${result.stderr}`);
  const crc = Number(result.stdout.split(' ')[0]);
  return `igmp_${crc.toString(16).padStart(8, '0')}`;
}

/** `-A IGMPPROXY_IN ...` for the downstream `ifname` (names iptables prints without quotes only). */
export function hostShareRule(ifname: string): string {
  return (
    `-A IGMPPROXY_IN -i ${ifname} -p igmp -m hashlimit --hashlimit-above ${HOST_SHARE_VALUES.hostShareRate}/sec ` +
    `--hashlimit-burst ${HOST_SHARE_VALUES.hostShareBurst} --hashlimit-mode srcip --hashlimit-name ${hostShareTable(ifname)} ` +
    '--hashlimit-htable-size 1024 --hashlimit-htable-max 4096 --hashlimit-htable-expire 300000 -j DROP'
  );
}
