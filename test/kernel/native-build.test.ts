// build/native.ts: the shim compiles warning-free for x64 (and arm64 when the cross
// compiler is installed), exports only the Node-API entry points, is reproducible
// (identical bytes from two builds in different directories, no build path inside) and
// asks for no executable stack: glibc 2.41+ (IPFire ships 2.42) refuses to dlopen a shared
// object whose PT_GNU_STACK is executable.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { buildNativeShim } from '../../build/native.ts';
import type { NativeArch } from '../../build/native.ts';
import { repositoryRoot } from './support.ts';

const compilerFor: Record<NativeArch, string> = { x64: 'gcc', arm64: 'aarch64-linux-gnu-gcc' };
const elfMachine: Record<NativeArch, number> = { x64: 0x3e, arm64: 0xb7 };
const has = (command: string): boolean => spawnSync(command, ['--version']).status === 0;
for (const [arch, compiler] of Object.entries(compilerFor)) {
  if (!has(compiler))
    console.warn(
      `native build tests for ${arch} skipped: ${compiler} not found (Debian packages gcc-aarch64-linux-gnu, libc6-dev-arm64-cross)`,
    );
}

const PT_GNU_STACK = 0x6474e551;
const PF_X = 0x1;

/** p_flags of every PT_GNU_STACK program header of a little-endian ELF64 file. */
function gnuStackFlags(elf: Buffer): number[] {
  expect([elf[4], elf[5]]).toEqual([2, 1]); // ELFCLASS64, ELFDATA2LSB: both targets
  const tableOffset = Number(elf.readBigUInt64LE(0x20)); // e_phoff
  const entrySize = elf.readUInt16LE(0x36); // e_phentsize
  const count = elf.readUInt16LE(0x38); // e_phnum
  const flags: number[] = [];
  for (let index = 0; index < count; index++) {
    const entry = tableOffset + index * entrySize;
    if (elf.readUInt32LE(entry) === PT_GNU_STACK) flags.push(elf.readUInt32LE(entry + 4));
  }
  return flags;
}
const scratch: string[] = [];
afterAll(() => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'ipk4-native-'));
  scratch.push(dir);
  return dir;
}

describe.each(['x64', 'arm64'] as const)('buildNativeShim(%s)', (arch) => {
  test.skipIf(!has(compilerFor[arch]))(
    'builds a reproducible shared object for the architecture',
    async () => {
      const first = await buildNativeShim(arch, tempDir());
      const second = await buildNativeShim(arch, path.join(tempDir(), 'nested', 'out'));
      expect(path.basename(first)).toBe('igmp_shim.node');
      const bytes = readFileSync(first);
      expect(bytes.equals(readFileSync(second))).toBe(true);
      expect([...bytes.subarray(0, 4)]).toEqual([0x7f, 0x45, 0x4c, 0x46]); // ELF
      expect(bytes.readUInt16LE(18)).toBe(elfMachine[arch]);
      expect(bytes.includes(Buffer.from(repositoryRoot))).toBe(false);
      expect(bytes.includes(Buffer.from(path.dirname(first)))).toBe(false);
      // Exactly one PT_GNU_STACK, not executable (no header at all would mean an executable stack).
      const stack = gnuStackFlags(bytes);
      expect(stack).toHaveLength(1);
      expect((stack[0] ?? PF_X) & PF_X).toBe(0);
      const nm = spawnSync('nm', ['-D', '--defined-only', first], { encoding: 'utf8' });
      if (nm.status === 0) {
        const exported = nm.stdout
          .trim()
          .split('\n')
          .map((line) => line.split(' ').at(-1))
          .sort();
        expect(exported).toEqual(['napi_register_module_v1', 'node_api_module_get_api_version_v1']);
      }
    },
    60_000,
  );
});

test('an unknown architecture is refused with a clear message', async () => {
  await expect(buildNativeShim('mips' as NativeArch, tempDir())).rejects.toThrow(/unknown architecture "mips"/);
});
