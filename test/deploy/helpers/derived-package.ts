// Variants of the REAL package (build/package.ts) for the deploy tool's failure paths, which
// the build cannot make: one of its Pakfire scripts edited (a failing install.sh or
// update.sh), the rest byte for byte the build's. The outer tar is unpacked and packed again
// (pax, owner 0, the members in the build's order) and the meta file's Size follows the new
// file, so the deploy tool's own checks of the package still pass.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { PackageFiles } from '../../../build/package.ts';

const MEMBERS = ['install.sh', 'uninstall.sh', 'update.sh', 'ROOTFILES', 'files.tar.xz'] as const;

function tar(args: string[]): string {
  const result = spawnSync('tar', args, { encoding: 'utf8', timeout: 60_000 });
  if (result.status !== 0) throw new Error(`tar ${args.join(' ')} failed: ${result.error?.message ?? result.stderr}`);
  return result.stdout;
}

/** One member of a built .ipfire, as text (e.g. ROOTFILES). */
export function packageMember(ipfire: string, member: (typeof MEMBERS)[number]): string {
  return tar(['-xOf', ipfire, member]);
}

/**
 * Copies `built` into `outDir` with `script` replaced by `edit(its text)`; `edit` must
 * change it (a no-op edit would make a test pass for the wrong reason).
 */
export function withEditedScript(
  built: PackageFiles,
  outDir: string,
  script: 'install.sh' | 'update.sh',
  edit: (text: string) => string,
): PackageFiles {
  const work = mkdtempSync(path.join(tmpdir(), 'dr-derived-'));
  try {
    tar(['-xf', built.ipfire, '-C', work]);
    const original = readFileSync(path.join(work, script), 'utf8');
    const edited = edit(original);
    if (edited === original) throw new Error(`the edit left ${script} of ${built.ipfire} unchanged`);
    writeFileSync(path.join(work, script), edited);
    mkdirSync(outDir, { recursive: true });
    const ipfire = path.join(outDir, path.basename(built.ipfire));
    tar(['--format=posix', '--owner=0', '--group=0', '--numeric-owner', '-cf', ipfire, '-C', work, ...MEMBERS]);
    const meta = path.join(outDir, path.basename(built.meta));
    copyFileSync(built.meta, meta);
    const text = readFileSync(meta, 'utf8');
    writeFileSync(meta, text.replace(/^Size: [0-9]+$/m, `Size: ${statSync(ipfire).size}`));
    return { ipfire, meta };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
