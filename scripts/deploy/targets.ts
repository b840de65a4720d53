// Deploy targets: `[user@]host[:port]` from the command line or a hosts file. Host and user
// names are validated strictly because they end up in known_hosts lines and messages; they
// never reach a shell.
import { isIPv4, isIPv6 } from 'node:net';
import type { Result } from '../../addon/daemon/result.ts';

export interface Target {
  readonly user: string;
  readonly host: string;
  /** null: use the --port option. */
  readonly port: number | null;
}

const USER_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/;
const HOST_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

export function isValidHostName(host: string): boolean {
  if (isIPv4(host) || isIPv6(host)) return true;
  if (host.length === 0 || host.length > 253) return false;
  return host.split('.').every((label) => HOST_LABEL.test(label));
}

export function parsePort(text: string): number | null {
  if (!/^[0-9]{1,5}$/.test(text)) return null;
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : null;
}

/** Printable form of a value that may hold control characters (for error messages). */
export function printable(text: string): string {
  return JSON.stringify(text);
}

export function parseTarget(text: string, defaultUser = 'root'): Result<Target> {
  const bad = (why: string): Result<Target> => ({ ok: false, reason: `bad target ${printable(text)}: ${why}` });
  let rest = text;
  let user = defaultUser;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    user = rest.slice(0, at);
    rest = rest.slice(at + 1);
    if (!USER_NAME.test(user)) return bad('invalid user name');
  }
  let host = rest;
  let port: number | null = null;
  const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(rest);
  if (bracketed) {
    host = bracketed[1] ?? '';
    if (bracketed[2] !== undefined) {
      port = parsePort(bracketed[2]);
      if (port === null) return bad('invalid port');
    }
  } else if (!isIPv6(rest)) {
    const colon = rest.lastIndexOf(':');
    if (colon >= 0) {
      host = rest.slice(0, colon);
      port = parsePort(rest.slice(colon + 1));
      if (port === null) return bad('invalid port');
    }
  }
  if (!isValidHostName(host)) return bad('invalid host name');
  return { ok: true, value: { user, host: host.toLowerCase(), port } };
}

/** Hosts file: one `[user@]host[:port]` per line; `#` starts a comment; blank lines ignored. */
export function parseHostsFile(text: string, source: string): Result<Target[]> {
  const targets: Target[] = [];
  const lines = text.split(/\r?\n/);
  for (let index = 0; index < lines.length; index++) {
    const content = (lines[index] ?? '').replace(/#.*$/, '').trim();
    if (content === '') continue;
    const parsed = parseTarget(content);
    if (!parsed.ok) return { ok: false, reason: `${source} line ${index + 1}: ${parsed.reason}` };
    targets.push(parsed.value);
  }
  return { ok: true, value: targets };
}

/** How a target is named in output: user@host:port. */
export function targetLabel(target: Target, port: number): string {
  const host = isIPv6(target.host) ? `[${target.host}]` : target.host;
  return `${target.user}@${host}:${port}`;
}
