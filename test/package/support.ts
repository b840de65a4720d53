// What the appliance and firewall tests need from this machine, checked once.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { checkNetnsSupport } from '../../scripts/lab/netns.ts';
import { readPackageInfo, REPO_ROOT, renderTemplate, templateValues } from '../../build/render.ts';

export const PREFIX = 'ipp6';

export interface Support {
  readonly available: boolean;
  readonly reason: string;
}

let cached: Support | undefined;

/** root, network namespaces, unshare, overlayfs, legacy iptables (IPFire's), xz, gcc (for IPFire's addonctrl). */
function remember(support: Support): Support {
  cached = support;
  return support;
}

export function applianceSupport(): Support {
  if (cached) return cached;
  const netns = checkNetnsSupport(PREFIX);
  if (!netns.available) return remember(netns);
  if (!existsSync('/usr/sbin/xtables-legacy-multi')) {
    return remember({ available: false, reason: 'legacy iptables missing (Debian package iptables)' });
  }
  for (const tool of ['unshare', 'chroot', 'xz', 'gcc']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0)
      return remember({ available: false, reason: `${tool} missing` });
  }
  const filesystems = spawnSync('cat', ['/proc/filesystems'], { encoding: 'utf8' }).stdout;
  if (!/\boverlay\b/.test(filesystems)) return remember({ available: false, reason: 'no overlayfs' });
  return remember({ available: true, reason: '' });
}

/** The firewall.local hook block exactly as the package renders it. */
export async function renderedHookBlock(): Promise<Buffer> {
  const template = await readFile(path.join(REPO_ROOT, 'initscripts/firewall-local-hook.mustache'), 'utf8');
  return Buffer.from(renderTemplate(template, templateValues(await readPackageInfo())));
}
