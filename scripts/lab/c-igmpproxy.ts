// Debian's C igmpproxy (0.3 on Debian 12), the reference proxy the lab and the benchmark
// compare against. Installed on demand with apt-get; the package's init script would
// start a daemon on the HOST's /etc/igmpproxy.conf, so after installing we make sure no
// igmpproxy runs in our own network namespace (only the ones the lab starts, in the
// proxy namespaces, may run).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readlinkSync } from 'node:fs';

export const C_IGMPPROXY_PATH = '/usr/sbin/igmpproxy';

export type CIgmpproxy =
  | { readonly available: true; readonly path: string; readonly version: string; readonly installed: boolean }
  | { readonly available: false; readonly reason: string };

function packageVersion(): string {
  const result = spawnSync('dpkg-query', ['-W', '-f=${Version}', 'igmpproxy'], { encoding: 'utf8', timeout: 10_000 });
  return result.status === 0 && result.stdout.trim() !== '' ? result.stdout.trim() : 'unknown version';
}

/** Finds the binary; with install: true runs `apt-get install -y igmpproxy` when it is missing. */
export function findCIgmpproxy(options: { install?: boolean } = {}): CIgmpproxy {
  if (existsSync(C_IGMPPROXY_PATH))
    return { available: true, path: C_IGMPPROXY_PATH, version: packageVersion(), installed: false };
  if (!options.install)
    return { available: false, reason: `${C_IGMPPROXY_PATH} missing (apt-get install -y igmpproxy)` };
  if (process.getuid?.() !== 0)
    return { available: false, reason: `${C_IGMPPROXY_PATH} missing and not root to install it` };
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let result = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'igmpproxy'], {
    encoding: 'utf8',
    env,
    timeout: 300_000,
  });
  if (result.status !== 0) {
    // A fresh machine may have no package lists yet.
    spawnSync('apt-get', ['update'], { encoding: 'utf8', env, timeout: 300_000 });
    result = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'igmpproxy'], {
      encoding: 'utf8',
      env,
      timeout: 300_000,
    });
  }
  if (result.status !== 0 || !existsSync(C_IGMPPROXY_PATH)) {
    return {
      available: false,
      reason: `apt-get install igmpproxy failed: ${(result.stderr || result.error?.message || '').trim().slice(-300)}`,
    };
  }
  stopServiceStartedByInstall();
  return { available: true, path: C_IGMPPROXY_PATH, version: packageVersion(), installed: true };
}

/** pids of processes running the C igmpproxy binary in the caller's own network namespace. */
export function igmpproxyInOwnNamespace(): number[] {
  const own = readlinkSync('/proc/self/ns/net');
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // By executable, not by name: other tools (test fakes, scripts) may be called igmpproxy too.
      if (readlinkSync(`/proc/${entry}/exe`) !== C_IGMPPROXY_PATH) continue;
      if (readlinkSync(`/proc/${entry}/ns/net`) === own) pids.push(Number(entry));
    } catch {
      // The process went away while we looked.
    }
  }
  return pids;
}

/** The package's postinst may have started the service (where policy allows): stop it. */
function stopServiceStartedByInstall(): void {
  if (igmpproxyInOwnNamespace().length === 0) return;
  try {
    execFileSync('invoke-rc.d', ['igmpproxy', 'stop'], { timeout: 30_000, stdio: 'ignore' });
  } catch {
    // Reported below if it is still running.
  }
  const left = igmpproxyInOwnNamespace();
  if (left.length > 0) {
    throw new Error(
      `installing igmpproxy started its service (pids ${left.join(', ')}) and it could not be stopped; ` +
        'stop it (service igmpproxy stop) before running the lab',
    );
  }
}
