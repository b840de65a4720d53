import { describe, expect, it } from 'vitest';
import { Logger, MemorySink, formatStderrLine, formatSyslogLine, type LogSink } from '../../addon/daemon/log/logger.ts';

describe('logger', () => {
  it('shows warnings and notices by default, info with -v, debug with -vv', () => {
    const sink = new MemorySink();
    const logger = new Logger([sink], 0);
    logger.debug('d');
    logger.info('i');
    logger.notice('n');
    logger.warning('w');
    logger.error('e');
    expect(sink.lines.map((l) => l.message)).toEqual(['n', 'w', 'e']);
    logger.setVerbosity(1);
    logger.info('i2');
    logger.debug('d2');
    logger.setVerbosity(2);
    logger.debug('d3');
    expect(sink.lines.map((l) => l.message)).toEqual(['n', 'w', 'e', 'i2', 'd3']);
  });

  it('a throwing sink does not stop the others', () => {
    const broken: LogSink = {
      write() {
        throw new Error('EPIPE');
      },
    };
    const sink = new MemorySink();
    const logger = new Logger([broken, sink], 0);
    logger.warning('still here');
    expect(sink.lines).toEqual([{ level: 'warning', message: 'still here' }]);
  });

  it('formats syslog lines with facility daemon and the pid, control characters replaced', () => {
    const time = new Date(2026, 0, 5, 7, 8, 9);
    expect(formatSyslogLine('warning', 'bad\niface', time, 'igmpproxy', 42)).toBe(
      '<28>Jan  5 07:08:09 igmpproxy[42]: bad?iface',
    );
    expect(formatSyslogLine('debug', 'x', time, 'igmpproxy', 1)).toMatch(/^<31>/);
    expect(formatStderrLine('info', 'hello', time)).toBe('07:08:09.000 info    hello');
  });
});
