import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPackage, OWNED_DIRECTORIES, type PackageFiles } from '../../build/package.ts';
import { FIXTURES } from './appliance.ts';

const EPOCH = 1_700_000_000;
const STANDIN_BINARY = path.join(FIXTURES, 'igmpproxy-standin');

interface Member {
  readonly mode: string;
  readonly owner: string;
  readonly size: number;
  readonly mtime: string;
  readonly name: string;
}

/** GNU tar's own reading of an archive: `tar --numeric-owner --full-time -tvf`. */
function gnuTarList(archive: string, compressed = false): Member[] {
  const args = ['--numeric-owner', '--full-time', `-tv${compressed ? 'J' : ''}f`, archive];
  const result = spawnSync('tar', args, { encoding: 'utf8', env: { ...process.env, TZ: 'UTC' } });
  if (result.status !== 0) throw new Error(`tar ${args.join(' ')}: ${result.stderr}`);
  return result.stdout
    .trim()
    .split('\n')
    .map((line) => {
      const match = /^(\S+) (\S+)\s+(\d+) (\S+ \S+) (.+)$/.exec(line);
      if (!match) throw new Error(`unexpected tar line: ${line}`);
      return { mode: match[1]!, owner: match[2]!, size: Number(match[3]), mtime: match[4]!, name: match[5]! };
    });
}

function untar(archive: string, into: string, compressed = false): void {
  const result = spawnSync('tar', [`-x${compressed ? 'J' : ''}f`, archive, '-C', into], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`untar ${archive}: ${result.stderr}`);
}

/** The ustar magic and version of every header block of an uncompressed tar. */
function headerMagics(tar: Buffer): string[] {
  const magics: string[] = [];
  let offset = 0;
  while (offset + 512 <= tar.length) {
    const block = tar.subarray(offset, offset + 512);
    if (block.every((byte) => byte === 0)) break;
    magics.push(block.subarray(257, 265).toString('latin1'));
    const size = parseInt(block.subarray(124, 136).toString('latin1').replace(/\0.*$/, '').trim() || '0', 8);
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return magics;
}

describe('buildPackage', () => {
  let work = '';
  let first: PackageFiles;
  let second: PackageFiles;
  let unpacked = '';

  beforeAll(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'ipp6-package-'));
    const options = {
      arch: 'x86_64' as const,
      binary: STANDIN_BINARY,
      version: '1.0.0',
      release: 100,
      sourceDateEpoch: EPOCH,
    };
    first = await buildPackage({ ...options, outDir: path.join(work, 'one') });
    second = await buildPackage({ ...options, outDir: path.join(work, 'two') });
    unpacked = path.join(work, 'unpacked');
    spawnSync('mkdir', ['-p', path.join(unpacked, 'payload')]);
    untar(first.ipfire, unpacked);
    untar(path.join(unpacked, 'files.tar.xz'), path.join(unpacked, 'payload'), true);
  }, 60_000);

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('names the files NAME-VERSION-RELEASE.ipfire and meta-NAME', () => {
    expect(path.basename(first.ipfire)).toBe('igmpproxy-1.0.0-100.ipfire');
    expect(path.basename(first.meta)).toBe('meta-igmpproxy');
  });

  it('is byte-identical when built twice from the same inputs', async () => {
    expect((await readFile(second.ipfire)).equals(await readFile(first.ipfire))).toBe(true);
    expect((await readFile(second.meta)).equals(await readFile(first.meta))).toBe(true);
  });

  it('changes when the epoch changes (the mtime really comes from it)', async () => {
    const other = await buildPackage({
      arch: 'x86_64',
      binary: STANDIN_BINARY,
      outDir: path.join(work, 'three'),
      version: '1.0.0',
      release: 100,
      sourceDateEpoch: EPOCH + 1,
    });
    expect((await readFile(other.ipfire)).equals(await readFile(first.ipfire))).toBe(false);
  });

  it('is an uncompressed POSIX tar with exactly the five Pakfire members, root-owned, fixed mtime', async () => {
    const bytes = await readFile(first.ipfire);
    expect(bytes.subarray(0, 6).toString('latin1')).not.toMatch(/^\xfd7zXZ/);
    expect(new Set(headerMagics(bytes))).toEqual(new Set(['ustar\u000000']));
    const members = gnuTarList(first.ipfire);
    expect(members.map((m) => [m.name, m.mode, m.owner])).toEqual([
      ['ROOTFILES', '-rw-r--r--', '0/0'],
      ['files.tar.xz', '-rw-r--r--', '0/0'],
      ['install.sh', '-rwxr--r--', '0/0'],
      ['uninstall.sh', '-rwxr--r--', '0/0'],
      ['update.sh', '-rwxr--r--', '0/0'],
    ]);
    for (const member of members) expect(member.mtime).toBe('2023-11-14 22:13:20');
  });

  it('has a payload with final modes, owner 0/0, no leading / or ./, parents before children', async () => {
    const payload = gnuTarList(path.join(unpacked, 'files.tar.xz'), true);
    const files = payload.filter((m) => !m.mode.startsWith('d'));
    expect(files.map((m) => [m.name, m.mode])).toEqual([
      ['etc/rc.d/init.d/igmpproxy', '-rwxr-xr--'],
      ['etc/rc.d/init.d/networking/red.up/15-igmpproxy', '-rwxr-xr--'],
      ['srv/web/ipfire/cgi-bin/igmpproxy.cgi', '-rwxr-xr-x'],
      ['usr/lib/igmpproxy/firewall', '-rwxr-xr-x'],
      ['usr/sbin/igmpproxy', '-rwxr-xr-x'],
      ['usr/share/igmpproxy/igmpproxy.conf.default', '-rw-r--r--'],
      ['var/ipfire/addon-lang/igmpproxy.de.pl', '-rw-r--r--'],
      ['var/ipfire/addon-lang/igmpproxy.en.pl', '-rw-r--r--'],
      ['var/ipfire/backup/addons/includes/igmpproxy', '-rw-r--r--'],
      ['var/ipfire/menu.d/EX-igmpproxy.menu', '-rw-r--r--'],
    ]);
    for (const member of payload) {
      expect(member.owner, member.name).toBe('0/0');
      expect(member.mtime, member.name).toBe('2023-11-14 22:13:20');
      expect(member.name, member.name).not.toMatch(/^\.?\//);
      if (member.mode.startsWith('d')) expect(member.mode, member.name).toBe('drwxr-xr-x');
    }
    const names = payload.map((m) => m.name.replace(/\/$/, ''));
    for (const [index, name] of names.entries()) {
      const parent = path.posix.dirname(name);
      if (parent !== '.') expect(names.indexOf(parent), name).toBeLessThan(index);
    }
    // Never the admin's files.
    expect(names).not.toContain('etc/igmpproxy.conf');
    expect(names).not.toContain('etc/sysconfig/firewall.local');
  });

  it('xz-compresses the payload in a single stream that xz verifies', () => {
    const result = spawnSync('xz', ['-t', '-v', path.join(unpacked, 'files.tar.xz')], { encoding: 'utf8' });
    expect(result.status).toBe(0);
  });

  it('lists in ROOTFILES exactly the payload files plus the directories only we use', async () => {
    const rootfiles = (await readFile(path.join(unpacked, 'ROOTFILES'), 'utf8')).split('\n');
    expect(rootfiles.pop()).toBe('');
    const payload = gnuTarList(path.join(unpacked, 'files.tar.xz'), true);
    const payloadFiles = payload.filter((m) => !m.mode.startsWith('d')).map((m) => m.name);
    const payloadDirs = payload.filter((m) => m.mode.startsWith('d')).map((m) => m.name.replace(/\/$/, ''));
    expect(rootfiles).toEqual([...payloadFiles, ...OWNED_DIRECTORIES].sort());
    expect(rootfiles).toEqual([...rootfiles].sort());
    for (const line of rootfiles) {
      expect(line).not.toMatch(/^\/|^#|\s/);
      if (payloadDirs.includes(line)) {
        // An owned directory holds only our files.
        expect(
          payload
            .filter((m) => m.name.startsWith(`${line}/`) && m.name !== `${line}/`)
            .every((m) => rootfiles.includes(m.name)),
        ).toBe(true);
      }
    }
    for (const shared of [
      'etc',
      'etc/rc.d/init.d',
      'usr/sbin',
      'usr/lib',
      'usr/share',
      'var/ipfire/backup/addons/includes',
    ]) {
      expect(rootfiles).not.toContain(shared);
    }
  });

  it('ships the binary, the default config and the backup include unchanged', async () => {
    const payload = path.join(unpacked, 'payload');
    expect((await readFile(path.join(payload, 'usr/sbin/igmpproxy'))).equals(await readFile(STANDIN_BINARY))).toBe(
      true,
    );
    const shipped = await readFile(path.join(payload, 'usr/share/igmpproxy/igmpproxy.conf.default'));
    expect(shipped.equals(await readFile(path.resolve(FIXTURES, '../../../addon/etc/igmpproxy.conf')))).toBe(true);
    expect(await readFile(path.join(payload, 'var/ipfire/backup/addons/includes/igmpproxy'), 'utf8')).toBe(
      '/etc/igmpproxy.conf\n/var/ipfire/igmpproxy/settings\n',
    );
  });

  it("writes the meta file IPFire's way, Size being the bytes of the .ipfire", async () => {
    const meta = await readFile(first.meta, 'utf8');
    const size = (await stat(first.ipfire)).size;
    const pkg = JSON.parse(await readFile(path.resolve(FIXTURES, '../../../package.json'), 'utf8')) as {
      ipfire: { summary: string };
    };
    expect(meta).toBe(
      [
        'Name: igmpproxy',
        `Summary: ${pkg.ipfire.summary}`,
        'ProgVersion: 1.0.0',
        'Release: 100',
        `Size: ${size}`,
        'Dependencies: ',
        'File: igmpproxy-1.0.0-100.ipfire',
        'Services: igmpproxy',
        '',
      ].join('\n'),
    );
    // Pakfire's parser: split each line on ": ", keep the value when there is one.
    const parsed = Object.fromEntries(
      meta
        .split('\n')
        .map((l) => l.split(': '))
        .filter((p) => p[1] !== undefined && p[1] !== '')
        .map((p) => [p[0], p[1]]),
    );
    expect(parsed).toMatchObject({ Name: 'igmpproxy', ProgVersion: '1.0.0', Release: '100', Services: 'igmpproxy' });
  });

  it("refuses a release not above the official add-on's 7, and a version unusable in a file name", async () => {
    const base = {
      arch: 'x86_64' as const,
      binary: STANDIN_BINARY,
      outDir: path.join(work, 'bad'),
      sourceDateEpoch: EPOCH,
    };
    await expect(buildPackage({ ...base, version: '1.0.0', release: 7 })).rejects.toThrow(/above 7/);
    await expect(buildPackage({ ...base, version: '1.0 0', release: 100 })).rejects.toThrow(/version/);
  });
});
