// Which proxy binaries the bench measures, and how each is started (the config path is
// appended by the lab). Both run with the same flags: -d (foreground, log to stderr,
// warnings only) or, with --verbose-proxy, -d -vv.
import { accessSync, chmodSync, constants, copyFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { findCIgmpproxy } from '../lab/c-igmpproxy.ts';
import { pinnedNode, PROXY_TEMP_DIR_TOKEN, repositoryRoot } from '../lab/iptv-lab.ts';
import type { IptvLab, ProxyHandle } from '../lab/iptv-lab.ts';
import { errorMessage } from '../../addon/daemon/error-message.ts';
import type { ProxyId } from './options.ts';

export interface ProxyCandidate {
  readonly id: ProxyId;
  readonly label: string;
  readonly command: readonly string[];
  readonly available: boolean;
  readonly reason?: string;
}

export const OURS_BINARY = path.join(repositoryRoot, 'dist', 'x86_64', 'igmpproxy');
export const OURS_ENTRY = path.join(repositoryRoot, 'addon', 'daemon', 'main.ts');

function isExecutableFile(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/**
 * Ours runs from a copy on the machine's own file system, as it runs from /usr/sbin on
 * IPFire. From the test VM's 9p share V8 cannot map its embedded builtins from the binary's
 * file and copies them into anonymous memory: in the VM, `node -e` had 4,116 kB of
 * executable anonymous memory run from the share and 2,048 kB (one huge page, which the
 * daemon switches off) from a copy in /tmp; the daemon idle in a namespace, from a copy,
 * 9.2-9.4 MB RssAnon where the lab measured 11.2 MB from the share. One copy per bench run,
 * removed when it ends.
 */
let localCopy: string | undefined;
function localCopyOf(binary: string): string {
  if (localCopy === undefined) {
    const dir = mkdtempSync(path.join(tmpdir(), 'igmpproxy-bench-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    const copy = path.join(dir, 'igmpproxy');
    copyFileSync(binary, copy);
    chmodSync(copy, 0o755);
    localCopy = copy;
  }
  return localCopy;
}

export function resolveCandidate(id: ProxyId, verbose: boolean): ProxyCandidate {
  const flags = verbose ? ['-d', '-vv'] : ['-d'];
  if (id === 'c') {
    const found = findCIgmpproxy({ install: true });
    if (!found.available) return { id, label: 'C igmpproxy', command: [], available: false, reason: found.reason };
    return { id, label: `C igmpproxy ${found.version}`, command: [found.path, ...flags], available: true };
  }
  // Ours keeps a pidfile and a status file (C 0.3 has neither): private ones per lab, so a
  // daemon running elsewhere on the machine (another test, a real one) does not collide.
  const ownFiles = [
    '--pidfile',
    `${PROXY_TEMP_DIR_TOKEN}/igmpproxy.pid`,
    '--status-file',
    `${PROXY_TEMP_DIR_TOKEN}/igmpproxy.status`,
  ];
  if (isExecutableFile(OURS_BINARY)) {
    return {
      id,
      label: 'ours (dist/x86_64/igmpproxy, run from a copy in the temporary directory)',
      command: [localCopyOf(OURS_BINARY), ...flags, ...ownFiles],
      available: true,
    };
  }
  return {
    id,
    label: 'ours (node addon/daemon/main.ts)',
    command: [pinnedNode, OURS_ENTRY, ...flags, ...ownFiles],
    available: true,
  };
}

/**
 * Starts a candidate in a bench lab the way every section does (the lab's config with
 * quickleave on, half a second to come up). A candidate that does not start marks the
 * section's result unavailable with the reason, and the section gives up (undefined).
 */
export async function startCandidate(
  lab: IptvLab,
  candidate: ProxyCandidate,
  result: { available: boolean; reason?: string },
): Promise<ProxyHandle | undefined> {
  try {
    return await lab.startProxy({
      command: candidate.command,
      config: lab.proxyConfig({ quickleave: true }),
      startupGraceMs: 500,
    });
  } catch (error) {
    result.available = false;
    result.reason = `it did not start: ${errorMessage(error).replace(/\s+/g, ' ').slice(0, 400)}`;
    return undefined;
  }
}
