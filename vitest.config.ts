import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Network-namespace tests share the kernel's multicast routing tables per namespace;
    // each test file makes its own namespaces, so files may run in parallel.
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
