// OpenSSH known_hosts: parsing, host matching and the verdict on a presented host key. Pure.
//
// Line format: [@marker] hostpatterns keytype base64-key [comment]
//  - hostpatterns: comma list of names/patterns (`*`, `?`, leading `!` negates), `[host]:port`
//    for ports other than 22, or one hashed name `|1|base64(salt)|base64(HMAC-SHA1(salt, name))`.
//  - markers: @revoked (this key must never be accepted), @cert-authority (not supported here).
import { createHash, createHmac } from 'node:crypto';

export type HostMatcher =
  | { readonly kind: 'hashed'; readonly salt: Buffer; readonly hash: Buffer }
  | { readonly kind: 'patterns'; readonly patterns: readonly string[] };

export interface KnownHostEntry {
  readonly line: number;
  readonly marker: 'revoked' | null;
  readonly hosts: HostMatcher;
  readonly keyType: string;
  readonly key: Buffer;
}

export interface KnownHosts {
  readonly entries: readonly KnownHostEntry[];
  /** Lines skipped, with why (unsupported marker, malformed). */
  readonly notes: readonly string[];
}

export type HostKeyVerdict =
  | { readonly kind: 'known'; readonly line: number }
  | { readonly kind: 'revoked'; readonly line: number }
  | { readonly kind: 'changed'; readonly lines: readonly number[] }
  | { readonly kind: 'unknown'; readonly otherKeyTypes: readonly string[] };

/** The name known_hosts stores for a host: plain for port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  const name = host.toLowerCase();
  return port === 22 ? name : `[${name}]:${port}`;
}

/** OpenSSH-style fingerprint: SHA256 of the key blob, base64 without padding. */
export function fingerprintSha256(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** The key type named inside an SSH public key blob (its first length-prefixed string). */
export function keyTypeOfBlob(blob: Buffer): string | null {
  if (blob.length < 4) return null;
  const length = blob.readUInt32BE(0);
  if (length === 0 || length > 64 || 4 + length > blob.length) return null;
  return blob.subarray(4, 4 + length).toString('latin1');
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

function parseHostField(field: string): HostMatcher | null {
  if (field.startsWith('|1|')) {
    const parts = field.split('|');
    if (parts.length !== 4 || !BASE64.test(parts[2] ?? '') || !BASE64.test(parts[3] ?? '')) return null;
    const salt = Buffer.from(parts[2] ?? '', 'base64');
    const hash = Buffer.from(parts[3] ?? '', 'base64');
    if (salt.length !== 20 || hash.length !== 20) return null;
    return { kind: 'hashed', salt, hash };
  }
  const patterns = field.split(',').filter((pattern) => pattern !== '');
  return patterns.length > 0 ? { kind: 'patterns', patterns } : null;
}

export function parseKnownHosts(text: string, source = 'known_hosts'): KnownHosts {
  const entries: KnownHostEntry[] = [];
  const notes: string[] = [];
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const lineNumber = index + 1;
    const content = (lines[index] ?? '').trim();
    if (content === '' || content.startsWith('#')) continue;
    const fields = content.split(/[ \t]+/);
    let marker: 'revoked' | null = null;
    if ((fields[0] ?? '').startsWith('@')) {
      const markerName = fields.shift();
      if (markerName === '@cert-authority') {
        notes.push(`${source} line ${lineNumber}: @cert-authority entries are not supported; ignored`);
        continue;
      }
      if (markerName !== '@revoked') {
        notes.push(`${source} line ${lineNumber}: unknown marker ${markerName}; ignored`);
        continue;
      }
      marker = 'revoked';
    }
    const [hostField, keyType, keyText] = fields;
    const hosts = hostField === undefined ? null : parseHostField(hostField);
    if (hosts === null || keyType === undefined || keyText === undefined || !BASE64.test(keyText)) {
      notes.push(`${source} line ${lineNumber}: malformed; ignored`);
      continue;
    }
    const key = Buffer.from(keyText, 'base64');
    if (keyTypeOfBlob(key) !== keyType) {
      notes.push(`${source} line ${lineNumber}: key does not match its type ${keyType}; ignored`);
      continue;
    }
    entries.push({ line: lineNumber, marker, hosts, keyType, key });
  }
  return { entries, notes };
}

/** Shell-style wildcard match (`*` any run, `?` one character), whole string. */
export function wildcardMatch(pattern: string, text: string): boolean {
  // Iterative matcher with single backtrack point: linear enough for host names.
  let p = 0;
  let t = 0;
  let starP = -1;
  let starT = 0;
  while (t < text.length) {
    const pc = pattern[p];
    if (pc === '?' || (pc !== undefined && pc !== '*' && pc === text[t])) {
      p++;
      t++;
    } else if (pc === '*') {
      starP = p++;
      starT = t;
    } else if (starP >= 0) {
      p = starP + 1;
      t = ++starT;
    } else {
      return false;
    }
  }
  while (pattern[p] === '*') p++;
  return p === pattern.length;
}

function hostMatches(matcher: HostMatcher, name: string): boolean {
  if (matcher.kind === 'hashed') {
    const digest = createHmac('sha1', matcher.salt).update(name).digest();
    return digest.equals(matcher.hash);
  }
  let matched = false;
  for (const raw of matcher.patterns) {
    const negated = raw.startsWith('!');
    const pattern = (negated ? raw.slice(1) : raw).toLowerCase();
    if (wildcardMatch(pattern, name)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

export function entriesForHost(knownHosts: KnownHosts, host: string, port: number): KnownHostEntry[] {
  const name = knownHostsName(host, port);
  return knownHosts.entries.filter((entry) => hostMatches(entry.hosts, name));
}

/** Decides on a presented host key the way OpenSSH does (revoked > known > changed > unknown). */
export function verifyHostKey(knownHosts: KnownHosts, host: string, port: number, presented: Buffer): HostKeyVerdict {
  const entries = entriesForHost(knownHosts, host, port);
  const revoked = entries.find((entry) => entry.marker === 'revoked' && entry.key.equals(presented));
  if (revoked) return { kind: 'revoked', line: revoked.line };
  const plain = entries.filter((entry) => entry.marker === null);
  const match = plain.find((entry) => entry.key.equals(presented));
  if (match) return { kind: 'known', line: match.line };
  const presentedType = keyTypeOfBlob(presented);
  const sameType = plain.filter((entry) => entry.keyType === presentedType);
  if (sameType.length > 0) return { kind: 'changed', lines: sameType.map((entry) => entry.line) };
  return { kind: 'unknown', otherKeyTypes: [...new Set(plain.map((entry) => entry.keyType))] };
}

/** The line --accept-new appends: plain name, so the user can read what was recorded. */
export function formatKnownHostsLine(host: string, port: number, key: Buffer): string {
  const keyType = keyTypeOfBlob(key);
  if (keyType === null) throw new Error('host key blob without a key type');
  return `${knownHostsName(host, port)} ${keyType} ${key.toString('base64')}`;
}

/** SSH host key algorithms able to present a key of each known_hosts key type. */
const ALGORITHMS_BY_KEY_TYPE: Record<string, readonly string[]> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
};

export const DEFAULT_HOST_KEY_ALGORITHMS: readonly string[] = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
];

/**
 * Host key algorithms in preference order: the types already recorded for this host first
 * (as OpenSSH does), so a host with several keys presents one we know.
 */
export function preferredHostKeyAlgorithms(knownHosts: KnownHosts, host: string, port: number): string[] {
  const known = entriesForHost(knownHosts, host, port).filter((entry) => entry.marker === null);
  const first: string[] = [];
  for (const entry of known) {
    for (const algorithm of ALGORITHMS_BY_KEY_TYPE[entry.keyType] ?? []) {
      if (!first.includes(algorithm)) first.push(algorithm);
    }
  }
  return [...first, ...DEFAULT_HOST_KEY_ALGORITHMS.filter((algorithm) => !first.includes(algorithm))];
}
