// Module load order from modules.dep: dependencies first, each once, built-ins skipped.
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadOrder, moduleName, parseModuleIndex } from '../../scripts/vm/modules.ts';
import { EARLY_MODULES } from '../../scripts/vm/initramfs.ts';
import { findGuestKernel } from '../../scripts/vm/kernel.ts';

const DEP = [
  'kernel/fs/9p/9p.ko: kernel/net/9p/9pnet.ko kernel/fs/netfs/netfs.ko kernel/fs/fscache/fscache.ko',
  'kernel/net/9p/9pnet.ko:',
  'kernel/net/9p/9pnet_virtio.ko: kernel/net/9p/9pnet.ko kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko',
  'kernel/fs/netfs/netfs.ko:',
  'kernel/fs/fscache/fscache.ko: kernel/fs/netfs/netfs.ko',
  'kernel/drivers/virtio/virtio_ring.ko:',
  'kernel/drivers/virtio/virtio.ko:',
  'kernel/fs/overlayfs/overlay.ko:',
  'kernel/drivers/net/a-b.ko.xz:',
  '',
].join('\n');

describe('kernel module load order', () => {
  const index = parseModuleIndex(DEP, 'kernel/fs/overlayfs/overlay.ko\n');

  it('puts every dependency before its dependents, once', () => {
    const order = loadOrder(index, ['9p', '9pnet_virtio']);
    expect(order).toEqual([
      'kernel/net/9p/9pnet.ko',
      'kernel/fs/netfs/netfs.ko',
      'kernel/fs/fscache/fscache.ko',
      'kernel/fs/9p/9p.ko',
      'kernel/drivers/virtio/virtio_ring.ko',
      'kernel/drivers/virtio/virtio.ko',
      'kernel/net/9p/9pnet_virtio.ko',
    ]);
  });

  it('skips modules built into the kernel and treats - and _ alike', () => {
    expect(loadOrder(index, ['overlay'])).toEqual([]);
    expect(moduleName('kernel/drivers/net/a-b.ko.xz')).toBe('a_b');
    expect(loadOrder(index, ['a_b'])).toEqual(['kernel/drivers/net/a-b.ko.xz']);
  });

  it('names a module the kernel cannot provide', () => {
    expect(() => loadOrder(index, ['nosuch'])).toThrow(
      /nosuch \(needed by the test VM\) is neither a module nor built in/,
    );
  });

  it('detects a dependency cycle instead of recursing forever', () => {
    const cyclic = parseModuleIndex('a.ko: b.ko\nb.ko: a.ko\n');
    expect(() => loadOrder(cyclic, ['a'])).toThrow(/cycle/);
  });

  it.runIf(existsSync('/boot'))('resolves the early modules from the installed guest kernel', () => {
    const kernel = findGuestKernel();
    const real = parseModuleIndex(
      readFileSync(`${kernel.modulesDir}/modules.dep`, 'utf8'),
      readFileSync(`${kernel.modulesDir}/modules.builtin`, 'utf8'),
    );
    const names = loadOrder(real, EARLY_MODULES).map(moduleName);
    expect(names).toEqual(expect.arrayContaining(['virtio_pci', '9pnet_virtio', '9p', 'overlay']));
    expect(names.indexOf('9pnet')).toBeLessThan(names.indexOf('9p'));
    expect(names.indexOf('virtio')).toBeLessThan(names.indexOf('virtio_pci'));
  });
});
