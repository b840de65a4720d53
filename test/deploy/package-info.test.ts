import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { elfArchitecture, loadLocalPackage, parseMeta } from '../../scripts/deploy/package-info.ts';
import { lineProgress, milestonesReached, renderBar } from '../../scripts/deploy/progress.ts';
import { runBounded, settleHost, summaryLines } from '../../scripts/deploy/runner.ts';
import { buildStandinPackage } from '../package/appliance.ts';

const work = mkdtempSync(path.join(tmpdir(), 'ipd7-pkginfo-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const HOST_ARCH = process.arch === 'arm64' ? 'aarch64' : 'x86_64';

describe('meta file', () => {
  it('reads the pakfire fields', () => {
    expect(
      parseMeta(
        'Name: igmpproxy\nSummary: x\nProgVersion: 1.0.0\nRelease: 100\nSize: 123\nDependencies: \nFile: igmpproxy-1.0.0-100.ipfire\n',
        'm',
      ),
    ).toEqual({ name: 'igmpproxy', version: '1.0.0', release: '100', size: 123, file: 'igmpproxy-1.0.0-100.ipfire' });
  });

  it.each([
    ['Name: igmp proxy\nProgVersion: 1\nRelease: 1\nSize: 1\nFile: a.ipfire', 'Name'],
    ['Name: x\nVersion: 1\nRelease: 1\nSize: 1\nFile: a.ipfire', 'no ProgVersion'],
    ['Name: x\nProgVersion: 1\nRelease: 1\nSize: 1\nFile: ../a.ipfire', 'File'],
    ['Name: x;reboot\nProgVersion: 1\nRelease: 1\nSize: 1\nFile: a.ipfire', 'Name'],
  ])('refuses %j', (text, fragment) => {
    expect(() => parseMeta(text, 'm')).toThrow(fragment);
  });
});

describe('ELF architecture', () => {
  it('reads e_machine of real binaries and ignores non-ELF data', () => {
    expect(elfArchitecture(readFileSync('/usr/bin/true'))).toBe(HOST_ARCH);
    const patched = Buffer.from(readFileSync('/usr/bin/true'));
    patched.writeUInt16LE(0xb7, 18);
    expect(elfArchitecture(patched)).toBe('aarch64');
    expect(elfArchitecture(Buffer.from('#!/bin/sh\necho not an elf file\n'))).toBeNull();
  });
});

describe('loadLocalPackage', () => {
  it('checks size, members and architecture and hashes both files', async () => {
    // The build's package (build/package.ts) whose binary's ELF header names aarch64.
    const elf = Buffer.from(readFileSync('/usr/bin/true'));
    elf.writeUInt16LE(0xb7, 18);
    writeFileSync(path.join(work, 'aarch64-binary'), elf);
    const built = await buildStandinPackage(path.join(work, 'ok'), {
      arch: 'aarch64',
      version: '2.0.0',
      binary: path.join(work, 'aarch64-binary'),
    });
    const pkg = await loadLocalPackage({ packageFile: null, metaFile: built.meta, defaultName: 'igmpproxy' });
    expect(pkg.packageFile).toBe(built.ipfire);
    expect(pkg.arch).toBe('aarch64');
    expect(pkg.meta.version).toBe('2.0.0');
    const sha = spawnSync('sha256sum', [built.ipfire], { encoding: 'utf8' }).stdout.slice(0, 64);
    expect(pkg.sha256).toBe(sha);
  });

  it('calls a package without ELF files free of native code (arch null)', async () => {
    // The package tests' stand-in daemon is a script.
    const built = await buildStandinPackage(path.join(work, 'noarch'), { version: '2.0.1' });
    const pkg = await loadLocalPackage({ packageFile: null, metaFile: built.meta, defaultName: 'igmpproxy' });
    expect(pkg.arch).toBeNull();
  });

  it('refuses a meta file whose Size does not match, and a tar without the pakfire members', async () => {
    const built = await buildStandinPackage(path.join(work, 'bad'), { version: '2.0.0' });
    writeFileSync(built.meta, readFileSync(built.meta, 'utf8').replace(/Size: \d+/, 'Size: 5'));
    await expect(
      loadLocalPackage({ packageFile: null, metaFile: built.meta, defaultName: 'igmpproxy' }),
    ).rejects.toThrow('do not belong together');
    const notPak = path.join(work, 'bad', 'other.ipfire');
    spawnSync('tar', ['-cf', notPak, '-C', path.join(work, 'bad'), 'meta-igmpproxy']);
    const size = readFileSync(notPak).length;
    writeFileSync(built.meta, readFileSync(built.meta, 'utf8').replace(/Size: \d+/, `Size: ${size}`));
    await expect(
      loadLocalPackage({ packageFile: notPak, metaFile: built.meta, defaultName: 'igmpproxy' }),
    ).rejects.toThrow('not a pakfire package: install.sh, uninstall.sh, update.sh, ROOTFILES, files.tar.xz missing');
  });

  it('takes the meta file next to a lone --package, and says to pass --meta when there is none', async () => {
    const built = await buildStandinPackage(path.join(work, 'lone'), { version: '2.0.2' });
    const pkg = await loadLocalPackage({ packageFile: built.ipfire, metaFile: null, defaultName: 'igmpproxy' });
    expect(pkg.metaFile).toBe(built.meta);
    rmSync(built.meta);
    await expect(
      loadLocalPackage({ packageFile: built.ipfire, metaFile: null, defaultName: 'igmpproxy' }),
    ).rejects.toThrow(`cannot read the meta file ${built.meta}: ENOENT (pass it with --meta)`);
  });
});

describe('progress and runner', () => {
  it('renders a bar and plain milestones', () => {
    expect(renderBar('x', 5 * 1_048_576, 10 * 1_048_576, 1000, 10)).toBe('x [#####.....]  50% 5.0/10.0 MB 5.0 MB/s');
    expect(milestonesReached(60, 100)).toEqual([25, 50]);
    const lines: string[] = [];
    const sink = lineProgress('up', (line) => lines.push(line));
    for (const done of [1, 3_000_000, 3_100_000, 4_000_000]) sink.update(done, 4_000_000);
    expect(lines).toEqual([
      'up 25% (2.9/3.8 MB)',
      'up 50% (2.9/3.8 MB)',
      'up 75% (2.9/3.8 MB)',
      'up 100% (3.8/3.8 MB)',
    ]);
  });

  it('never runs more jobs at once than the limit and keeps the order', async () => {
    let running = 0;
    let peak = 0;
    const results = await runBounded([1, 2, 3, 4, 5, 6, 7], 3, async (item) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((resolve) => setTimeout(resolve, 10 + (item % 3) * 5));
      running--;
      return item * 10;
    });
    expect(results).toEqual([10, 20, 30, 40, 50, 60, 70]);
    expect(peak).toBe(3);
  });

  it('turns failures into one summary line each', async () => {
    const failures: string[] = [];
    const outcomes = [
      await settleHost(
        'root@a:22',
        (reason) => failures.push(reason),
        async () => 'installed 1.0.0-100',
      ),
      await settleHost(
        'root@bb:222',
        (reason) => failures.push(reason),
        async () => {
          throw new Error('refused\nsecond line');
        },
      ),
    ];
    expect(failures).toEqual(['refused']);
    expect(summaryLines(outcomes)).toEqual([
      'root@a:22    OK      installed 1.0.0-100',
      'root@bb:222  FAILED  refused',
    ]);
  });
});
