// The kernel the test VM boots: a Debian kernel installed on this machine whose
// configuration has multicast routing (CONFIG_IP_MROUTE=y), with its modules on the
// machine's disk so the guest, which runs on the machine's own root, can load them.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export interface GuestKernel {
  readonly release: string; // "6.1.0-57-amd64"
  readonly image: string; // /boot/vmlinuz-<release>
  readonly modulesDir: string; // /lib/modules/<release>
}

/** What dev.sh installs to get one. */
export const KERNEL_PACKAGE = 'linux-image-amd64';

/** Compares Debian kernel releases ("6.1.0-57-amd64") by their numbers, oldest first. */
export function compareReleases(a: string, b: string): number {
  const numbers = (release: string): number[] => (release.match(/\d+/g) ?? []).map(Number);
  const [x, y] = [numbers(a), numbers(b)];
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const difference = (x[i] ?? -1) - (y[i] ?? -1);
    if (difference !== 0) return difference;
  }
  return a.localeCompare(b);
}

/** The newest installed kernel that can route multicast, or an error saying what to install. */
export function findGuestKernel(root = '/'): GuestKernel {
  const boot = path.join(root, 'boot');
  const releases = existsSync(boot)
    ? readdirSync(boot)
        .filter((f) => f.startsWith('vmlinuz-'))
        .map((f) => f.slice('vmlinuz-'.length))
    : [];
  const usable = releases
    .filter((release) => {
      const config = path.join(boot, `config-${release}`);
      return (
        existsSync(path.join(root, 'lib', 'modules', release, 'modules.dep')) &&
        existsSync(config) &&
        /^CONFIG_IP_MROUTE=y$/m.test(readFileSync(config, 'utf8'))
      );
    })
    .sort(compareReleases);
  const release = usable.at(-1);
  if (release === undefined) {
    throw new Error(
      `no installed kernel with CONFIG_IP_MROUTE=y and its modules under ${boot}` +
        ` (install the Debian package ${KERNEL_PACKAGE}; scripts/dev.sh test does)`,
    );
  }
  return {
    release,
    image: path.join(boot, `vmlinuz-${release}`),
    modulesDir: path.join(root, 'lib', 'modules', release),
  };
}

/**
 * Whether the kernel this process runs on can route multicast: /proc/net/ip_mr_vif
 * exists exactly when it was built with CONFIG_IP_MROUTE (module loaded or built in).
 */
export function hostCanRouteMulticast(procNet = '/proc/net'): boolean {
  return existsSync(path.join(procNet, 'ip_mr_vif'));
}
