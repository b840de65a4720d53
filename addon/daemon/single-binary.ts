// What the daemon needs to know about running as a Node single executable (SEA): whether
// it is one, and which assets it embeds. (The start-up environment clean-up is in
// environment.ts.)
import { createHash } from 'node:crypto';
import { getRawAsset, isSea } from 'node:sea';

export function isSingleBinary(): boolean {
  return isSea();
}

/** sha256 (hex) of an asset embedded in the binary; undefined when run from source. */
export function embeddedAssetSha256(name: string): string | undefined {
  if (!isSea()) return undefined;
  return createHash('sha256')
    .update(new Uint8Array(getRawAsset(name)))
    .digest('hex');
}
