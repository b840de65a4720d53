// IPFire's REAL firewall in a stand-in appliance (appliance.ts): IPFire's own firewall
// initscript, firewall-policy, firewall.local and readhash (test/fixtures/ipfire, vendored)
// build the filter table in the appliance's network namespace, from IPFire's settings files
// written for the test's interfaces.
//
// STAND-INS (see test/fixtures/ipfire/README.md): firewallctrl is rules.pl reduced to what
// it runs for an empty rule set; the IPsec/OpenVPN/wireless/captive-portal helpers and
// modprobe do nothing.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { execBounded } from '../../scripts/lab/netns.ts';
import type { Appliance } from './appliance.ts';
import { IPFIRE_FIXTURES } from './ipfire-mounts.ts';

/** One IPFire zone: its device and address (the firewall's own) in a /24. */
export interface IpfireZone {
  readonly dev: string;
  readonly address: string;
  readonly netaddress: string;
}

export interface IpfireNetwork {
  readonly red: { readonly dev: string; readonly address: string };
  readonly green: IpfireZone;
  readonly orange?: IpfireZone;
}

/** IPFire's outgoing firewall (optionsfw POLICY1): MODE1 "blocked", MODE2 "allowed". */
export type OutgoingPolicy = 'MODE1' | 'MODE2';

/** Where IPFire's web UI would reload the rules from (rules.pl; here its stand-in). */
export const FIREWALLCTRL = '/usr/local/bin/firewallctrl';

// rules.pl for an empty rule set: flush its chains, the policy, then firewall.local reload.
const FIREWALLCTRL_SCRIPT = `#!/bin/bash
# STAND-IN for IPFire's firewallctrl -> /usr/lib/firewall/rules.pl (see test/fixtures/ipfire/README.md)
for chain in INPUTFW FORWARDFW OUTGOINGFW; do /sbin/iptables --wait -F "$chain"; done
/usr/sbin/firewall-policy
if [ -f /etc/sysconfig/firewall.local ]; then /etc/sysconfig/firewall.local reload; fi
`;
const NOTHING = '#!/bin/sh\n# STAND-IN: does nothing here\nexit 0\n';

/** /var/ipfire/ethernet/settings; CONFIG_TYPE 2 is GREEN+RED+ORANGE, 1 GREEN+RED (firewall-policy). */
export function ethernetSettings(network: IpfireNetwork): string {
  const zone = (name: string, value: IpfireZone): string =>
    `${name}_DEV=${value.dev}\n${name}_ADDRESS=${value.address}\n${name}_NETADDRESS=${value.netaddress}\n${name}_NETMASK=255.255.255.0\n`;
  return (
    `CONFIG_TYPE=${network.orange ? 2 : 1}\n${zone('GREEN', network.green)}${network.orange ? zone('ORANGE', network.orange) : ''}` +
    `RED_DEV=${network.red.dev}\nRED_TYPE=STATIC\nRED_ADDRESS=${network.red.address}\n`
  );
}

/** IPFire's optionsfw settings: forward firewall "allowed" (POLICY=MODE2), outgoing as given. */
export function optionsfw(outgoing: OutgoingPolicy): string {
  return `POLICY=MODE2\nPOLICY1=${outgoing}\nFWPOLICY=DROP\nFWPOLICY1=DROP\nFWPOLICY2=DROP\nDROPINPUT=off\nDROPFORWARD=off\nDROPOUTGOING=off\n`;
}

/** Runs a script in the appliance; throws with its output when it fails. */
async function mustRun(a: Appliance, script: string, what: string): Promise<void> {
  const result = await a.run(script);
  if (result.code !== 0) throw new Error(`${what} failed (exit ${result.code}): ${result.stdout}${result.stderr}`);
}

/**
 * Legacy iptables runs `modprobe ip_tables` itself when the kernel has not loaded it; in the
 * appliance modprobe is a stand-in that does nothing, so it is loaded here, on the machine
 * (the test VM boots without it; IPFire loads it at boot). The kernel loads the table and
 * match modules on demand.
 */
async function loadIptablesModule(): Promise<void> {
  if (existsSync('/proc/net/ip_tables_names')) return;
  const loaded = await execBounded(['modprobe', 'ip_tables']);
  if (loaded.code !== 0) throw new Error(`modprobe ip_tables failed: ${loaded.stderr.trim()}`);
}

/** Installs IPFire's firewall files and settings into the appliance and runs `firewall start`. */
export async function startIpfireFirewall(
  a: Appliance,
  network: IpfireNetwork,
  outgoing: OutgoingPolicy,
): Promise<void> {
  const vendored = (name: string): Promise<Buffer> => readFile(path.join(IPFIRE_FIXTURES, name));
  await a.write('/etc/rc.d/init.d/firewall', await vendored('firewall'), 0o754);
  await a.write('/usr/sbin/firewall-policy', await vendored('firewall-policy'), 0o755);
  await a.write('/usr/local/bin/readhash', await vendored('readhash'), 0o755);
  await a.write('/etc/sysconfig/firewall.local', await vendored('firewall.local'), 0o755);
  await a.write(FIREWALLCTRL, FIREWALLCTRL_SCRIPT, 0o755);
  for (const noop of [
    '/usr/local/bin/wirelessctrl',
    '/usr/local/bin/captivectrl',
    '/usr/lib/firewall/ipsec-policy',
    '/etc/rc.d/init.d/openvpn-n2n',
    '/usr/sbin/modprobe',
  ]) {
    await a.write(noop, NOTHING, 0o755);
  }
  await a.write('/var/ipfire/ethernet/settings', ethernetSettings(network));
  await a.write('/var/ipfire/optionsfw/settings', optionsfw(outgoing));
  await a.write('/var/ipfire/firewall/settings', '');
  await a.write('/var/ipfire/ppp/settings', '');
  await a.write('/var/ipfire/red/iface', `${network.red.dev}\n`);
  await a.write('/var/ipfire/red/active', '');
  await a.write('/var/ipfire/red/local-ipaddress', `${network.red.address}\n`);
  // IPFire's /bin/sh is bash (its "#!/bin/sh" scripts use bash), Debian's is dash.
  await mustRun(a, 'ln -sf bash /usr/bin/sh', 'linking /bin/sh to bash');
  await loadIptablesModule();
  // IPFire's script goes on when an iptables call fails: any complaint of iptables is a
  // firewall that is not IPFire's.
  const started = await a.run('/etc/rc.d/init.d/firewall start');
  const output = started.stdout + started.stderr;
  if (started.code !== 0 || /iptables/i.test(output))
    throw new Error(`IPFire's firewall start failed (exit ${started.code}): ${output}`);
}

/** Switches the outgoing firewall and reloads the rules as the web UI does (firewallctrl). */
export async function setOutgoingPolicy(a: Appliance, outgoing: OutgoingPolicy): Promise<void> {
  await a.write('/var/ipfire/optionsfw/settings', optionsfw(outgoing));
  await mustRun(a, FIREWALLCTRL, 'firewallctrl');
}
