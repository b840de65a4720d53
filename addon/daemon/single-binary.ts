// What the daemon needs to know about running as a Node single executable (SEA): whether
// it is one, and which assets it embeds. (The start-up environment clean-up is in
// environment.ts.)
import { getRawAsset, isSea } from 'node:sea';

export function isSingleBinary(): boolean {
  return isSea();
}

/** sha256 (hex) of an asset embedded in the binary; undefined when run from source. */
export function embeddedAssetSha256(name: string): string | undefined {
  if (!isSea()) return undefined;
  // Loaded here, not at the top: node:crypto costs a running daemon ~0.5 MB it never uses.
  const { createHash } = process.getBuiltinModule('node:crypto');
  return createHash('sha256')
    .update(new Uint8Array(getRawAsset(name)))
    .digest('hex');
}
