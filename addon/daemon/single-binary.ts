// What the daemon needs to know about running as a Node single executable (SEA).
// The build (build/sea.ts) bakes Node options into the binary that make Node ignore
// NODE_OPTIONS and the OpenSSL/ICU paths from the environment; the few NODE_* variables
// Node still reads act before this code runs or lazily later. The lazy ones are removed
// here, first thing, so they also never reach programs the daemon starts.
import { createHash } from 'node:crypto';
import { getRawAsset, isSea } from 'node:sea';
import { stopCoverage } from 'node:v8';

/** Variable name patterns that steer Node, OpenSSL or the dynamic loader. */
const RUNTIME_VARIABLE = /^(NODE_|OPENSSL_|SSL_CERT_|LD_|UV_)/;

/**
 * Removes runtime-steering variables from this process's environment. Returns their
 * names so the caller may log that they were ignored. NODE_V8_COVERAGE would make Node
 * write coverage files as root at exit; stopping the collection prevents that.
 */
export function dropRuntimeEnvironment(env: NodeJS.ProcessEnv = process.env): string[] {
  const dropped = Object.keys(env).filter((name) => RUNTIME_VARIABLE.test(name));
  if (dropped.includes('NODE_V8_COVERAGE')) stopCoverage();
  for (const name of dropped) delete env[name];
  return dropped.sort();
}

export function isSingleBinary(): boolean {
  return isSea();
}

/** sha256 (hex) of an asset embedded in the binary; undefined when run from source. */
export function embeddedAssetSha256(name: string): string | undefined {
  if (!isSea()) return undefined;
  return createHash('sha256').update(new Uint8Array(getRawAsset(name))).digest('hex');
}
