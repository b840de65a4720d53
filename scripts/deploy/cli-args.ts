// Command line of `npm run deploy -- [options] [user@]host[:port] ...`. Pure: returns the
// options or a usage error; reading files and the environment happens elsewhere.
import { parsePort } from './targets.ts';

export type DeployAction = 'install' | 'status' | 'uninstall';

export interface DeployOptions {
  readonly action: DeployAction;
  readonly targets: readonly string[];
  readonly hostsFile: string | null;
  readonly packageFile: string | null;
  readonly metaFile: string | null;
  readonly port: number;
  readonly identityFile: string | null;
  /** null: the default ~/.ssh/known_hosts. */
  readonly knownHostsFile: string | null;
  readonly acceptNew: boolean;
  readonly parallel: number;
  readonly connectTimeoutMs: number;
  readonly commandTimeoutMs: number;
}

export type CliResult =
  | { readonly kind: 'run'; readonly options: DeployOptions }
  | { readonly kind: 'help' }
  | { readonly kind: 'usage-error'; readonly reason: string };

export const USAGE = `usage: npm run deploy -- [options] [user@]host[:port] ...

Installs (or updates) the built Pakfire package on IPFire appliances over SSH, the way
pakfire does it: checks, SFTP upload with sha256 check, install.sh or update.sh, db records.

actions (default: install or update):
  --status              show service state, installed version, groups/routes, firewall hooks
  --uninstall           run the package's uninstall.sh (configuration is kept)

package (default: the build's, for each appliance's architecture: dist/x86_64/ or dist/aarch64/):
  --package FILE        the .ipfire file (default: the meta file's File:, next to it)
  --meta FILE           the meta file (default: meta-igmpproxy next to --package)

connection:
  -p, --port N          SSH port when a target gives none (default 22; IPFire often uses 222)
  -i, --identity FILE   private key; without it ssh-agent (SSH_AUTH_SOCK) is used, and on a
                        terminal a password prompt is the last resort
  --known-hosts FILE    OpenSSH known_hosts file (default ~/.ssh/known_hosts)
  --accept-new          record the key of a host not yet known (a changed key is never accepted)
  --connect-timeout S   seconds to connect and authenticate (default 20)
  --command-timeout S   seconds one remote step may take (default 300)

several appliances:
  --hosts FILE          targets, one [user@]host[:port] per line, # comments
  --parallel N          appliances handled at the same time (default 4)

exit status: 0 all succeeded, 1 a target failed, 2 usage error`;

const VALUE_OPTIONS = new Set([
  '--package',
  '--meta',
  '--port',
  '--identity',
  '--known-hosts',
  '--hosts',
  '--parallel',
  '--connect-timeout',
  '--command-timeout',
]);
const SHORT_ALIASES: Record<string, string> = { '-p': '--port', '-i': '--identity', '-h': '--help' };

function positiveSeconds(name: string, text: string): number | string {
  if (!/^[0-9]+(\.[0-9]+)?$/.test(text) || Number(text) <= 0 || Number(text) > 86_400) {
    return `${name} needs a number of seconds between 0 and 86400, got ${JSON.stringify(text)}`;
  }
  return Math.round(Number(text) * 1000);
}

export function parseDeployArgs(argv: readonly string[]): CliResult {
  const usageError = (reason: string): CliResult => ({ kind: 'usage-error', reason });
  const values = new Map<string, string>();
  const flags = new Set<string>();
  const targets: string[] = [];
  let optionsEnded = false;

  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index] ?? '';
    if (optionsEnded || !arg.startsWith('-') || arg === '-') {
      targets.push(arg);
      continue;
    }
    if (arg === '--') {
      optionsEnded = true;
      continue;
    }
    const eq = arg.indexOf('=');
    const rawName = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    const name = SHORT_ALIASES[rawName] ?? rawName;
    if (VALUE_OPTIONS.has(name)) {
      let value: string | undefined;
      if (arg.startsWith('--') && eq > 0) value = arg.slice(eq + 1);
      else value = argv[++index];
      if (value === undefined) return usageError(`${rawName} needs a value`);
      if (values.has(name)) return usageError(`${name} given twice`);
      values.set(name, value);
      continue;
    }
    if (eq > 0) return usageError(`${rawName} takes no value`);
    switch (name) {
      case '--help':
        return { kind: 'help' };
      case '--status':
      case '--uninstall':
      case '--accept-new':
        flags.add(name);
        continue;
      case '--password':
        return usageError('passwords are never taken from the command line; run on a terminal to be prompted');
      default:
        return usageError(`unknown option ${JSON.stringify(arg)}`);
    }
  }

  if (flags.has('--status') && flags.has('--uninstall'))
    return usageError('--status and --uninstall exclude each other');
  const action: DeployAction = flags.has('--status') ? 'status' : flags.has('--uninstall') ? 'uninstall' : 'install';

  let port = 22;
  const portText = values.get('--port');
  if (portText !== undefined) {
    const parsed = parsePort(portText);
    if (parsed === null) return usageError(`--port needs a port number 1-65535, got ${JSON.stringify(portText)}`);
    port = parsed;
  }
  let parallel = 4;
  const parallelText = values.get('--parallel');
  if (parallelText !== undefined) {
    if (!/^[0-9]{1,3}$/.test(parallelText) || Number(parallelText) < 1) {
      return usageError(`--parallel needs a count 1-999, got ${JSON.stringify(parallelText)}`);
    }
    parallel = Number(parallelText);
  }
  const connectTimeout = positiveSeconds('--connect-timeout', values.get('--connect-timeout') ?? '20');
  if (typeof connectTimeout === 'string') return usageError(connectTimeout);
  const commandTimeout = positiveSeconds('--command-timeout', values.get('--command-timeout') ?? '300');
  if (typeof commandTimeout === 'string') return usageError(commandTimeout);

  const hostsFile = values.get('--hosts') ?? null;
  if (targets.length === 0 && hostsFile === null)
    return usageError('no target given: name [user@]host[:port] or --hosts FILE');
  if (action === 'status' && (values.has('--package') || values.has('--meta'))) {
    return usageError('--status needs no package');
  }

  return {
    kind: 'run',
    options: {
      action,
      targets,
      hostsFile,
      packageFile: values.get('--package') ?? null,
      metaFile: values.get('--meta') ?? null,
      port,
      identityFile: values.get('--identity') ?? null,
      knownHostsFile: values.get('--known-hosts') ?? null,
      acceptNew: flags.has('--accept-new'),
      parallel,
      connectTimeoutMs: connectTimeout,
      commandTimeoutMs: commandTimeout,
    },
  };
}
