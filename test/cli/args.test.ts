import { describe, expect, it } from 'vitest';
import { parseArgs } from '../../addon/daemon/cli/args.ts';

describe('igmpproxy command line (C igmpproxy compatible)', () => {
  it('runs as a daemon with warnings only by default', () => {
    expect(parseArgs(['/etc/igmpproxy.conf'])).toEqual({
      kind: 'run',
      configPath: '/etc/igmpproxy.conf',
      foreground: false,
      logToStderr: false,
      verbosity: 0,
      pidfile: undefined,
      statusFile: undefined,
    });
  });

  it('--pidfile and --status-file take a value (several instances, tests)', () => {
    expect(parseArgs(['-n', '--pidfile', '/run/a.pid', '--status-file', '/run/a.json', 'c.conf'])).toMatchObject({
      kind: 'run',
      pidfile: '/run/a.pid',
      statusFile: '/run/a.json',
      configPath: 'c.conf',
    });
    expect(parseArgs(['c.conf', '--pidfile'])).toEqual({ kind: 'usage-error', message: '--pidfile needs a file name' });
  });

  it('-n stays in the foreground, -d also logs to stderr', () => {
    expect(parseArgs(['-n', 'c.conf'])).toMatchObject({ foreground: true, logToStderr: false });
    expect(parseArgs(['-d', 'c.conf'])).toMatchObject({ foreground: true, logToStderr: true });
  });

  it('-v is info, -v -v and bundled -dvv are debug', () => {
    expect(parseArgs(['-v', 'c.conf'])).toMatchObject({ verbosity: 1 });
    expect(parseArgs(['-v', '-v', 'c.conf'])).toMatchObject({ verbosity: 2 });
    expect(parseArgs(['-dvv', 'c.conf'])).toMatchObject({ verbosity: 2, logToStderr: true, foreground: true });
    expect(parseArgs(['-vvv', 'c.conf'])).toMatchObject({ verbosity: 2 });
  });

  it('-h wins over everything, like getopt processing it first', () => {
    expect(parseArgs(['-h'])).toEqual({ kind: 'help' });
    expect(parseArgs(['-nh', 'c.conf'])).toEqual({ kind: 'help' });
  });

  it('refuses a missing or extra config path and unknown options with a one-line reason', () => {
    expect(parseArgs([])).toEqual({ kind: 'usage-error', message: 'You must specify the configuration file.' });
    expect(parseArgs(['a', 'b'])).toMatchObject({ kind: 'usage-error' });
    expect(parseArgs(['-x', 'c.conf'])).toEqual({ kind: 'usage-error', message: "unknown option '-x'" });
    expect(parseArgs(['--bogus\u001b[2J'])).toEqual({ kind: 'usage-error', message: "unknown option '--bogus?[2J'" });
  });

  it('--check, --version and --list-interfaces', () => {
    expect(parseArgs(['--check', 'c.conf'])).toEqual({ kind: 'check', configPath: 'c.conf' });
    expect(parseArgs(['--version'])).toEqual({ kind: 'version' });
    expect(parseArgs(['--list-interfaces', 'upstream', 'c.conf'])).toEqual({
      kind: 'list-interfaces',
      role: 'upstream',
      configPath: 'c.conf',
    });
    expect(parseArgs(['--list-interfaces', 'all', 'c.conf'])).toEqual({
      kind: 'list-interfaces',
      role: 'all',
      configPath: 'c.conf',
    });
    expect(parseArgs(['--list-interfaces', 'sideways', 'c.conf'])).toMatchObject({ kind: 'usage-error' });
  });

  it('a config path starting with a dash is reachable after --', () => {
    expect(parseArgs(['-n', '--', '-odd.conf'])).toMatchObject({ kind: 'run', configPath: '-odd.conf' });
  });
});

describe('igmpproxy setup arguments', () => {
  it.each([
    [[], { root: '/', provider: 'telekom', lan: ['green'], write: false }],
    [['--write'], { root: '/', provider: 'telekom', lan: ['green'], write: true }],
    [
      ['--root', '/mnt/img', '--provider', 'generic', '--lan', 'green,blue'],
      { root: '/mnt/img', provider: 'generic', lan: ['green', 'blue'], write: false },
    ],
  ])('setup %j', (args, expected) => {
    expect(parseArgs(['setup', ...args])).toEqual({ kind: 'setup', ...expected });
  });

  it('only as the first word: elsewhere "setup" is still a config file name', () => {
    expect(parseArgs(['-n', 'setup'])).toMatchObject({ kind: 'run', configPath: 'setup' });
  });

  it.each([
    [['--lan', 'blue,green'], /--lan is green or green,blue/],
    [['--provider'], /--provider needs a value/],
    [['-n'], /unknown argument '-n'/],
  ])('refuses setup %j', (args, message) => {
    const command = parseArgs(['setup', ...args]);
    expect(command.kind).toBe('usage-error');
    expect(command.kind === 'usage-error' && command.message).toMatch(message);
  });
});
