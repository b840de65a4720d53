// keepOffHugePages never stops a start: a shim that cannot load or a kernel without the
// prctl option (EINVAL) only means more RssAnon. The real prctl is proven in
// test/kernel/shim.test.ts; that the background daemon inherits it, in test/package/real-daemon.test.ts.
import { describe, expect, test } from 'vitest';
import { keepOffHugePages } from '../../addon/daemon/runtime/huge-pages.ts';

describe('keepOffHugePages', () => {
  test('switches them off through the shim once and says so', () => {
    let calls = 0;
    expect(keepOffHugePages(() => ({ disableTransparentHugePages: () => void calls++ }))).toBe(true);
    expect(calls).toBe(1);
  });

  test('a shim that cannot load, or a kernel that refuses, is no failure', () => {
    expect(
      keepOffHugePages(() => {
        throw new Error('cannot load the shim');
      }),
    ).toBe(false);
    expect(
      keepOffHugePages(() => ({
        disableTransparentHugePages: () => {
          throw Object.assign(new Error('prctl: EINVAL'), { code: 'EINVAL' });
        },
      })),
    ).toBe(false);
  });
});
