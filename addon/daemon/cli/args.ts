// Command-line parsing, compatible with C igmpproxy's getopt("hvdn") plus our long options.
// Pure: argv in, a decision out; main.ts acts on it.
import { DAEMON_CHILD_FLAG } from '../runtime/daemon-child-flag.ts';
import type { LogVerbosity } from '../log/logger.ts';
import type { DaemonArguments } from '../runtime/run.ts';
import type { LanZone as SetupLan } from '../setup/plan.ts';
import type { ProviderName as SetupProvider } from '../setup/providers.ts';
/** `all` prints "ROLE NAME" lines: both roles from one run (the firewall helper's reload). */
import type { ListRole } from '../config/describe.ts';

export type { LogVerbosity, ListRole };

export type Command =
  | { readonly kind: 'help' }
  | { readonly kind: 'version' }
  | { readonly kind: 'check'; readonly configPath: string }
  | { readonly kind: 'list-interfaces'; readonly role: ListRole; readonly configPath: string }
  | ({
      readonly kind: 'run';
    } & DaemonArguments)
  | {
      /** igmpproxy setup: a configuration from IPFire's network settings (setup/). */
      readonly kind: 'setup';
      /** --root DIR: prefixes every IPFire path (tests, preparing an image); default /. */
      readonly root: string;
      readonly provider: SetupProvider;
      /** Downstream zones, green first. */
      readonly lan: readonly SetupLan[];
      /** --write: replace the configuration instead of showing it. */
      readonly write: boolean;
    }
  | {
      /** igmpproxy diagnose: checks what breaks IPTV, read-only (diagnose/). */
      readonly kind: 'diagnose';
      readonly configPath: string;
      readonly json: boolean;
      readonly pidfile: string | undefined;
      readonly statusFile: string | undefined;
    }
  | { readonly kind: 'usage-error'; readonly message: string };

export const USAGE = `Usage: igmpproxy [-h] [-n] [-d] [-v [-v]] <configfile>
       igmpproxy --check <configfile>
       igmpproxy --list-interfaces upstream|downstream|all <configfile>
       igmpproxy --version
       igmpproxy setup [--provider telekom|generic] [--lan green|green,blue]
                       [--root DIR] [--write]
       igmpproxy diagnose [--json] [<configfile>]

   -h   Display this help screen
   -n   Do not run as a daemon
   -d   Run in debug mode. Output all messages on stderr. Implies -n.
   -v   Be verbose. Give twice to see even debug messages.
   --check            Validate the configuration, print the effective
                      configuration and warnings; exit 1 on errors.
   --list-interfaces  Print the upstream or downstream interface names of a
                      valid configuration, one per line (for scripts);
                      'all': both, as "upstream NAME" / "downstream NAME",
                      and each downstream altnet as "altnet CIDR NAME".
   --version          Print the version and exit.
   --pidfile FILE     Pidfile (default /var/run/igmpproxy.pid).
   --status-file FILE Where SIGUSR1 writes the state as JSON
                      (default /var/run/igmpproxy.status).

   setup              Make /etc/igmpproxy.conf from IPFire's network settings
                      (red connection, IPTV VLAN, zones). Prints the file and
                      its differences to the current one; --write replaces it
                      (the old one is kept as /etc/igmpproxy.conf.bak-DATE).
                      --provider: whose stream sources to allow (default
                      telekom); --lan: zones with TV receivers (default green);
                      --root DIR: read and write below DIR instead of /.

   diagnose           Check what IPTV needs (kernel, daemon, upstream link,
                      querier, rp_filter, firewall, streams) and say how to fix
                      each problem; exit 1 when there is one. Changes nothing
                      (asks the daemon for its status with SIGUSR1). --json:
                      one JSON object; --pidfile/--status-file as the daemon's.
                      Default configfile: /etc/igmpproxy.conf.
`;

/** Where IPFire keeps the configuration (diagnose's default). */
export const DEFAULT_CONFIG_PATH = '/etc/igmpproxy.conf';

/** The background copy's hidden first argument (runtime/daemon-child-flag.ts), for main.ts. */
export { DAEMON_CHILD_FLAG };

export function parseArgs(argv: readonly string[]): Command {
  if (argv[0] === 'setup') return parseSetupArgs(argv.slice(1));
  if (argv[0] === 'diagnose') return parseDiagnoseArgs(argv.slice(1));
  let foreground = false;
  let logToStderr = false;
  let verbosity: LogVerbosity = 0;
  const positional: string[] = [];
  let mode: 'run' | 'check' | 'list-interfaces' = 'run';
  let onlyPositional = false;
  let pidfile: string | undefined;
  let statusFile: string | undefined;

  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index] as string;
    if (onlyPositional || arg === '-' || !arg.startsWith('-')) {
      positional.push(arg);
      continue;
    }
    if (arg === '--') {
      onlyPositional = true;
      continue;
    }
    if (arg.startsWith('--')) {
      switch (arg) {
        case '--help':
          return { kind: 'help' };
        case '--version':
          return { kind: 'version' };
        case '--check':
          mode = 'check';
          continue;
        case '--list-interfaces':
          mode = 'list-interfaces';
          continue;
        case '--pidfile':
        case '--status-file': {
          const value = argv[++index];
          if (value === undefined || value === '') return { kind: 'usage-error', message: `${arg} needs a file name` };
          if (arg === '--pidfile') pidfile = value;
          else statusFile = value;
          continue;
        }
        default:
          return { kind: 'usage-error', message: `unknown option '${printable(arg)}'` };
      }
    }
    // Bundled short flags as getopt allows them: -dvv, -nv ...
    for (const flag of arg.slice(1)) {
      switch (flag) {
        case 'h':
          return { kind: 'help' };
        case 'n':
          foreground = true;
          break;
        case 'd':
          foreground = true;
          logToStderr = true;
          break;
        case 'v':
          verbosity = verbosity === 0 ? 1 : 2;
          break;
        default:
          return { kind: 'usage-error', message: `unknown option '-${printable(flag)}'` };
      }
    }
  }

  if (mode === 'list-interfaces') {
    const [role, configPath, ...rest] = positional;
    if (role !== 'upstream' && role !== 'downstream' && role !== 'all') {
      return { kind: 'usage-error', message: "--list-interfaces needs 'upstream', 'downstream' or 'all'" };
    }
    if (configPath === undefined || rest.length > 0) {
      return { kind: 'usage-error', message: '--list-interfaces needs exactly one configuration file' };
    }
    return { kind: 'list-interfaces', role, configPath };
  }
  if (positional.length === 0) return { kind: 'usage-error', message: 'You must specify the configuration file.' };
  if (positional.length > 1) {
    return { kind: 'usage-error', message: `only one configuration file, got ${positional.length} arguments` };
  }
  const configPath = positional[0] as string;
  if (mode === 'check') return { kind: 'check', configPath };
  return { kind: 'run', configPath, foreground, logToStderr, verbosity, pidfile, statusFile };
}

function parseSetupArgs(argv: readonly string[]): Command {
  let root = '/';
  let provider: SetupProvider = 'telekom';
  let lan: readonly SetupLan[] = ['green'];
  let write = false;
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index] as string;
    switch (arg) {
      case '-h':
      case '--help':
        return { kind: 'help' };
      case '--write':
        write = true;
        continue;
      case '--root':
      case '--provider':
      case '--lan': {
        const value = argv[++index];
        if (value === undefined || value === '') return { kind: 'usage-error', message: `setup: ${arg} needs a value` };
        if (arg === '--root') {
          root = value;
        } else if (arg === '--provider') {
          if (value !== 'telekom' && value !== 'generic') {
            return {
              kind: 'usage-error',
              message: `setup: --provider is telekom or generic, not '${printable(value)}'`,
            };
          }
          provider = value;
        } else {
          if (value !== 'green' && value !== 'green,blue') {
            return { kind: 'usage-error', message: `setup: --lan is green or green,blue, not '${printable(value)}'` };
          }
          lan = value === 'green' ? ['green'] : ['green', 'blue'];
        }
        continue;
      }
      default:
        return { kind: 'usage-error', message: `setup: unknown argument '${printable(arg)}'` };
    }
  }
  return { kind: 'setup', root, provider, lan, write };
}

function parseDiagnoseArgs(argv: readonly string[]): Command {
  let json = false;
  let pidfile: string | undefined;
  let statusFile: string | undefined;
  const positional: string[] = [];
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index] as string;
    if (arg === '-h' || arg === '--help') return { kind: 'help' };
    if (arg === '--json') {
      json = true;
    } else if (arg === '--pidfile' || arg === '--status-file') {
      const value = argv[++index];
      if (value === undefined || value === '')
        return { kind: 'usage-error', message: `diagnose: ${arg} needs a file name` };
      if (arg === '--pidfile') pidfile = value;
      else statusFile = value;
    } else if (arg.startsWith('-') && arg !== '-') {
      return { kind: 'usage-error', message: `diagnose: unknown option '${printable(arg)}'` };
    } else {
      positional.push(arg);
    }
  }
  if (positional.length > 1) return { kind: 'usage-error', message: 'diagnose: only one configuration file' };
  return { kind: 'diagnose', configPath: positional[0] ?? DEFAULT_CONFIG_PATH, json, pidfile, statusFile };
}

/** Arguments are echoed in errors; keep control characters out of the terminal. */
function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, 64);
}
