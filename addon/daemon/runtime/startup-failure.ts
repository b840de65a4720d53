// How a start-up failure reaches the administrator, in every mode: its line(s) on stderr
// (the background copy hands them through the readiness pipe to the foreground process,
// which prints them: what the initscript shows) AND the same lines in syslog.
//
// Deliberately not through the Logger: until the shim is loaded the logger has no sinks,
// and with -d its only sink is stderr, so a failure logged there was lost — `igmpproxy -d`
// exited 1 printing nothing when the shim could not be loaded.
import { existsSync } from 'node:fs';
import type { IgmpShim } from '../kernel/shim.ts';
import { sanitizeLogText } from '../log/logger.ts';
import { SyslogSink } from '../log/syslog-sink.ts';
import { reportStartup } from './readiness.ts';

/** util-linux logger(1), for syslog without the shim (IPFire: /usr/bin/logger). */
const LOGGER_PROGRAMS = ['/usr/bin/logger', '/bin/logger'];
const PREFIX = 'igmpproxy: ';

export interface StartupFailureContext {
  /** This process is the background copy: stderr goes nowhere, the pipe to the foreground does. */
  readonly daemonChild: boolean;
  /** The loaded shim sends to /dev/log itself; without it logger(1) does. */
  readonly shim?: IgmpShim | undefined;
}

/**
 * Reports lines (each complete: "igmpproxy: …" or a configuration "file:line:col: error: …")
 * to stderr or the readiness pipe, and to syslog at LOG_ERR. Never throws.
 */
export async function reportStartupFailure(lines: readonly string[], context: StartupFailureContext): Promise<void> {
  for (const line of lines) toSyslog(line.startsWith(PREFIX) ? line.slice(PREFIX.length) : line, context.shim);
  const text = lines.join('\n');
  if (context.daemonChild) reportStartup({ ok: false, message: text });
  else process.stderr.write(`${text}\n`);
}

function toSyslog(message: string, shim: IgmpShim | undefined): void {
  if (shim !== undefined) {
    const sink = new SyslogSink(shim);
    sink.write('error', message, new Date());
    sink.close();
    return;
  }
  const program = LOGGER_PROGRAMS.find((file) => existsSync(file));
  if (program === undefined) return;
  // An argument vector, no shell: the message may hold anything from the configuration.
  // node:child_process is loaded only here: a daemon that started never needs it (~0.5 MB).
  const { spawnSync } = process.getBuiltinModule('node:child_process');
  spawnSync(program, ['-t', `igmpproxy[${process.pid}]`, '-p', 'daemon.err', '--', sanitizeLogText(message)], {
    stdio: 'ignore',
    env: { LC_ALL: 'C' },
    timeout: 5_000,
  });
}
