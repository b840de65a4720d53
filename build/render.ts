// Renders the add-on's shell scripts from Mustache templates (initscripts/, addon/pakfire/).
// The values end up inside shell scripts, so rendering is strict: HTML escaping is off, every
// value must be shell-safe, and a template naming a value that does not exist is an error
// (Mustache itself would silently print nothing).
import Mustache from 'mustache';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { readPackageManifest, REPOSITORY_ROOT } from './repository.ts';
import { errorMessage } from '../addon/daemon/error-message.ts';
import {
  DEFAULT_MAX_GROUPS_PER_HOST,
  DEFAULT_MAX_GROUPS_PER_INTERFACE,
  DEFAULT_MAX_SOURCES_PER_GROUP,
  MAX_GROUPS_LIMIT,
  MAX_SOURCES_LIMIT,
} from '../addon/daemon/config/parser.ts';
import { HOST_REPORT_BURST, HOST_REPORT_REFILL_MS } from '../addon/daemon/core/settings.ts';

/** The repository root (build/repository.ts), under the name the render tests use. */
export const REPO_ROOT = REPOSITORY_ROOT;

export interface PackageInfo {
  readonly name: string;
  readonly version: string;
  readonly release: number;
  readonly summary: string;
}

/** Where things live on the appliance, and the names the scripts share. */
export interface InstallLayout {
  readonly name: string;
  readonly daemon: string;
  /** /proc/PID/comm of the running daemon: tells a live pidfile from a reused pid. */
  readonly processName: string;
  readonly config: string;
  readonly defaultConfig: string;
  readonly pidfile: string;
  /** The daemon's status document (docs/status-format.md), refreshed on SIGUSR1. */
  readonly statusFile: string;
  /** What the web page saves (owned nobody); the initscript makes the config from it. */
  readonly settingsDir: string;
  readonly settingsFile: string;
  /** First line (after "# ") of a config the initscript made from the settings. */
  readonly managedMark: string;
  readonly initscript: string;
  readonly redUpHook: string;
  readonly firewallHelper: string;
  readonly firewallLocal: string;
  readonly backupInclude: string;
  readonly chainIn: string;
  readonly chainFwd: string;
  readonly chainOut: string;
  readonly iptvInput: string;
  readonly iptvForward: string;
  /** IPFire has no IPTV chain in OUTPUT; its CUSTOMOUTPUT is where local rules go. */
  readonly customOutput: string;
  /** rc3.d/S??: after network (S20), like IPFire's routing daemons (bird, frr). */
  readonly startNumber: string;
  /** rc0.d, rc6.d/K??: before network goes down (K80). */
  readonly stopNumber: string;
}

/** red.up hooks run in `ls -v` order; IPFire's 10-multicast switches multicast off on red. */
export const RED_UP_HOOK_NUMBER = '15';

export const LAYOUT: InstallLayout = {
  name: 'igmpproxy',
  daemon: '/usr/sbin/igmpproxy',
  processName: 'igmpproxy',
  config: '/etc/igmpproxy.conf',
  defaultConfig: '/usr/share/igmpproxy/igmpproxy.conf.default',
  pidfile: '/var/run/igmpproxy.pid',
  statusFile: '/var/run/igmpproxy.status',
  settingsDir: '/var/ipfire/igmpproxy',
  settingsFile: '/var/ipfire/igmpproxy/settings',
  managedMark: 'igmpproxy-managed-by-web-ui',
  initscript: '/etc/rc.d/init.d/igmpproxy',
  redUpHook: `/etc/rc.d/init.d/networking/red.up/${RED_UP_HOOK_NUMBER}-igmpproxy`,
  firewallHelper: '/usr/lib/igmpproxy/firewall',
  firewallLocal: '/etc/sysconfig/firewall.local',
  backupInclude: '/var/ipfire/backup/addons/includes/igmpproxy',
  chainIn: 'IGMPPROXY_IN',
  chainFwd: 'IGMPPROXY_FWD',
  chainOut: 'IGMPPROXY_OUT',
  iptvInput: 'IPTVINPUT',
  iptvForward: 'IPTVFORWARD',
  customOutput: 'CUSTOMOUTPUT',
  startNumber: '50',
  stopNumber: '40',
};

export interface RenderedFile {
  /** Relative to / on the appliance for payload files; the member name for pakfire scripts. */
  readonly path: string;
  readonly mode: number;
  readonly content: string;
}

export interface RenderedScripts {
  /** Scripts installed on the appliance (go into files.tar.xz). */
  readonly payload: readonly RenderedFile[];
  /** install.sh, uninstall.sh, update.sh (members of the .ipfire). */
  readonly pakfire: readonly RenderedFile[];
  /** The web UI page, its menu entry and strings (go into files.tar.xz; not shell scripts). */
  readonly web: readonly RenderedFile[];
}

export type TemplateValues = Readonly<Record<string, string>>;

const TEMPLATE_DIRS = ['initscripts', 'addon/pakfire', 'addon/wui'] as const;

/** Characters that mean nothing special to a shell, inside or outside quotes. */
const SHELL_SAFE = /^[A-Za-z0-9_./:+@%=,-]+$/;

export class TemplateError extends Error {}

/** The parser's limits and their defaults: the web page offers them, the initscript
 * writes a limit into the config only when it differs from its default. */
export const LIMIT_VALUES: TemplateValues = {
  maxGroupsDefault: String(DEFAULT_MAX_GROUPS_PER_INTERFACE),
  maxGroupsPerHostDefault: String(DEFAULT_MAX_GROUPS_PER_HOST),
  maxSourcesDefault: String(DEFAULT_MAX_SOURCES_PER_GROUP),
  maxGroupsLimit: String(MAX_GROUPS_LIMIT),
  maxSourcesLimit: String(MAX_SOURCES_LIMIT),
};

/** Each LAN host's IGMP share as the daemon takes it (settings.ts), for the firewall helper's
 * kernel-side copy: the rate in whole reports a second, rounded up (never below the daemon's). */
export const HOST_SHARE_VALUES: TemplateValues = {
  hostShareRate: String(Math.ceil(1000 / HOST_REPORT_REFILL_MS)),
  hostShareBurst: String(HOST_REPORT_BURST),
};

/** The view every template sees: the layout, the limits, the host share, version and release. */
export function templateValues(pkg: PackageInfo, layout: InstallLayout = LAYOUT): TemplateValues {
  const values: Record<string, string> = {
    ...layout,
    ...LIMIT_VALUES,
    ...HOST_SHARE_VALUES,
    version: pkg.version,
    release: String(pkg.release),
  };
  if (values.name !== pkg.name) {
    throw new TemplateError(`layout name '${values.name}' differs from package name '${pkg.name}'`);
  }
  const problems = unsafeValues(values);
  if (problems.length > 0) throw new TemplateError(problems.join('; '));
  return values;
}

/** Descriptions of values that are not safe to paste into a shell script. */
export function unsafeValues(values: TemplateValues): string[] {
  const problems: string[] = [];
  for (const [key, value] of Object.entries(values)) {
    if (!SHELL_SAFE.test(value)) {
      problems.push(`value of '${key}' (${JSON.stringify(value)}) has characters unsafe in a shell script`);
    } else if (value.startsWith('-')) {
      problems.push(`value of '${key}' (${JSON.stringify(value)}) would read as a command option`);
    }
  }
  return problems;
}

/**
 * Renders one template. `partials` maps partial names to template text. Throws TemplateError
 * when a value or partial the template names is missing, or when a section tag is used
 * (the scripts need none; it would hide missing values).
 */
export function renderTemplate(
  template: string,
  values: TemplateValues,
  partials: Readonly<Record<string, string>> = {},
  origin = 'template',
): string {
  const problems = new Set<string>();
  checkTokens(template, values, partials, origin, problems, []);
  if (problems.size > 0) throw new TemplateError([...problems].join('; '));
  return Mustache.render(template, values, partials, { escape: (text: string) => text });
}

type Token = [string, string, number, number, ...unknown[]];

function checkTokens(
  template: string,
  values: TemplateValues,
  partials: Readonly<Record<string, string>>,
  origin: string,
  problems: Set<string>,
  partialStack: readonly string[],
): void {
  let tokens: Token[];
  try {
    tokens = Mustache.parse(template) as Token[];
  } catch (error) {
    problems.add(`${origin}: ${errorMessage(error)}`);
    return;
  }
  for (const [type, name] of tokens) {
    switch (type) {
      case 'text':
      case '!':
        break;
      case 'name':
      case '&':
      case '{':
        if (!Object.hasOwn(values, name)) problems.add(`${origin}: no value named '${name}'`);
        break;
      case '>': {
        const partial = partials[name];
        if (partial === undefined) {
          problems.add(`${origin}: no partial named '${name}'`);
        } else if (partialStack.includes(name)) {
          problems.add(`${origin}: partial '${name}' includes itself`);
        } else {
          checkTokens(partial, values, partials, `partial ${name}`, problems, [...partialStack, name]);
        }
        break;
      }
      default:
        problems.add(`${origin}: tag type '${type}' ('${name}') is not allowed in script templates`);
    }
  }
}

interface TemplateFile {
  readonly name: string;
  readonly text: string;
}

async function readTemplates(root: string): Promise<Map<string, TemplateFile>> {
  const templates = new Map<string, TemplateFile>();
  for (const dir of TEMPLATE_DIRS) {
    for (const entry of (await readdir(path.join(root, dir))).sort()) {
      if (!entry.endsWith('.mustache')) continue;
      const name = entry.slice(0, -'.mustache'.length).replace(/^_/, '');
      if (templates.has(name)) throw new TemplateError(`two templates are named '${name}'`);
      templates.set(name, { name: `${dir}/${entry}`, text: await readFile(path.join(root, dir, entry), 'utf8') });
    }
  }
  return templates;
}

/** Template name -> payload path and mode. */
function payloadTargets(layout: InstallLayout): ReadonlyArray<{ template: string; path: string; mode: number }> {
  return [
    { template: 'igmpproxy', path: relative(layout.initscript), mode: 0o754 },
    { template: 'red-up-hook', path: relative(layout.redUpHook), mode: 0o754 },
    { template: 'firewall-helper', path: relative(layout.firewallHelper), mode: 0o755 },
  ];
}

/** Web UI files (IPFire's paths: cgi-bin, menu.d, addon-lang; see docs/ipfire-wui in the shared docs). */
const WEB_TARGETS: ReadonlyArray<{ template: string; path: string; mode: number }> = [
  { template: 'igmpproxy.cgi', path: 'srv/web/ipfire/cgi-bin/igmpproxy.cgi', mode: 0o755 },
  { template: 'EX-igmpproxy.menu', path: 'var/ipfire/menu.d/EX-igmpproxy.menu', mode: 0o644 },
  { template: 'igmpproxy.en.pl', path: 'var/ipfire/addon-lang/igmpproxy.en.pl', mode: 0o644 },
  { template: 'igmpproxy.de.pl', path: 'var/ipfire/addon-lang/igmpproxy.de.pl', mode: 0o644 },
];

const PAKFIRE_SCRIPTS = ['install.sh', 'uninstall.sh', 'update.sh'] as const;

function relative(absolute: string): string {
  if (!absolute.startsWith('/')) throw new TemplateError(`'${absolute}' is not an absolute path`);
  return absolute.slice(1);
}

/** Renders every script of the add-on. */
export async function renderScripts(
  pkg: PackageInfo,
  layout: InstallLayout = LAYOUT,
  root: string = REPO_ROOT,
): Promise<RenderedScripts> {
  const values = templateValues(pkg, layout);
  const templates = await readTemplates(root);
  const partials = Object.fromEntries([...templates].map(([name, file]) => [name, file.text]));
  const render = (name: string): string => {
    const file = templates.get(name);
    if (!file) throw new TemplateError(`template '${name}' is missing`);
    const text = renderTemplate(file.text, values, partials, file.name);
    if (text.includes('{{')) throw new TemplateError(`${file.name}: output still contains '{{'`);
    return text;
  };
  const payload = payloadTargets(layout).map((target) => ({
    path: target.path,
    mode: target.mode,
    content: render(target.template),
  }));
  const pakfire = PAKFIRE_SCRIPTS.map((script) => ({ path: script, mode: 0o744, content: render(script) }));
  const web = WEB_TARGETS.map((target) => ({ path: target.path, mode: target.mode, content: render(target.template) }));
  return { payload, pakfire, web };
}

/** name, version, ipfire.release and ipfire.summary from package.json (build/repository.ts). */
export async function readPackageInfo(root: string = REPO_ROOT): Promise<PackageInfo> {
  try {
    const { name, version, release, summary } = readPackageManifest(root);
    return { name, version, release, summary };
  } catch (error) {
    throw new TemplateError(errorMessage(error));
  }
}
