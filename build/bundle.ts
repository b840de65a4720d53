// esbuild: the daemon's TypeScript -> one CommonJS file for the SEA. esbuild only strips
// types (tsc checks them). In a SEA, require() reaches built-in modules only, so all
// project code must be inside the bundle and only `node:` built-ins stay external.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { build } from 'esbuild';
import { ENTRY_POINT, NODE_VERSION, RELEASE_DEFINE, REPOSITORY_ROOT, VERSION_DEFINE } from './build-config.ts';

export interface BundleOptions {
  readonly version: string;
  readonly release: number;
  /** Where to write the bundle. */
  readonly outFile: string;
  readonly root?: string;
  readonly entryPoint?: string;
}

/** Bundles the daemon into outFile and returns the bundle's bytes. */
export async function bundleDaemon(options: BundleOptions): Promise<Uint8Array> {
  const root = options.root ?? REPOSITORY_ROOT;
  const result = await build({
    absWorkingDir: root, // keeps the path comments in the output relative, so checkout-independent
    entryPoints: [options.entryPoint ?? ENTRY_POINT],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: `node${NODE_VERSION.split('.')[0]}`,
    external: ['node:*'],
    define: {
      [VERSION_DEFINE]: JSON.stringify(options.version),
      [RELEASE_DEFINE]: JSON.stringify(options.release),
    },
    legalComments: 'none',
    charset: 'ascii', // see asciiOnly()
    sourcemap: false,
    minify: false,
    treeShaking: true,
    write: false,
    logLevel: 'silent',
  });
  if (result.errors.length > 0) throw new Error(`esbuild failed: ${result.errors.map((e) => e.text).join('; ')}`);
  const output = result.outputFiles[0];
  if (output === undefined || result.outputFiles.length !== 1) {
    throw new Error(`esbuild produced ${result.outputFiles.length} files, expected exactly one`);
  }
  const contents = new TextEncoder().encode(asciiOnly(output.text));
  await mkdir(path.dirname(options.outFile), { recursive: true });
  await writeFile(options.outFile, contents);
  return contents;
}

/**
 * The bundle as pure ASCII. Node hands the single binary's main script to V8 as one heap
 * string, two bytes per character as soon as one character is not Latin-1: a "\u2026" in a
 * comment made the 200 kB bundle a 400 kB string for the daemon's lifetime (issue 14,
 * memory). esbuild's charset "ascii" escapes strings, regular expressions and identifiers;
 * what it leaves is in comments, where an escape is as good as the character.
 */
export function asciiOnly(text: string): string {
  return text.replace(/[^\x00-\x7f]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
