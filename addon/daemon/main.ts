// Entry point of the igmpproxy binary: the C igmpproxy command line plus --check,
// --list-interfaces and --version. Everything that can fail before the daemon runs (usage,
// root, configuration) is reported in one line (file:line:col for the configuration) with
// C igmpproxy's exit code 1, before going to the background.
import { dropRuntimeEnvironment, embeddedAssetSha256, isSingleBinary } from './single-binary.ts';
import { VERSION } from './version.ts';
import { parseArgs, USAGE } from './cli/args.ts';
import type { Command } from './cli/args.ts';
import { loadConfigFile } from './config/load.ts';
import { describeConfig } from './config/describe.ts';
import { formatDiagnostic } from './config/types.ts';
import { expandDefaultDown } from './runtime/interface-roles.ts';
import { readInterfaces } from './kernel/interfaces.ts';

/** Internal first argument of the background copy (runtime/detach.ts; kept here so --version loads nothing more). */
const DAEMON_CHILD_FLAG = '--daemon-child';

// First thing: no NODE_*, LD_* or OpenSSL variables take effect in a root daemon.
const ignoredEnvironment = dropRuntimeEnvironment();

async function main(argv: string[]): Promise<number> {
  if (argv[0] === '--self-test-assets') {
    // Hidden, for test/build: proves which shim the binary embeds.
    const digest = embeddedAssetSha256(argv[1] ?? 'igmp_shim.node');
    process.stdout.write(`${digest ?? 'not a single binary'}\n`);
    return digest === undefined ? 1 : 0;
  }
  const daemonChild = argv[0] === DAEMON_CHILD_FLAG;
  const command: Command = parseArgs(daemonChild ? argv.slice(1) : argv);
  switch (command.kind) {
    case 'help':
      process.stdout.write(USAGE);
      return 0;
    case 'version':
      process.stdout.write(`igmpproxy ${VERSION}\n`);
      return 0;
    case 'usage-error':
      process.stderr.write(`igmpproxy: ${command.message}\nTry 'igmpproxy -h' for more information.\n`);
      return 1;
    case 'check':
    case 'list-interfaces': {
      const result = await loadConfigFile(command.configPath);
      for (const warning of result.warnings) process.stderr.write(`${formatDiagnostic(warning)}\n`);
      if (!result.ok) {
        for (const error of result.errors) process.stderr.write(`${formatDiagnostic(error)}\n`);
        return 1;
      }
      if (command.kind === 'check') {
        process.stdout.write(describeConfig(result.config));
      } else {
        // With defaultdown, the interfaces present now that it makes downstream are listed too.
        const config = result.config.defaultDown ? expandDefaultDown(result.config, readInterfaces()) : result.config;
        for (const phyint of config.interfaces) {
          if (phyint.role === command.role) process.stdout.write(`${phyint.name}\n`);
        }
      }
      return 0;
    }
    case 'run':
      return run(command, daemonChild);
  }
}

async function run(command: Extract<Command, { kind: 'run' }>, daemonChild: boolean): Promise<number> {
  // The daemon's modules (child_process, perf_hooks, the kernel adapter) load only here,
  // so --version, -h and --check start fast.
  const { reportStartup, startInBackground } = await import('./runtime/detach.ts');
  const fail = async (message: string): Promise<number> => {
    if (daemonChild) await reportStartup({ ok: false, message });
    else process.stderr.write(`${message}\n`);
    return 1;
  };
  if (process.getuid?.() !== 0) return fail('igmpproxy: must be run as root (it programs the kernel multicast routing table)');
  const loaded = await loadConfigFile(command.configPath);
  if (!loaded.ok) {
    return fail([...loaded.errors, ...loaded.warnings].map(formatDiagnostic).join('\n'));
  }
  if (!command.foreground && !daemonChild) {
    // Warnings are shown on the terminal; the background daemon logs them to syslog again.
    for (const warning of loaded.warnings) process.stderr.write(`${formatDiagnostic(warning)}\n`);
    return startInBackground(isSingleBinary());
  }
  const { runDaemon } = await import('./runtime/run.ts');
  return runDaemon({
    command,
    config: loaded.config,
    warnings: loaded.warnings,
    ignoredEnvironment,
    daemonChild,
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0 || process.exitCode === undefined) process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`igmpproxy: ${(error as Error)?.message ?? String(error)}\n`);
    process.exitCode = 1;
  },
);
