// The aarch64 test VM's pure parts: the root's mmdebstrap command and cache directory,
// which busybox applets become links, which kernel it boots, the qemu command line, and
// the ELF check of the shipped binary. (The boot itself is `npm run test:aarch64`.)
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  busyboxLinks,
  DEBIAN_SOURCES,
  EM_AARCH64,
  elfMachine,
  findAarch64Kernel,
  mmdebstrapArguments,
  ROOT_PACKAGES,
  rootDirectory,
} from '../../scripts/vm/aarch64.ts';
import { qemuArguments } from '../../scripts/vm/qemu.ts';

describe('the aarch64 root', () => {
  it('is extracted by mmdebstrap for arm64 from Debian with the kernel and the test tools', () => {
    const args = mmdebstrapArguments('/cache/root.partial');
    expect(args.slice(0, 2)).toEqual(['--variant=extract', '--arch=arm64']);
    const include = args
      .find((arg) => arg.startsWith('--include='))
      ?.slice('--include='.length)
      .split(',');
    expect(include).toEqual(ROOT_PACKAGES);
    expect(include).toEqual(
      expect.arrayContaining(['linux-image-arm64', 'busybox-static', 'iproute2', 'python3-minimal']),
    );
    expect(args.slice(-5)).toEqual(['bookworm', '/cache/root.partial', ...DEBIAN_SOURCES]);
    // Debian's current kernels are in the security suite.
    expect(DEBIAN_SOURCES).toContain('deb http://deb.debian.org/debian-security bookworm-security main');
  });

  it('is cached in one directory per content, under the cache directory', () => {
    expect(rootDirectory('/c')).toMatch(/^\/c\/root-[0-9a-f]{12}$/);
    expect(rootDirectory('/c')).toBe(rootDirectory('/c'));
  });

  it('gets busybox applet links only where no package provides the command', () => {
    const listFull = [
      'bin/sh',
      'bin/ip',
      'sbin/ip',
      'usr/bin/awk',
      'bin/mount',
      'usr/sbin/chroot',
      'bin/busybox',
      '../etc/evil',
      '/bin/abs',
      'bin//x',
      '',
    ].join('\n');
    const provided = new Set(['bin/ip', 'usr/bin/mount']); // iproute2's ip, util-linux's mount
    expect(busyboxLinks(listFull, (file) => provided.has(file))).toEqual(['bin/sh', 'usr/bin/awk', 'usr/sbin/chroot']);
  });
});

describe('the aarch64 kernel', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'aarch64-kernel-test-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const install = (release: string, mroute: boolean, modules = true): void => {
    mkdirSync(path.join(root, 'boot'), { recursive: true });
    writeFileSync(path.join(root, 'boot', `vmlinuz-${release}`), 'image');
    writeFileSync(
      path.join(root, 'boot', `config-${release}`),
      `CONFIG_NET=y\n${mroute ? 'CONFIG_IP_MROUTE=y' : '# CONFIG_IP_MROUTE is not set'}\n`,
    );
    if (modules) {
      mkdirSync(path.join(root, 'lib', 'modules', release), { recursive: true });
      writeFileSync(path.join(root, 'lib', 'modules', release, 'modules.dep'), '');
    }
  };

  it('is refused with a clear message when the root has none that routes multicast', () => {
    install('6.1.0-60-arm64', false);
    install('6.1.0-61-arm64', true, false); // no modules.dep: depmod did not run
    expect(() => findAarch64Kernel(root)).toThrow(/has no kernel with CONFIG_IP_MROUTE=y and its modules/);
  });

  it('is the newest one with CONFIG_IP_MROUTE=y and its modules', () => {
    install('6.1.0-9-arm64', true);
    install('6.1.0-57-arm64', true);
    expect(findAarch64Kernel(root)).toEqual({
      release: '6.1.0-57-arm64',
      image: path.join(root, 'boot', 'vmlinuz-6.1.0-57-arm64'),
      modulesDir: path.join(root, 'lib', 'modules', '6.1.0-57-arm64'),
    });
  });
});

describe('the qemu command line', () => {
  const machine = { kernel: '/k', initrd: '/i', shareDir: '/s', accel: 'tcg' as const, cpus: 2, memoryMiB: 1024 };

  it('emulates the virt board with the PL011 console and the given root for aarch64', () => {
    const args = qemuArguments({ ...machine, arch: 'aarch64', rootDir: '/cache/root' });
    expect(args.join(' ')).toContain('-M virt -accel tcg,thread=multi -cpu max');
    expect(args).toContain('console=ttyAMA0 loglevel=4 panic=-1');
    expect(args).toContain(
      'local,path=/cache/root,mount_tag=host,security_model=passthrough,readonly=on,multidevs=remap',
    );
  });

  it('keeps the x86_64 machine as it was by default', () => {
    const args = qemuArguments(machine);
    expect(args).not.toContain('-M');
    expect(args).toContain('console=ttyS0 loglevel=4 panic=-1 no_timer_check');
    expect(args).toContain('local,path=/,mount_tag=host,security_model=passthrough,readonly=on,multidevs=remap');
  });
});

describe('the binary check', () => {
  it('reads the ELF machine: aarch64, x86_64, not ELF', () => {
    const header = (machine: number): Buffer => {
      const bytes = Buffer.alloc(20);
      bytes.writeUInt32BE(0x7f454c46, 0);
      bytes[4] = 2; // ELF64
      bytes[5] = 1; // little-endian
      bytes.writeUInt16LE(machine, 18);
      return bytes;
    };
    expect(elfMachine(header(EM_AARCH64))).toBe(EM_AARCH64);
    expect(elfMachine(header(62))).toBe(62);
    expect(elfMachine(Buffer.from('#!/bin/sh\necho hello\n'))).toBeUndefined();
    expect(elfMachine(readFileSync(process.execPath).subarray(0, 20))).toBe(process.arch === 'arm64' ? EM_AARCH64 : 62);
  });
});
