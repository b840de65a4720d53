// Just enough of the ELF format to find a symbol's bytes in a Node binary (build/
// deadlock-detection.ts): the section headers, the symbol table and its string table of a
// 64-bit little-endian image (x86_64 and aarch64 Linux). Reads a buffer, writes nothing.

const SHT_PROGBITS = 1;
const SHT_SYMTAB = 2;
const SHT_NOBITS = 8;
const SECTION_HEADER_BYTES = 64;
const SYMBOL_BYTES = 24;

export interface ElfSection {
  readonly name: string;
  readonly type: number;
  readonly address: number;
  readonly offset: number;
  readonly size: number;
  readonly link: number;
}

export interface ElfSymbol {
  readonly name: string;
  /** Virtual address. */
  readonly value: number;
  readonly size: number;
  /** The section holding it, by index into elfSections(). */
  readonly sectionIndex: number;
}

function u64(image: Buffer, offset: number): number {
  const value = image.readBigUInt64LE(offset);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`ELF: value at ${offset} too large`);
  return Number(value);
}

/** The image's sections; throws on anything but a 64-bit little-endian ELF. */
export function elfSections(image: Buffer): ElfSection[] {
  if (image.length < 64 || image.readUInt32BE(0) !== 0x7f454c46) throw new Error('not an ELF file');
  if (image[4] !== 2 || image[5] !== 1) throw new Error('not a 64-bit little-endian ELF file');
  const tableOffset = u64(image, 0x28);
  const entrySize = image.readUInt16LE(0x3a);
  const count = image.readUInt16LE(0x3c);
  const namesIndex = image.readUInt16LE(0x3e);
  if (entrySize !== SECTION_HEADER_BYTES || tableOffset + count * entrySize > image.length) {
    throw new Error('ELF: section header table out of bounds');
  }
  const raw = Array.from({ length: count }, (_, index) => {
    const at = tableOffset + index * entrySize;
    return {
      nameOffset: image.readUInt32LE(at),
      type: image.readUInt32LE(at + 4),
      address: u64(image, at + 16),
      offset: u64(image, at + 24),
      size: u64(image, at + 32),
      link: image.readUInt32LE(at + 40),
    };
  });
  const names = raw[namesIndex];
  return raw.map(({ nameOffset, ...section }) => ({
    ...section,
    name: names === undefined ? '' : cString(image, names.offset + nameOffset),
  }));
}

function cString(image: Buffer, offset: number): string {
  const end = image.indexOf(0, offset);
  return image.toString('latin1', offset, end < 0 ? image.length : end);
}

/** A symbol of the (static) symbol table by its exact, mangled name; undefined when absent or stripped. */
export function findSymbol(image: Buffer, name: string): ElfSymbol | undefined {
  const sections = elfSections(image);
  const symbols = sections.find((section) => section.type === SHT_SYMTAB);
  const strings = symbols === undefined ? undefined : sections[symbols.link];
  if (symbols === undefined || strings === undefined) return undefined;
  // The name's offset in the string table first: one search instead of decoding every name.
  const needle = Buffer.from(`\0${name}\0`, 'latin1');
  const table = image.subarray(strings.offset, strings.offset + strings.size);
  const found = table.indexOf(needle);
  if (found < 0) return undefined;
  const nameOffset = found + 1;
  for (let at = symbols.offset; at + SYMBOL_BYTES <= symbols.offset + symbols.size; at += SYMBOL_BYTES) {
    if (image.readUInt32LE(at) !== nameOffset) continue;
    return { name, sectionIndex: image.readUInt16LE(at + 6), value: u64(image, at + 8), size: u64(image, at + 16) };
  }
  return undefined;
}

/** Where `length` bytes at virtual address `address` are in the file: inside one section with file contents. */
export function fileOffsetOf(image: Buffer, address: number, length: number): number {
  const section = elfSections(image).find(
    (candidate) =>
      candidate.type !== SHT_NOBITS &&
      candidate.address !== 0 &&
      address >= candidate.address &&
      address + length <= candidate.address + candidate.size,
  );
  if (section === undefined || section.type !== SHT_PROGBITS) {
    throw new Error(`ELF: address 0x${address.toString(16)} is not in a section with file contents`);
  }
  return section.offset + (address - section.address);
}
