import { describe, expect, it } from 'vitest';
import {
  applianceProblem,
  parsePreflight,
  SPACE_FACTOR,
  type ApplianceFacts,
} from '../../scripts/deploy/appliance-check.ts';
import { formatStatus, parseStatus, summarizeStatus } from '../../scripts/deploy/status-report.ts';
import { sampleStatus } from './helpers/sample-status.ts';

const GOOD_PREFLIGHT = [
  'release=IPFire 2.29 (x86_64) - core199',
  'pakfire=yes',
  'arch=x86_64',
  'free_tmp=25000 4096',
  'free_root=250000 4096',
  'free_staging=250000 4096',
  'lock=free',
  'installed=yes',
  'installed_version=1.0.0',
  'installed_release=100',
  '',
].join('\n');

describe('appliance check', () => {
  const facts = parsePreflight(GOOD_PREFLIGHT);
  const request = { action: 'install' as const, packageArch: 'x86_64', packageSize: 1_000_000 };

  it('parses the preflight facts', () => {
    expect(facts).toEqual({
      release: 'IPFire 2.29 (x86_64) - core199',
      hasPakfire: true,
      arch: 'x86_64',
      missingTools: [],
      freeTmp: 25000 * 4096,
      freeRoot: 250000 * 4096,
      freeStaging: 250000 * 4096,
      lockHeld: false,
      installed: { version: '1.0.0', release: '100' },
    });
    expect(applianceProblem(facts, request)).toBeNull();
  });

  const cases: [string, Partial<ApplianceFacts>, string][] = [
    ['not IPFire', { release: 'Debian GNU/Linux 12' }, 'not an IPFire appliance'],
    ['no pakfire', { hasPakfire: false }, '/opt/pakfire is missing'],
    ['missing tools', { missingTools: ['xz'] }, 'lacks xz'],
    ['other arch', { arch: 'aarch64' }, 'built for x86_64 but the appliance is aarch64'],
    ['pakfire lock', { lockHeld: true }, '/tmp/pakfire_lock'],
    ['small tmp', { freeTmp: 2_000_000 }, 'not enough free space in /opt/pakfire/tmp: 1.9 MB free, 2.9 MB needed'],
    ['small root', { freeRoot: 100 }, 'not enough free space in /:'],
    ['unknown space', { freeTmp: null }, 'cannot tell the free space in /opt/pakfire/tmp'],
  ];
  it.each(cases)('refuses: %s', (_name, change, reason) => {
    expect(applianceProblem({ ...facts, ...change }, request)).toContain(reason);
  });

  it('skips the architecture check for a package without native code', () => {
    expect(applianceProblem({ ...facts, arch: 'riscv64' }, { ...request, packageArch: null })).toBeNull();
  });

  it('asks for SPACE_FACTOR times the package size', () => {
    const exact = SPACE_FACTOR * request.packageSize;
    expect(applianceProblem({ ...facts, freeTmp: exact }, request)).toBeNull();
    expect(applianceProblem({ ...facts, freeTmp: exact - 1 }, request)).not.toBeNull();
  });

  it('reads a missing directory and an uninstalled package', () => {
    const parsed = parsePreflight(
      'release=\npakfire=no\nfree_tmp=missing\ninstalled=no\nmissing_tool=xz\nmissing_tool=tar\n',
    );
    expect(parsed.freeTmp).toBeNull();
    expect(parsed.installed).toBeNull();
    expect(parsed.missingTools).toEqual(['xz', 'tar']);
    expect(applianceProblem(parsed, request)).toContain('"missing"');
  });
});

const RUNNING = [
  '@@section service',
  'igmpproxy is running with Process ID(s) 4242.',
  '@@rc 0',
  '@@section meta',
  'Name: igmpproxy',
  'ProgVersion: 1.2.0',
  'Release: 101',
  '@@section daemon',
  '@@fresh',
  '@@section statusfile',
  JSON.stringify(sampleStatus('1.2.0')),
  '@@section iptvinput',
  '-N IPTVINPUT',
  '-A IPTVINPUT -j IGMPPROXY_IN',
  '@@rc 0',
  '@@section iptvforward',
  '-N IPTVFORWARD',
  '@@rc 0',
  '',
].join('\n');

describe('status report', () => {
  it('reads service state, version, groups, routes and firewall hooks', () => {
    const report = parseStatus(RUNNING, 'igmpproxy');
    expect(report.service.state).toBe('running');
    expect(report.installed).toEqual({ version: '1.2.0', release: '101' });
    expect(report.daemon).toEqual({
      kind: 'ok',
      fresh: true,
      groups: ['239.35.10.4 on green0: 1 host(s) 192.168.0.100'],
      routes: ['(10.1.2.3, 239.35.10.4) ppp0 -> green0: 1234 packets'],
    });
    expect(report.firewall).toEqual({ input: true, forward: false });
    expect(summarizeStatus(report)).toBe('1.2.0-101, service running, 1 groups, firewall hooks missing');
    expect(formatStatus(report)).toContain('firewall IPTVFORWARD -> IGMPPROXY_FWD: NOT in place');
  });

  it("shows IPFire's coloured statusproc line as plain text, without any escape sequence", () => {
    // As IPFire's statusproc prints it: echo -e "${INFO}... ${NORMAL}" (test/fixtures/ipfire/functions).
    const coloured = RUNNING.replace(
      'igmpproxy is running with Process ID(s) 4242.',
      '\x1b[1;36migmpproxy is running with Process ID(s) 4242.\x1b[0;39m\x1b]0;title\x07',
    );
    const report = parseStatus(coloured, 'igmpproxy');
    expect(report.service).toEqual({
      state: 'running',
      text: 'igmpproxy is running with Process ID(s) 4242. ]0;title',
    });
    expect(formatStatus(report)).toContain('service: running (igmpproxy is running with Process ID(s) 4242. ]0;title)');
    expect(formatStatus(report).join('\n')).not.toContain('\x1b');
  });

  it('is tolerant: no initscript, no pid, no status file, no chains', () => {
    const report = parseStatus(
      [
        '@@section service',
        '@@missing /etc/rc.d/init.d/igmpproxy',
        '@@section meta',
        '@@section daemon',
        '@@nopid /var/run/igmpproxy.pid',
        '@@section statusfile',
        '@@absent /var/run/igmpproxy.status',
        '@@section iptvinput',
        'iptables: No chain/target/match by that name.',
        '@@rc 1',
      ].join('\n'),
      'igmpproxy',
    );
    expect(report.service.state).toBe('missing');
    expect(report.installed).toBeNull();
    expect(report.daemon).toEqual({
      kind: 'unavailable',
      reason: 'the daemon is not running (no pid in /var/run/igmpproxy.pid)',
    });
    expect(report.firewall).toEqual({ input: null, forward: null });
  });

  it('says when the status file is not JSON or the daemon is stopped', () => {
    const broken = RUNNING.replace(/\{"schema".*\n/, 'garbage\n');
    expect(parseStatus(broken, 'igmpproxy').daemon).toEqual({
      kind: 'unavailable',
      reason: 'the status file of igmpproxy is not valid JSON',
    });
    const newer = RUNNING.replace('{"schema":1,', '{"schema":2,');
    expect(newer).not.toBe(RUNNING);
    expect(parseStatus(newer, 'igmpproxy').daemon).toEqual({
      kind: 'unavailable',
      reason: 'the status file of igmpproxy has format schema 2; this deploy tool reads schema 1 (update the tool)',
    });
    const stopped = RUNNING.replace('igmpproxy is running with Process ID(s) 4242.', 'igmpproxy is not running.');
    expect(parseStatus(stopped, 'igmpproxy').service.state).toBe('stopped');
  });
});
