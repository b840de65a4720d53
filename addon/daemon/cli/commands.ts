// The commands that read a configuration: --check, --list-interfaces and running the
// daemon (plus the hidden --self-test-assets). main.ts loads this module only for them, so
// --version and -h never pay for the config parser, the kernel adapter or the runtime.
// Everything that can fail before the daemon runs (root, configuration) is reported in one
// line (file:line:col for the configuration) with C igmpproxy's exit code 1, before going
// to the background.
import { embeddedAssetSha256, isSingleBinary } from '../single-binary.ts';
import type { Command } from './args.ts';
import { loadConfigFile } from '../config/load.ts';
import { describeConfig, listInterfaces } from '../config/describe.ts';
import { formatDiagnostic } from '../config/types.ts';
import { expandDefaultDown } from '../runtime/interface-roles.ts';
import { readInterfaces } from '../kernel/interfaces.ts';
import { errorMessage } from '../error-message.ts';

export type ConfigCommand = Extract<Command, { kind: 'check' | 'list-interfaces' | 'run' }>;

export interface CommandContext {
  /** This process is the background copy (runtime/detach.ts) with a readiness pipe on fd 3. */
  readonly daemonChild: boolean;
  /** Runtime variables removed at start (environment.ts), logged by the daemon. */
  readonly ignoredEnvironment: readonly string[];
}

/** Hidden, for test/build: prints the sha256 of an embedded asset (proves which shim the binary carries). */
export function selfTestAssets(name: string): number {
  const digest = embeddedAssetSha256(name);
  process.stdout.write(`${digest ?? 'not a single binary'}\n`);
  return digest === undefined ? 1 : 0;
}

export async function runCommand(command: ConfigCommand, context: CommandContext): Promise<number> {
  if (command.kind === 'run') return run(command, context);
  const result = loadConfigFile(command.configPath);
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
    process.stdout.write(listInterfaces(config, command.role));
  }
  return 0;
}

async function run(command: Extract<Command, { kind: 'run' }>, context: CommandContext): Promise<number> {
  const { daemonChild } = context;
  // The daemon's modules (child_process, perf_hooks, the kernel adapter) load only here,
  // so --check starts fast.
  const { reportStartupFailure } = await import('../runtime/startup-failure.ts');
  const fail = async (lines: readonly string[]): Promise<number> => {
    await reportStartupFailure(lines, { daemonChild });
    return 1;
  };
  try {
    return await startDaemon(command, context, fail);
  } catch (error) {
    // A bug, not a known failure: still one line where the administrator looks.
    return fail([`igmpproxy: unexpected error during start-up: ${errorMessage(error)}`]);
  }
}

async function startDaemon(
  command: Extract<Command, { kind: 'run' }>,
  context: CommandContext,
  fail: (lines: readonly string[]) => Promise<number>,
): Promise<number> {
  const { daemonChild, ignoredEnvironment } = context;
  if (process.getuid?.() !== 0)
    return fail(['igmpproxy: must be run as root (it programs the kernel multicast routing table)']);
  const loaded = loadConfigFile(command.configPath);
  if (!loaded.ok) {
    return fail([...loaded.errors, ...loaded.warnings].map(formatDiagnostic));
  }
  if (!command.foreground && !daemonChild) {
    // Warnings are shown on the terminal; the background daemon logs them to syslog again.
    for (const warning of loaded.warnings) process.stderr.write(`${formatDiagnostic(warning)}\n`);
    const { startInBackground } = await import('../runtime/detach.ts');
    const { keepOffHugePages } = await import('../runtime/huge-pages.ts');
    const { loadOwnShim } = await import('../kernel/shim.ts');
    // Inherited by the background copy from its first page (see huge-pages.ts). A shim that
    // cannot load here is reported by the background copy itself.
    keepOffHugePages(() => loadOwnShim(isSingleBinary()));
    return startInBackground(isSingleBinary());
  }
  const { runDaemon } = await import('../runtime/run.ts');
  return runDaemon({
    command,
    config: loaded.config,
    warnings: loaded.warnings,
    ignoredEnvironment,
    daemonChild,
  });
}
