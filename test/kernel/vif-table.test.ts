// VifTable against a model of the kernel's VIF table (what MRT_ADD_VIF / MRT_DEL_VIF do,
// including EADDRINUSE for a taken number and EADDRNOTAVAIL for a missing one). The real
// kernel is exercised in forwarding.test.ts and watcher.test.ts.
import { describe, expect, test } from 'vitest';
import { MAXVIFS, MRT_ADD_VIF, MRT_DEL_VIF, VIFCTL_OFFSETS } from '../../addon/daemon/kernel/mroute.ts';
import { VifTable } from '../../addon/daemon/kernel/vif-table.ts';

function kernelError(code: string): Error {
  return Object.assign(new Error(code), { code });
}

/** Kernel VIF table model: vif -> ifindex. */
function fakeKernel() {
  const vifs = new Map<number, number>();
  const calls: string[] = [];
  const setOption = (name: number, value: Buffer): void => {
    const vif = value.readUInt16LE(VIFCTL_OFFSETS.vifi);
    const ifindex = value.readInt32LE(VIFCTL_OFFSETS.lclIfindex);
    if (name === MRT_ADD_VIF) {
      calls.push(`add ${vif} ${ifindex}`);
      if (vifs.has(vif)) throw kernelError('EADDRINUSE');
      vifs.set(vif, ifindex);
    } else if (name === MRT_DEL_VIF) {
      calls.push(`del ${vif}`);
      if (!vifs.delete(vif)) throw kernelError('EADDRNOTAVAIL');
    } else {
      throw new Error(`unexpected option ${name}`);
    }
  };
  return { vifs, calls, setOption };
}

describe('VifTable', () => {
  test('numbers interfaces from 0, reuses freed numbers, and is idempotent per (name, ifindex)', () => {
    const kernel = fakeKernel();
    const table = new VifTable(kernel.setOption);
    expect(table.add('eth0', 2)).toBe(0);
    expect(table.add('eth1', 3)).toBe(1);
    expect(table.add('eth0', 2)).toBe(0);
    expect(kernel.calls).toEqual(['add 0 2', 'add 1 3']);
    table.remove('eth0');
    expect(table.vifOf('eth0')).toBeUndefined();
    expect(table.add('ppp0', 9)).toBe(0);
    expect(table.nameOf(0)).toBe('ppp0');
    expect([...kernel.vifs]).toEqual([
      [1, 3],
      [0, 9],
    ]);
  });

  test('a re-created interface keeps its VIF number with the new ifindex (kernel already dropped the old VIF)', () => {
    const kernel = fakeKernel();
    const table = new VifTable(kernel.setOption);
    table.add('eth0', 2);
    expect(table.add('ppp0', 5)).toBe(1);
    kernel.vifs.delete(1); // ppp0 went away: the kernel deletes the VIF by itself
    expect(table.add('ppp0', 6)).toBe(1);
    expect(kernel.calls.slice(-2)).toEqual(['del 1', 'add 1 6']);
    expect(kernel.vifs.get(1)).toBe(6);
    expect(table.entries()).toEqual([
      { name: 'eth0', ifindex: 2, vif: 0 },
      { name: 'ppp0', ifindex: 6, vif: 1 },
    ]);
  });

  test('kernel refusals surface with their code and leave the table unchanged', () => {
    const kernel = fakeKernel();
    kernel.vifs.set(0, 99); // someone else's VIF 0
    const table = new VifTable(kernel.setOption);
    expect(() => table.add('eth0', 2)).toThrow(expect.objectContaining({ code: 'EADDRINUSE' }));
    expect(table.entries()).toEqual([]);
  });

  test('removing a VIF the kernel already dropped is fine', () => {
    const kernel = fakeKernel();
    const table = new VifTable(kernel.setOption);
    table.add('eth0', 2);
    kernel.vifs.clear();
    expect(() => table.remove('eth0')).not.toThrow();
    expect(table.entries()).toEqual([]);
  });

  test(`at most ${MAXVIFS} VIFs`, () => {
    const table = new VifTable(fakeKernel().setOption);
    for (let index = 0; index < MAXVIFS; index++) expect(table.add(`if${index}`, index + 1)).toBe(index);
    expect(() => table.add('one-too-many', 100)).toThrow(expect.objectContaining({ code: 'ENOSPC' }));
  });
});
