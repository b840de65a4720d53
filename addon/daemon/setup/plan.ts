// Decides an igmpproxy configuration from IPFire's network settings: which interface faces
// the provider's TV streams, which LAN zones get them, which interfaces are left out.
// Pure: the settings files come through an injected reader; the result is data (rendered
// by setup/render.ts) or a one-line reason why no configuration can be made.
//
// How IPFire names its interfaces (src/initscripts/networking/red of ipfire/ipfire-2.x):
// - RED_TYPE=PPPOE: pppd makes ppp0, over RED_DEV (or red0.<INET_VLAN> with TYPE=vdsl, or
//   nas<ATM_DEV> over an ATM bridge). With IPTV=enable in ppp/settings it also creates the
//   VLAN device <that device>.<IPTV_VLAN> (default 8) and runs dhcpcd on it: legacy Telekom
//   lines deliver TV there. Without it, TV (if any) comes over ppp0 itself: BNG lines.
// - RED_TYPE=DHCP or STATIC: the internet interface is RED_DEV itself.
// - TYPE modem, serial and qmi are dial-up and mobile connections: no IPTV multicast.
// Zones (src/setup/networking.c, network-functions.pl): CONFIG_TYPE 0/1 GREEN+RED,
// 2 +ORANGE, 3 +BLUE, 4 +ORANGE+BLUE; devices in <ZONE>_DEV (green0, blue0, orange0).
import { checkInterfaceName } from '../config/values.ts';
import { IPFIRE_FILES, printable, setting, type SettingsFile } from './ipfire-settings.ts';
import { PROVIDERS, type Provider, type ProviderName } from './providers.ts';

export type LanZone = 'green' | 'blue';

export interface SetupOptions {
  readonly provider: ProviderName;
  /** Downstream zones, green first. */
  readonly lan: readonly LanZone[];
}

export type SettingsRead =
  | { readonly ok: true; readonly file: SettingsFile }
  | { readonly ok: false; readonly message: string };

/** Reads and parses one of IPFIRE_FILES (the path as IPFire knows it). */
export type ReadSettings = (path: string) => SettingsRead;

export interface PlannedInterface {
  readonly name: string;
  /** One line for the generated file: what this interface is in IPFire. */
  readonly why: string;
}

export interface SettingsSource {
  readonly path: string;
  /** The settings that decided, as KEY=value. */
  readonly keys: readonly string[];
}

export interface SetupPlan {
  readonly ok: true;
  readonly provider: Provider;
  readonly lan: readonly LanZone[];
  readonly upstream: PlannedInterface;
  readonly downstream: readonly PlannedInterface[];
  readonly disabled: readonly PlannedInterface[];
  readonly sources: readonly SettingsSource[];
  /** What was assumed where the settings leave a choice, and how to choose otherwise. */
  readonly notes: readonly string[];
  readonly warnings: readonly string[];
}

export type PlanResult = SetupPlan | { readonly ok: false; readonly reason: string };

class Refusal extends Error {}

const refuse = (reason: string): never => {
  throw new Refusal(reason);
};

const DIALUP_PAGE = 'System > Dialup';
const IPTV_VLAN_DEFAULT = '8';
const INET_VLAN_DEFAULT = '7';
/** Ignored lines listed one by one; more are counted. */
const MAX_IGNORED_REPORTED = 5;

export function planSetup(read: ReadSettings, options: SetupOptions): PlanResult {
  try {
    return decide(read, options);
  } catch (error) {
    if (error instanceof Refusal) return { ok: false, reason: error.message };
    throw error;
  }
}

function load(read: ReadSettings, path: string, warnings: string[]): SettingsFile {
  const result = read(path);
  if (!result.ok) return refuse(result.message);
  const { ignored } = result.file;
  for (const line of ignored.slice(0, MAX_IGNORED_REPORTED)) {
    warnings.push(`${path}:${line.line}: ignored as IPFire ignores it: ${line.reason}`);
  }
  if (ignored.length > MAX_IGNORED_REPORTED) {
    warnings.push(`${path}: ${ignored.length - MAX_IGNORED_REPORTED} more lines ignored as IPFire ignores them`);
  }
  return result.file;
}

/** A device name from a settings key; refuses when it cannot be one. */
function device(file: SettingsFile, key: string, what: string): string {
  const value = setting(file, key);
  if (value === '') return refuse(`${file.path} sets no ${key} (${what})`);
  const checked = checkInterfaceName(value);
  // A space separates the several devices of a bridge in old files; one name is needed here.
  if (!checked.ok || /\s/.test(value))
    return refuse(`${key}='${printable(value)}' in ${file.path} is not one interface name`);
  return value;
}

function vlanId(file: SettingsFile, key: string, fallback: string): string {
  const value = setting(file, key) || fallback;
  // IPFire's dial-up page accepts 0..4095; 0 and 4095 are reserved by 802.1Q.
  if (!/^[0-9]{1,4}$/.test(value) || Number(value) < 1 || Number(value) > 4094) {
    return refuse(`${key}=${printable(value)} in ${file.path} is not a VLAN ID (1 to 4094)`);
  }
  return String(Number(value));
}

function decide(read: ReadSettings, options: SetupOptions): SetupPlan {
  const warnings: string[] = [];
  const notes: string[] = [];
  const sources: SettingsSource[] = [];
  const disabled: PlannedInterface[] = [];

  const ethernet = load(read, IPFIRE_FILES.ethernet, warnings);
  const configType = setting(ethernet, 'CONFIG_TYPE');
  const redType = setting(ethernet, 'RED_TYPE');
  sources.push({ path: ethernet.path, keys: [`CONFIG_TYPE=${configType}`, `RED_TYPE=${redType}`] });
  if (!/^[0-4]$/.test(configType)) {
    return refuse(
      `CONFIG_TYPE='${printable(configType)}' in ${ethernet.path} is not one of IPFire's network configurations (0 to 4)`,
    );
  }
  const hasBlue = configType === '3' || configType === '4';
  const hasOrange = configType === '2' || configType === '4';

  const green = device(ethernet, 'GREEN_DEV', 'the green zone');
  let upstream: PlannedInterface;
  switch (redType) {
    case 'PPPOE':
      upstream = pppUpstream(read, ethernet, { sources, notes, warnings, disabled });
      break;
    case 'DHCP':
    case 'STATIC': {
      const red = device(ethernet, 'RED_DEV', 'the red interface');
      sources[0] = { path: ethernet.path, keys: [...sources[0]!.keys, `RED_DEV=${red}`] };
      upstream = {
        name: red,
        why: `the red interface, address by ${redType === 'DHCP' ? 'DHCP' : 'static configuration'}`,
      };
      break;
    }
    case '':
      return refuse(`no red zone: ${ethernet.path} sets no RED_TYPE, so there is no interface facing the provider`);
    default:
      return refuse(`RED_TYPE=${printable(redType)} in ${ethernet.path} is none of IPFire's (PPPOE, DHCP, STATIC)`);
  }
  if (upstream.name === green) {
    return refuse(
      `the red interface ${green} is also the green one (GREEN_DEV) in ${ethernet.path}; IPTV needs a separate red interface`,
    );
  }

  const downstream: PlannedInterface[] = [{ name: green, why: 'the green zone (LAN)' }];
  let blue: string | undefined;
  if (hasBlue) blue = device(ethernet, 'BLUE_DEV', 'the blue zone');
  if (options.lan.includes('blue')) {
    if (blue === undefined) {
      return refuse(`--lan asks for blue, but CONFIG_TYPE=${configType} in ${ethernet.path} has no blue zone`);
    }
    downstream.push({ name: blue, why: 'the blue zone (wireless LAN)' });
  } else if (blue !== undefined) {
    disabled.push({ name: blue, why: 'the blue zone (add it with --lan green,blue)' });
  }
  if (hasOrange)
    disabled.push({ name: device(ethernet, 'ORANGE_DEV', 'the orange zone'), why: 'the orange zone (DMZ)' });

  const provider = PROVIDERS[options.provider];
  if (provider.warning !== undefined) warnings.push(provider.warning(upstream.name));
  const named = new Set([upstream.name, ...downstream.map((i) => i.name)]);
  return {
    ok: true,
    provider,
    lan: options.lan,
    upstream,
    downstream,
    disabled: disabled.filter((i) => !named.has(i.name)),
    sources,
    notes,
    warnings,
  };
}

interface Collected {
  readonly sources: SettingsSource[];
  readonly notes: string[];
  readonly warnings: string[];
  readonly disabled: PlannedInterface[];
}

function pppUpstream(read: ReadSettings, ethernet: SettingsFile, out: Collected): PlannedInterface {
  const ppp = load(read, IPFIRE_FILES.ppp, out.warnings);
  const type = setting(ppp, 'TYPE');
  const iptv = setting(ppp, 'IPTV');
  const keys = [`TYPE=${type}`, `IPTV=${iptv}`];
  if (type === 'modem' || type === 'serial' || type === 'qmi') {
    return refuse(
      `the red connection is a ${type === 'qmi' ? 'mobile (QMI)' : 'dial-up modem'} connection (TYPE=${type} in ${ppp.path}); it carries no IPTV multicast`,
    );
  }
  // The device pppd runs over, and the one IPFire hangs the IPTV VLAN on.
  let base: string;
  if (type === 'pppoeatm' || type === 'pptpatm') {
    const atm = setting(ppp, 'ATM_DEV') || '0';
    if (!/^[0-9]{1,3}$/.test(atm)) return refuse(`ATM_DEV=${printable(atm)} in ${ppp.path} is not a number`);
    base = `nas${Number(atm)}`;
    out.disabled.push({ name: base, why: 'the ATM bridge the PPPoE connection runs over' });
  } else {
    base = device(ethernet, 'RED_DEV', 'the red interface');
    out.disabled.push({ name: base, why: 'the red interface the PPPoE connection runs over' });
    if (type === 'vdsl') {
      const inet = vlanId(ppp, 'INET_VLAN', INET_VLAN_DEFAULT);
      keys.push(`INET_VLAN=${inet}`);
      out.disabled.push({ name: `${base}.${inet}`, why: `VLAN ${inet}, which carries the PPPoE connection` });
    }
  }

  if (iptv === 'enable') {
    const vlan = vlanId(ppp, 'IPTV_VLAN', IPTV_VLAN_DEFAULT);
    keys.push(`IPTV_VLAN=${vlan}`);
    out.sources.push({ path: ppp.path, keys });
    out.disabled.push({ name: 'ppp0', why: 'the PPPoE internet connection (TV comes on the IPTV VLAN)' });
    return {
      name: `${base}.${vlan}`,
      why: `the IPTV VLAN ${vlan} that IPFire creates on ${base} (IPTV on, ${DIALUP_PAGE})`,
    };
  }
  out.sources.push({ path: ppp.path, keys });
  out.notes.push(
    'IPTV is off in the dial-up profile, so this assumes a BNG line (TV over the PPPoE connection ppp0). ' +
      `If your line delivers TV on its own VLAN (older Telekom "Entertain" lines: VLAN 8), switch IPTV on in ${DIALUP_PAGE} ` +
      '(IPTV/VLAN, with the IPTV VLAN ID), reconnect, and run igmpproxy setup again',
  );
  return { name: 'ppp0', why: `the PPPoE connection (IPTV off in ${DIALUP_PAGE}: a BNG line)` };
}
