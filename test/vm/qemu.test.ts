// The x86_64 test VM's qemu command line: the parts the suites rely on.
import { describe, expect, it } from 'vitest';
import { qemuArguments } from '../../scripts/vm/qemu.ts';

describe('qemuArguments (x86_64)', () => {
  const machine = { kernel: '/k', initrd: '/i', shareDir: '/s', accel: 'tcg' as const, cpus: 2, memoryMiB: 1024 };

  it('emulates every CPU feature but memory protection keys (V8 crashed with them under TCG)', () => {
    const args = qemuArguments(machine);
    expect(args[args.indexOf('-cpu') + 1]).toBe('max,pku=off');
    expect(args[args.indexOf('-accel') + 1]).toBe('tcg,thread=multi');
  });

  it('uses the host CPU under KVM, and shares the root read-only and the share writable', () => {
    const args = qemuArguments({ ...machine, accel: 'kvm' });
    expect(args[args.indexOf('-cpu') + 1]).toBe('host');
    const shares = args.filter((_, i) => args[i - 1] === '-virtfs');
    expect(shares).toEqual([
      'local,path=/,mount_tag=host,security_model=passthrough,readonly=on,multidevs=remap',
      'local,path=/s,mount_tag=share,security_model=passthrough,multidevs=remap',
    ]);
    expect(args).toContain('-no-reboot');
  });
});
