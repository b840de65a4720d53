// Logging to the local syslog daemon through /dev/log (a datagram socket), as C igmpproxy
// does with openlog("igmpproxy", LOG_PID, LOG_USER/DAEMON). Messages that cannot be sent
// (syslogd restarting) are dropped, never blocking or crashing the proxy; the socket is
// reconnected on the next message after a failure.
import type { IgmpShim } from '../kernel/shim.ts';
import { formatSyslogLine } from './logger.ts';
import type { LogLevel, LogSink } from './logger.ts';

const AF_UNIX = 1;
const SOCK_DGRAM = 2;

/** The system calls the sink needs: an AF_UNIX datagram socket to /dev/log, nothing else. */
export type SyslogSocketCalls = Pick<IgmpShim, 'socket' | 'connectUnix' | 'send' | 'close'>;

export class SyslogSink implements LogSink {
  private readonly shim: SyslogSocketCalls;
  private readonly path: string;
  private readonly ident: string;
  private fd: number | undefined;

  constructor(shim: SyslogSocketCalls, path = '/dev/log', ident = 'igmpproxy') {
    this.shim = shim;
    this.path = path;
    this.ident = ident;
  }

  write(level: LogLevel, message: string, time: Date): void {
    const line = Buffer.from(formatSyslogLine(level, message, time, this.ident, process.pid));
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        if (this.fd === undefined) {
          const fd = this.shim.socket(AF_UNIX, SOCK_DGRAM, 0);
          try {
            this.shim.connectUnix(fd, this.path);
          } catch (error) {
            this.shim.close(fd);
            throw error;
          }
          this.fd = fd;
        }
        this.shim.send(this.fd, line, null, 0);
        return;
      } catch {
        this.close();
      }
    }
  }

  close(): void {
    if (this.fd === undefined) return;
    try {
      this.shim.close(this.fd);
    } catch {
      // Already closed.
    }
    this.fd = undefined;
  }
}
