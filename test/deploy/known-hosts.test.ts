import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  fingerprintSha256,
  formatKnownHostsLine,
  keyTypeOfBlob,
  knownHostsName,
  parseKnownHosts,
  preferredHostKeyAlgorithms,
  verifyHostKey,
  wildcardMatch,
} from '../../scripts/deploy/known-hosts.ts';
import { appendKnownHost, loadKnownHosts } from '../../scripts/deploy/known-hosts-file.ts';

const work = mkdtempSync(path.join(tmpdir(), 'ipd7-kh-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Key {
  line: string;
  blob: Buffer;
  file: string;
}

function keygen(name: string, type: 'ed25519' | 'ecdsa' | 'rsa'): Key {
  const file = path.join(work, name);
  const args = ['-q', '-t', type, '-N', '', '-C', name, '-f', file];
  if (type === 'rsa') args.push('-b', '2048');
  const result = spawnSync('ssh-keygen', args);
  expect(result.status).toBe(0);
  const [keyType, base64] = readFileSync(`${file}.pub`, 'utf8').trim().split(' ');
  return { line: `${keyType} ${base64}`, blob: Buffer.from(base64 ?? '', 'base64'), file };
}

let ed: Key;
let ed2: Key;
let ecdsa: Key;
let rsa: Key;
beforeAll(() => {
  ed = keygen('ed', 'ed25519');
  ed2 = keygen('ed2', 'ed25519');
  ecdsa = keygen('ecdsa', 'ecdsa');
  rsa = keygen('rsa', 'rsa');
});

describe('fingerprints and key types', () => {
  it('matches ssh-keygen -lf (SHA256, base64 without padding)', () => {
    for (const key of [ed, ecdsa, rsa]) {
      const expected = spawnSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${key.file}.pub`], {
        encoding: 'utf8',
      }).stdout.split(' ')[1];
      expect(fingerprintSha256(key.blob)).toBe(expected);
    }
  });

  it('reads the key type from the blob', () => {
    expect(keyTypeOfBlob(ed.blob)).toBe('ssh-ed25519');
    expect(keyTypeOfBlob(rsa.blob)).toBe('ssh-rsa');
    expect(keyTypeOfBlob(Buffer.from([0, 0, 0, 99, 1]))).toBeNull();
  });
});

describe('host names and patterns', () => {
  it('uses [host]:port for ports other than 22', () => {
    expect(knownHostsName('FW', 22)).toBe('fw');
    expect(knownHostsName('fw', 222)).toBe('[fw]:222');
  });

  it('matches wildcards like OpenSSH', () => {
    expect(wildcardMatch('*.example.net', 'fw.example.net')).toBe(true);
    expect(wildcardMatch('fw?', 'fw1')).toBe(true);
    expect(wildcardMatch('fw?', 'fw12')).toBe(false);
    expect(wildcardMatch('[fw]:*', '[fw]:222')).toBe(true);
    expect(wildcardMatch('a*b*c', 'aXbYbZc')).toBe(true);
    expect(wildcardMatch('a*b*c', 'aXbYbZ')).toBe(false);
  });
});

describe('verifyHostKey', () => {
  it('accepts a plain entry, a comma list member and [host]:port entries only for that port', () => {
    const known = parseKnownHosts(
      [`fw1 ${ed.line}`, `other,fw2,192.0.2.7 ${ed.line}`, `[fw3]:222 ${ed.line}`].join('\n'),
    );
    expect(verifyHostKey(known, 'fw1', 22, ed.blob)).toEqual({ kind: 'known', line: 1 });
    expect(verifyHostKey(known, 'fw2', 22, ed.blob)).toEqual({ kind: 'known', line: 2 });
    expect(verifyHostKey(known, '192.0.2.7', 22, ed.blob)).toEqual({ kind: 'known', line: 2 });
    expect(verifyHostKey(known, 'fw3', 222, ed.blob)).toEqual({ kind: 'known', line: 3 });
    expect(verifyHostKey(known, 'fw3', 22, ed.blob).kind).toBe('unknown');
    expect(verifyHostKey(known, 'fw1', 222, ed.blob).kind).toBe('unknown');
  });

  it('matches names hashed by ssh-keygen -H, with and without port', () => {
    const file = path.join(work, 'hashed');
    writeFileSync(file, `fw.example.net ${ed.line}\n[fw.example.net]:222 ${ecdsa.line}\n`);
    expect(spawnSync('ssh-keygen', ['-H', '-f', file]).status).toBe(0);
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain('fw.example.net');
    expect(text).toMatch(/^\|1\|/);
    const known = parseKnownHosts(text);
    expect(known.entries).toHaveLength(2);
    expect(verifyHostKey(known, 'fw.example.net', 22, ed.blob).kind).toBe('known');
    expect(verifyHostKey(known, 'FW.example.net', 222, ecdsa.blob).kind).toBe('known');
    expect(verifyHostKey(known, 'fw.example.org', 22, ed.blob).kind).toBe('unknown');
  });

  it('reports a changed key when another key of the same type is recorded', () => {
    const known = parseKnownHosts(`# comment\n\nfw ${ed.line}\n`);
    expect(verifyHostKey(known, 'fw', 22, ed2.blob)).toEqual({ kind: 'changed', lines: [3] });
  });

  it('accepts any of several keys per host and treats a new key type as unknown, naming the known types', () => {
    const known = parseKnownHosts(`fw ${rsa.line}\nfw ${ed.line}\n`);
    expect(verifyHostKey(known, 'fw', 22, rsa.blob)).toEqual({ kind: 'known', line: 1 });
    expect(verifyHostKey(known, 'fw', 22, ed.blob)).toEqual({ kind: 'known', line: 2 });
    expect(verifyHostKey(known, 'fw', 22, ecdsa.blob)).toEqual({
      kind: 'unknown',
      otherKeyTypes: ['ssh-rsa', 'ssh-ed25519'],
    });
  });

  it('refuses @revoked keys even when they are also listed as good', () => {
    const known = parseKnownHosts(`fw ${ed.line}\n@revoked * ${ed.line}\n`);
    expect(verifyHostKey(known, 'fw', 22, ed.blob)).toEqual({ kind: 'revoked', line: 2 });
    expect(verifyHostKey(known, 'other', 2222, ed2.blob).kind).toBe('unknown');
  });

  it('honours negated patterns', () => {
    const known = parseKnownHosts(`*.example.net,!evil.example.net ${ed.line}\n`);
    expect(verifyHostKey(known, 'fw.example.net', 22, ed.blob).kind).toBe('known');
    expect(verifyHostKey(known, 'evil.example.net', 22, ed.blob).kind).toBe('unknown');
  });

  it('ignores @cert-authority and malformed lines with a note', () => {
    const known = parseKnownHosts(
      `@cert-authority *.example.net ${ed.line}\nfw ssh-ed25519 !!!\nfw ssh-rsa ${ed.line.split(' ')[1]}\n@future fw ${ed.line}\n`,
      'kh',
    );
    expect(known.entries).toEqual([]);
    expect(known.notes).toEqual([
      'kh line 1: @cert-authority entries are not supported; ignored',
      'kh line 2: malformed; ignored',
      'kh line 3: key does not match its type ssh-rsa; ignored',
      'kh line 4: unknown marker @future; ignored',
    ]);
  });
});

describe('recording and algorithm preference', () => {
  it('appends an OpenSSH line that ssh-keygen -F finds, adding a missing newline first', () => {
    const file = path.join(work, 'append', 'known_hosts');
    appendKnownHost(file, formatKnownHostsLine('127.0.0.1', 2222, ed.blob));
    writeFileSync(file, `${readFileSync(file, 'utf8')}# no newline at end`);
    appendKnownHost(file, formatKnownHostsLine('fw', 22, rsa.blob));
    const lines = readFileSync(file, 'utf8').split('\n');
    expect(lines).toEqual([`[127.0.0.1]:2222 ${ed.line}`, '# no newline at end', `fw ${rsa.line}`, '']);
    const found = spawnSync('ssh-keygen', ['-F', '[127.0.0.1]:2222', '-f', file], { encoding: 'utf8' });
    expect(found.status).toBe(0);
    expect(found.stdout).toContain(ed.line);
    expect(verifyHostKey(loadKnownHosts(file), 'fw', 22, rsa.blob).kind).toBe('known');
  });

  it('treats a missing file as empty', () => {
    expect(loadKnownHosts(path.join(work, 'missing'))).toEqual({ entries: [], notes: [] });
  });

  it('prefers the algorithms of key types already known for the host', () => {
    const known = parseKnownHosts(`fw ${rsa.line}\n`);
    const algorithms = preferredHostKeyAlgorithms(known, 'fw', 22);
    expect(algorithms.slice(0, 3)).toEqual(['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
    expect(new Set(algorithms).size).toBe(algorithms.length);
    expect(preferredHostKeyAlgorithms(known, 'other', 22)[0]).toBe('ssh-ed25519');
  });
});
