// The deploy command: arguments, local package, credentials, then every target in parallel
// (bounded) and one summary line per host. Returns the exit code; prints no stack traces.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseDeployArgs, USAGE, type DeployOptions } from './cli-args.ts';
import { openSession, parsePrivateKey, type Credentials } from './connection.ts';
import { DeployError, EXIT_FAILED, EXIT_OK, EXIT_USAGE, oneLine } from './errors.ts';
import { defaultKnownHostsFile } from './known-hosts-file.ts';
import { builtPackages, explicitPackage, type PackageSource } from './package-choice.ts';
import { loadLocalPackage, type LocalPackage } from './package-info.ts';
import { installOrUpdate, status, uninstall, type StepContext } from './procedures.ts';
import { lineProgress, terminalProgress } from './progress.ts';
import { runBounded, settleHost, summaryLines } from './runner.ts';
import { parseHostsFile, parseTarget, targetLabel, type Target } from './targets.ts';

export const PACKAGE_NAME = 'igmpproxy';

export interface DeployIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  /** Raw write to the terminal for the redrawn progress bar; null when not on a terminal. */
  readonly terminal: ((raw: string) => void) | null;
  /** Hidden prompt on the terminal; null when stdin is not a terminal. */
  readonly promptHidden: ((question: string) => Promise<string>) | null;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly repoRoot: string;
  readonly now: () => number;
  /** Test hook: sees every upload progress step. */
  readonly onUploadProgress?: (label: string, done: number, total: number) => void;
}

/** One prompt at a time, even when several hosts ask at once. */
function serialize(prompt: (question: string) => Promise<string>): (question: string) => Promise<string> {
  let queue: Promise<unknown> = Promise.resolve();
  return (question) => {
    const answer = queue.then(() => prompt(question));
    queue = answer.catch(() => undefined);
    return answer;
  };
}

function resolveTargets(options: DeployOptions): Target[] {
  const targets: Target[] = [];
  if (options.hostsFile !== null) {
    let text: string;
    try {
      text = readFileSync(options.hostsFile, 'utf8');
    } catch (error) {
      throw new UsageError(
        `cannot read the hosts file ${options.hostsFile}: ${(error as NodeJS.ErrnoException).code ?? oneLine(error)}`,
      );
    }
    const parsed = parseHostsFile(text, options.hostsFile);
    if (!parsed.ok) throw new UsageError(parsed.reason);
    targets.push(...parsed.value);
  }
  for (const text of options.targets) {
    const parsed = parseTarget(text);
    if (!parsed.ok) throw new UsageError(parsed.reason);
    targets.push(parsed.value);
  }
  if (targets.length === 0) throw new UsageError('the hosts file names no target');
  return targets;
}

class UsageError extends Error {}

async function loadCredentials(
  options: DeployOptions,
  io: DeployIo,
  ask: ((question: string) => Promise<string>) | null,
): Promise<Credentials> {
  let privateKey = null;
  if (options.identityFile !== null) {
    let data: Buffer;
    try {
      data = readFileSync(options.identityFile);
    } catch (error) {
      throw new UsageError(
        `cannot read the identity file ${options.identityFile}: ${(error as NodeJS.ErrnoException).code ?? oneLine(error)}`,
      );
    }
    privateKey = await parsePrivateKey(data, options.identityFile, ask);
  }
  const agentSocket = io.env.SSH_AUTH_SOCK || null;
  if (privateKey === null && agentSocket === null && ask === null) {
    throw new UsageError(
      'no way to log in: pass --identity FILE, run ssh-agent (SSH_AUTH_SOCK), or run on a terminal to be asked for a password',
    );
  }
  return { privateKey, agentSocket, askPassword: ask };
}

export async function main(argv: readonly string[], io: DeployIo): Promise<number> {
  const cli = parseDeployArgs(argv);
  if (cli.kind === 'help') {
    io.out(USAGE);
    return EXIT_OK;
  }
  if (cli.kind === 'usage-error') {
    io.err(`deploy: ${cli.reason} (see --help)`);
    return EXIT_USAGE;
  }
  const options = cli.options;
  const ask = io.promptHidden ? serialize(io.promptHidden) : null;

  let targets: Target[];
  let credentials: Credentials;
  let packages: PackageSource | null = null;
  const announce = (pkg: LocalPackage): void => {
    io.out(
      `package ${path.basename(pkg.packageFile)} (${pkg.meta.name} ${pkg.meta.version}-${pkg.meta.release}, ${pkg.arch ?? 'no native code'}, ${pkg.size} bytes)`,
    );
  };
  try {
    targets = resolveTargets(options);
    credentials = await loadCredentials(options, io, ask);
    if (options.action !== 'status') {
      if (options.packageFile !== null || options.metaFile !== null) {
        // Named on the command line: checked before connecting anywhere.
        const pkg = await loadLocalPackage({
          packageFile: options.packageFile,
          metaFile: options.metaFile,
          defaultName: PACKAGE_NAME,
        });
        announce(pkg);
        packages = explicitPackage(pkg);
      } else {
        // The build's package for each appliance's architecture, once the appliance has told it.
        packages = builtPackages(path.join(io.repoRoot, 'dist'), PACKAGE_NAME, announce);
      }
    }
  } catch (error) {
    io.err(`deploy: ${oneLine(error)}`);
    return error instanceof UsageError ? EXIT_USAGE : EXIT_FAILED;
  }

  const knownHostsFile = options.knownHostsFile ?? defaultKnownHostsFile();
  const several = targets.length > 1;
  const outcomes = await runBounded(targets, options.parallel, (target) => {
    const port = target.port ?? options.port;
    const label = targetLabel(target, port);
    const say = (line: string): void => io.out(`[${label}] ${line}`);
    const onFailure = (reason: string): void => io.err(`[${label}] error: ${reason}`);
    return settleHost(label, onFailure, async () => {
      const session = await openSession({
        host: target.host,
        port,
        user: target.user,
        label,
        credentials,
        knownHostsFile,
        acceptNew: options.acceptNew,
        connectTimeoutMs: options.connectTimeoutMs,
        note: say,
      });
      const context: StepContext = {
        session,
        label,
        commandTimeoutMs: options.commandTimeoutMs,
        say,
        progress: (file) => {
          const sink =
            io.terminal && !several
              ? terminalProgress(`[${label}] ${file}`, io.terminal, io.now)
              : lineProgress(`[${label}] upload ${file}`, io.out);
          return {
            update: (done, total) => {
              io.onUploadProgress?.(label, done, total);
              sink.update(done, total);
            },
            finish: () => sink.finish(),
          };
        },
      };
      try {
        if (options.action === 'status') return await status(context, PACKAGE_NAME);
        if (packages === null) throw new DeployError('no package source');
        if (options.action === 'uninstall') return await uninstall(context, packages);
        return await installOrUpdate(context, packages);
      } finally {
        session.close();
      }
    });
  });

  io.out('summary:');
  for (const line of summaryLines(outcomes)) io.out(`  ${line}`);
  return outcomes.every((outcome) => outcome.ok) ? EXIT_OK : EXIT_FAILED;
}
