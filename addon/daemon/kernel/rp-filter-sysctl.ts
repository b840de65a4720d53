// Reading and writing an interface's reverse-path filter setting
// (/proc/sys/net/ipv4/conf/IFACE/rp_filter, per network namespace). Interface names come
// from the kernel's own table and the configuration; anything that could leave the
// directory is refused.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const IPV4_CONF_DIR = '/proc/sys/net/ipv4/conf';

function rpFilterFile(name: string, root: string): string {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
    throw new Error(`not an interface name: ${JSON.stringify(name)}`);
  }
  return path.join(root, name, 'rp_filter');
}

/** conf/NAME/rp_filter ("all" for conf/all); throws (ENOENT) when the interface does not exist. */
export function readRpFilter(name: string, root = IPV4_CONF_DIR): number {
  const text = readFileSync(rpFilterFile(name, root), 'utf8').trim();
  const value = Number(text);
  if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(value))
    throw new Error(`${rpFilterFile(name, root)}: unexpected value ${JSON.stringify(text)}`);
  return value;
}

export function writeRpFilter(name: string, value: number, root = IPV4_CONF_DIR): void {
  if (!Number.isInteger(value) || value < 0 || value > 2)
    throw new RangeError(`rp_filter must be 0, 1 or 2, not ${value}`);
  writeFileSync(rpFilterFile(name, root), `${value}\n`);
}
