// Transparent huge pages off for the daemon (issue 14, memory). IPFire's x86_64 kernel has
// them "always" (CONFIG_TRANSPARENT_HUGEPAGE_ALWAYS=y), as has the test VM's Debian kernel:
// every 2 MB stretch of the V8 heap or of a glibc thread arena that gets touched may then be
// backed by a whole huge page, and khugepaged collapses more of them later, all of it RssAnon.
// In the emulated VM the daemon's code on a stand-in shim had ~2 MB less RssAnon at idle and
// at 500 groups without them. The switch (prctl PR_SET_THP_DISABLE) survives exec: the
// foreground process sets it before it starts the background daemon, which so runs without
// huge pages from its first page.
import type { IgmpShim } from '../kernel/shim.ts';

/**
 * Switches transparent huge pages off for this process and the programs it starts. Never
 * throws: without the shim or on an old kernel (EINVAL) the daemon works the same, with
 * more RssAnon. Returns whether the switch is off now.
 */
export function keepOffHugePages(shim: () => Pick<IgmpShim, 'disableTransparentHugePages'>): boolean {
  try {
    shim().disableTransparentHugePages();
    return true;
  } catch {
    return false;
  }
}
