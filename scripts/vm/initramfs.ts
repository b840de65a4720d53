// The test VM's initramfs: static busybox, the stage-1 script as /init, /dev/console,
// and the modules needed before the root is mounted (virtio PCI, 9p, overlay), in load
// order. Built in memory from what is installed, in well under a second.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeCpio, type CpioEntry } from './cpio.ts';
import { loadOrder, parseModuleIndex } from './modules.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
export const STAGE1_SCRIPT = path.join(here, 'guest-init.sh');
export const STATIC_BUSYBOX = '/bin/busybox';
/** What stage 1 loads: PCI transport, the 9p file system over virtio, overlayfs. */
export const EARLY_MODULES = ['virtio_pci', '9pnet_virtio', '9p', 'overlay'];

export interface InitramfsInput {
  readonly modulesDir: string; // /lib/modules/<release>
  readonly busybox?: string;
  readonly init?: string;
}

export function buildInitramfs(input: InitramfsInput): Buffer {
  const busybox = input.busybox ?? STATIC_BUSYBOX;
  const index = parseModuleIndex(
    readFileSync(path.join(input.modulesDir, 'modules.dep'), 'utf8'),
    readOptional(path.join(input.modulesDir, 'modules.builtin')),
  );
  const modules = loadOrder(index, EARLY_MODULES);
  const busyboxBytes = readFileSync(busybox);
  if (!isStaticElf(busyboxBytes)) throw new Error(`${busybox} is not a static executable (install busybox-static)`);
  const entries: CpioEntry[] = [
    { kind: 'directory', path: 'bin' },
    { kind: 'directory', path: 'dev' },
    { kind: 'chardev', path: 'dev/console', major: 5, minor: 1 },
    { kind: 'directory', path: 'modules' },
    { kind: 'file', path: 'bin/busybox', data: busyboxBytes, mode: 0o755 },
    { kind: 'file', path: 'init', data: readFileSync(input.init ?? STAGE1_SCRIPT), mode: 0o755 },
    ...modules.map(
      (file, i): CpioEntry => ({
        kind: 'file',
        path: `modules/${String(i).padStart(2, '0')}-${path.basename(file)}`,
        data: readFileSync(path.join(input.modulesDir, file)),
      }),
    ),
  ];
  return writeCpio(entries);
}

function readOptional(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** An ELF executable without a PT_INTERP program header needs no dynamic loader. */
export function isStaticElf(bytes: Buffer): boolean {
  if (bytes.length < 64 || bytes.readUInt32BE(0) !== 0x7f454c46 || bytes[4] !== 2) return false; // ELF64 only
  const phoff = Number(bytes.readBigUInt64LE(0x20));
  const phentsize = bytes.readUInt16LE(0x36);
  const phnum = bytes.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (at + 4 > bytes.length) return false;
    if (bytes.readUInt32LE(at) === 3) return false; // PT_INTERP
  }
  return true;
}
