import { defineConfig } from 'vitest/config';
import { hostCanRouteMulticast } from './scripts/vm/kernel.ts';
import { scaled } from './scripts/lab/slowdown.ts';

/**
 * The suites that need a kernel that routes multicast (MRT_INIT, VIFs, MFC). `npm test`
 * (scripts/test.ts) runs them on this machine when its kernel can, and otherwise inside the
 * test VM (scripts/vm/); every other suite runs on the machine itself.
 */
export const multicastRoutingSuites = [
  'test/kernel/forwarding.test.ts',
  'test/kernel/watcher.test.ts',
  'test/e2e/daemon.test.ts',
  'test/e2e/lab.test.ts',
  'test/e2e/reconnect.test.ts',
  'test/e2e/stall.test.ts',
  'test/e2e/rp-filter.test.ts',
  'test/e2e/diagnose.test.ts',
  'test/e2e/limits.test.ts',
  'test/e2e/ipfire-router.test.ts',
  'test/e2e/bridge-ports.test.ts',
  'test/e2e/hostile-lan.test.ts',
  'test/package/real-daemon.test.ts',
  'test/e2e/wui-live.test.ts',
];

/**
 * Suites that check what the daemon does on a kernel with multicast routing and on one
 * without: on a machine whose kernel has none they run here (the "without" cases) and in
 * the VM (the "with" cases); on a kernel with multicast routing once.
 */
export const kernelVariantSuites = ['test/runtime/startup-failures.test.ts'];

export default defineConfig({
  test: {
    // Network-namespace tests share the kernel's multicast routing tables per namespace;
    // each test file makes its own namespaces, so files may run in parallel.
    testTimeout: scaled(30_000),
    hookTimeout: scaled(60_000),
    projects: [
      {
        extends: true,
        test: {
          name: 'machine',
          include: ['test/**/*.test.ts'],
          exclude: [...multicastRoutingSuites, ...(hostCanRouteMulticast() ? kernelVariantSuites : [])],
        },
      },
      {
        extends: true,
        test: {
          name: 'multicast-routing',
          include: [...multicastRoutingSuites, ...kernelVariantSuites],
          globalSetup: ['test/helpers/require-multicast-routing.ts'],
        },
      },
    ],
  },
});
