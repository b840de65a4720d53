// The process around the daemon: logging, the native shim, pidfile, signals, start-up
// report to the waiting foreground process, and an orderly exit.
import { constants } from 'node:os';
import path from 'node:path';
import type { ConfigDiagnostic, DaemonConfig } from '../config/types.ts';
import { formatDiagnostic } from '../config/types.ts';
import { Logger, StderrSink } from '../log/logger.ts';
import type { LogSink, LogVerbosity } from '../log/logger.ts';
import { SyslogSink } from '../log/syslog-sink.ts';
import { loadOwnShim } from '../kernel/shim.ts';
import { keepOffHugePages } from './huge-pages.ts';
import type { IgmpShim } from '../kernel/shim.ts';
import { isSingleBinary } from '../single-binary.ts';
import { VERSION } from '../version.ts';
import { Daemon } from './daemon.ts';
import { reportStartup } from './readiness.ts';
import { DEFAULT_PIDFILE, PidfileInUseError, removePidfile, writePidfile } from './pidfile.ts';
import { reportStartupFailure } from './startup-failure.ts';
import { DEFAULT_STATUS_FILE } from './status.ts';
import { errorMessage } from '../error-message.ts';

/** What the command line says about running the daemon (cli/args.ts parses it). */
export interface DaemonArguments {
  readonly configPath: string;
  /** -n or -d: stay in the foreground. */
  readonly foreground: boolean;
  /** -d: log to stderr instead of syslog. */
  readonly logToStderr: boolean;
  readonly verbosity: LogVerbosity;
  /** --pidfile FILE (default /var/run/igmpproxy.pid). */
  readonly pidfile: string | undefined;
  /** --status-file FILE (default /var/run/igmpproxy.status). */
  readonly statusFile: string | undefined;
}

export interface RunOptions {
  readonly command: DaemonArguments;
  readonly config: DaemonConfig;
  readonly warnings: readonly ConfigDiagnostic[];
  readonly ignoredEnvironment: readonly string[];
  readonly daemonChild: boolean;
}

export async function runDaemon(options: RunOptions): Promise<number> {
  const { command } = options;
  // The kernel's comm (ps, killall, pidof, /proc/PID/comm) says igmpproxy, not MainThread.
  process.title = 'igmpproxy';
  const logger = new Logger([], command.verbosity);
  const sinks: LogSink[] = [];
  let shim: IgmpShim | undefined;
  // Not through the logger: see startup-failure.ts. One line, on stderr (or the readiness
  // pipe) and in syslog, whatever the mode.
  const fail = async (message: string): Promise<number> => {
    await reportStartupFailure([`igmpproxy: ${message}`], { daemonChild: options.daemonChild, shim });
    return 1;
  };

  try {
    shim = loadOwnShim(isSingleBinary());
  } catch (error) {
    return fail(errorMessage(error));
  }
  // A background daemon has them off from its first page already (commands.ts); run in the
  // foreground, the pages faulted from now on are small and none is collapsed later.
  keepOffHugePages(() => shim);
  if (command.logToStderr) sinks.push(new StderrSink());
  else sinks.push(new SyslogSink(shim));
  logger.setSinks(sinks);

  logger.notice(`igmpproxy ${VERSION} starting with ${path.resolve(command.configPath)}`);
  if (options.ignoredEnvironment.length > 0) {
    logger.notice(`ignored runtime environment variables: ${options.ignoredEnvironment.join(' ')}`);
  }
  for (const warning of options.warnings) logger.warning(formatDiagnostic(warning));

  const pidfile = command.pidfile ?? DEFAULT_PIDFILE;
  // The handlers go in before the pidfile names this process: the initscript and the red.up
  // hook signal that pid, and until a handler exists HUP and TERM would kill the daemon
  // half set up (a reconnect at boot). They cannot run before start-up is over: it is
  // synchronous, and a signal only reaches them from the event loop.
  let daemon: Daemon | undefined;
  let stopped = false;
  /** The daemon while it runs: undefined before start-up is over and after stop. */
  const running = (): Daemon | undefined => (stopped ? undefined : daemon);
  let finish: (code: number) => void = () => undefined;
  const finished = new Promise<number>((resolve) => {
    finish = resolve;
  });
  const stop = (signal: string): void => {
    const current = running();
    if (current === undefined) return;
    logger.notice(`${signal}: stopping; routes deleted, groups left upstream`);
    stopped = true;
    current.stop();
    removePidfile(pidfile);
    // SIGUSR1 keeps its (now idle) listener: without one its default action would
    // kill the process while it finishes.
    for (const name of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.removeAllListeners(name);
    if (sinks[0] instanceof SyslogSink) sinks[0].close();
    finish(0);
  };
  const handled = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGUSR1', 'SIGPIPE'] as const;
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    const current = running();
    if (current === undefined) return;
    logger.notice('SIGHUP: reloading the configuration');
    current.reload().catch((error: unknown) => logger.error(`reload failed: ${errorMessage(error)}`));
  });
  process.on('SIGUSR1', () => running()?.dumpStatus());
  // Broken pipes (stderr of a closed terminal) must not kill a daemon.
  process.on('SIGPIPE', () => undefined);
  const failBeforeStart = (message: string): Promise<number> => {
    for (const name of handled) process.removeAllListeners(name);
    return fail(message);
  };

  try {
    writePidfile(pidfile);
  } catch (error) {
    return failBeforeStart(
      error instanceof PidfileInUseError
        ? error.message
        : `cannot write the pidfile ${pidfile}: ${errorMessage(error)}`,
    );
  }

  try {
    daemon = Daemon.start({
      configFile: path.resolve(command.configPath),
      config: options.config,
      shim,
      logger,
      version: VERSION,
      statusFile: command.statusFile ?? DEFAULT_STATUS_FILE,
    });
  } catch (error) {
    removePidfile(pidfile);
    const message = errorMessage(error);
    // The kernel adapter explains what it knows ("cannot become the multicast router: …").
    return failBeforeStart(message.startsWith('cannot ') ? message : `cannot start: ${message}`);
  }

  // The binary turns off Node's own SIGUSR1 (its inspector), which leaves the signal
  // blocked; with the listener in place, let it through.
  shim.unblockSignal(constants.signals.SIGUSR1);
  logger.notice('started');
  if (options.daemonChild) reportStartup({ ok: true });
  return finished;
}
