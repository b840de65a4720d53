// Reading and appending the known_hosts file (thin I/O around known-hosts.ts).
import { appendFileSync, closeSync, fstatSync, mkdirSync, openSync, readFileSync, readSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { DeployError } from './errors.ts';
import { parseKnownHosts, type KnownHosts } from './known-hosts.ts';
import { errorMessage } from '../../addon/daemon/error-message.ts';

export function defaultKnownHostsFile(): string {
  return path.join(homedir(), '.ssh', 'known_hosts');
}

/** A missing file is an empty list (every host unknown), as for OpenSSH. */
export function loadKnownHosts(file: string): KnownHosts {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { entries: [], notes: [] };
    throw new DeployError(`cannot read known hosts file ${file}: ${errorMessage(error)}`);
  }
  return parseKnownHosts(text, file);
}

function endsWithNewline(file: string): boolean {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return true;
  }
  try {
    const size = fstatSync(fd).size;
    if (size === 0) return true;
    const last = Buffer.alloc(1);
    readSync(fd, last, 0, 1, size - 1);
    return last[0] === 0x0a;
  } finally {
    closeSync(fd);
  }
}

/** Appends one line (synchronously, so parallel deploys cannot interleave inside a line). */
export function appendKnownHost(file: string, line: string): void {
  try {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const prefix = endsWithNewline(file) ? '' : '\n';
    appendFileSync(file, `${prefix}${line}\n`, { mode: 0o600 });
  } catch (error) {
    throw new DeployError(`cannot record the host key in ${file}: ${errorMessage(error)}`);
  }
}
