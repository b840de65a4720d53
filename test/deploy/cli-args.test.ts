import { describe, expect, it } from 'vitest';
import { parseDeployArgs } from '../../scripts/deploy/cli-args.ts';
import { parseHostsFile, parseTarget, targetLabel } from '../../scripts/deploy/targets.ts';

describe('parseDeployArgs', () => {
  it('defaults to install with port 22, parallel 4 and the default known_hosts', () => {
    const result = parseDeployArgs(['fw.example.net']);
    expect(result.kind).toBe('run');
    if (result.kind !== 'run') return;
    expect(result.options).toMatchObject({
      action: 'install',
      targets: ['fw.example.net'],
      port: 22,
      parallel: 4,
      knownHostsFile: null,
      acceptNew: false,
      connectTimeoutMs: 20_000,
      commandTimeoutMs: 300_000,
    });
  });

  it('reads every option in both spellings', () => {
    const result = parseDeployArgs([
      '--status',
      '-p',
      '222',
      '--identity=/k',
      '--known-hosts',
      '/kh',
      '--accept-new',
      '--hosts',
      '/h',
      '--parallel=2',
      '--connect-timeout',
      '5',
      '--command-timeout=1.5',
      'a',
      'b',
    ]);
    expect(result.kind).toBe('run');
    if (result.kind !== 'run') return;
    expect(result.options).toMatchObject({
      action: 'status',
      port: 222,
      identityFile: '/k',
      knownHostsFile: '/kh',
      acceptNew: true,
      hostsFile: '/h',
      parallel: 2,
      connectTimeoutMs: 5000,
      commandTimeoutMs: 1500,
      targets: ['a', 'b'],
    });
  });

  it.each([
    [[], 'no target'],
    [['--port', '0', 'h'], '--port'],
    [['--port', '70000', 'h'], '--port'],
    [['--parallel', '0', 'h'], '--parallel'],
    [['--status', '--uninstall', 'h'], 'exclude'],
    [['--bogus', 'h'], 'unknown option'],
    [['--password', 'secret', 'h'], 'never taken from the command line'],
    [['--identity'], 'needs a value'],
    [['--accept-new=yes', 'h'], 'takes no value'],
    [['--connect-timeout', 'soon', 'h'], '--connect-timeout'],
    [['--status', '--package', 'x', 'h'], 'needs no package'],
  ])('%j is a usage error mentioning %s', (argv, fragment) => {
    const result = parseDeployArgs(argv);
    expect(result.kind).toBe('usage-error');
    if (result.kind === 'usage-error') expect(result.reason).toContain(fragment);
  });

  it('treats words after -- as targets', () => {
    const result = parseDeployArgs(['--', '--status']);
    expect(result.kind === 'run' && result.options.targets).toEqual(['--status']);
  });
});

describe('targets', () => {
  it.each([
    ['fw', { user: 'root', host: 'fw', port: null }],
    ['admin@FW.Example.net:222', { user: 'admin', host: 'fw.example.net', port: 222 }],
    ['192.0.2.1:22', { user: 'root', host: '192.0.2.1', port: 22 }],
    ['root@[2001:db8::1]:222', { user: 'root', host: '2001:db8::1', port: 222 }],
    ['2001:db8::1', { user: 'root', host: '2001:db8::1', port: null }],
  ])('parses %s', (text, expected) => {
    expect(parseTarget(text)).toEqual({ ok: true, value: expected });
  });

  it.each([
    'host name',
    "fw'x",
    'fw;reboot',
    '$(reboot)',
    '`id`',
    'fw\nx',
    'fw:0',
    'fw:99999',
    'bad user@fw',
    '@fw',
    'fw:',
    '-oProxyCommand=x',
  ])('rejects hostile or broken target %j', (text) => {
    const result = parseTarget(text);
    expect(result.ok).toBe(false);
  });

  it('reads a hosts file with comments and blank lines and names the bad line', () => {
    expect(parseHostsFile('# appliances\nfw1\n\n  admin@fw2:222  # office\r\n', 'hosts')).toEqual({
      ok: true,
      value: [
        { user: 'root', host: 'fw1', port: null },
        { user: 'admin', host: 'fw2', port: 222 },
      ],
    });
    expect(parseHostsFile('fw1\nfw 2\n', 'hosts')).toEqual({
      ok: false,
      reason: 'hosts line 2: bad target "fw 2": invalid host name',
    });
  });

  it('labels targets with the effective port', () => {
    expect(targetLabel({ user: 'root', host: '2001:db8::1', port: null }, 222)).toBe('root@[2001:db8::1]:222');
  });
});
