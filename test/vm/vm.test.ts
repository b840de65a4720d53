// One real boot of the test VM: the guest kernel routes multicast, the command, its
// arguments and environment arrive unchanged, its exit status and share files come back,
// its writes to the machine's root stay in the guest's throwaway overlay, and the boot
// reaches the command the first time without its progress lines in the command's output,
// and the guest powers off even when the command leaves a process holding its output.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findGuestKernel } from '../../scripts/vm/kernel.ts';
import { describeVm, runInVm } from '../../scripts/vm/vm.ts';

const probeFile = path.join(process.cwd(), '.cache', `vm-write-probe-${process.pid}`);

describe('the test VM', () => {
  const share = mkdtempSync(path.join(tmpdir(), 'vm-test-share-'));
  afterAll(() => rmSync(share, { recursive: true, force: true }));

  it('boots the Debian kernel, runs the command and brings its status and files back', {
    timeout: 240_000,
  }, async () => {
    let console = '';
    const script = [
      'uname -r',
      'test -e /proc/net/ip_mr_vif && echo mroute=yes',
      'printf "%s|" "$@"; echo',
      'echo "slowdown=$IGMPPROXY_TEST_SLOWDOWN extra=$EXTRA"',
      'echo from-guest > /vmshare/out.txt',
      `echo leaked > '${probeFile}'`,
      // Left running, holding the console's pipe: the guest must power off all the same.
      'sleep 600 &',
      'exit 7',
    ].join('\n');
    const result = await runInVm({
      argv: ['sh', '-c', script, 'sh', "it's", 'two words'],
      cwd: process.cwd(),
      env: { EXTRA: 'a b' },
      shareDir: share,
      timeoutMs: 200_000,
      onOutput: (text) => {
        console += text;
      },
    });
    expect(result.status, `${result.failure}\n${console}`).toBe(7);
    const lines = console.split('\n');
    expect(lines).toContain(findGuestKernel().release);
    expect(lines).toContain('mroute=yes');
    expect(lines).toContain("it's|two words|");
    expect(lines).toContain(`slowdown=${result.slowdown} extra=a b`);
    // The boot's progress lines are held back (shown only when a boot fails); one boot.
    expect(console).not.toContain('test VM: stage');
    expect(result.boots).toBe(1);
    // It powered itself off (not killed at the timeout) despite the sleep left running.
    expect(lines).toContain('test VM: the command left processes holding its output open; powering off anyway');
    expect(console).toMatch(/\] reboot: Power down\n/);
    expect(result.bootSeconds).toBeGreaterThan(0);
    expect(readFileSync(path.join(share, 'out.txt'), 'utf8')).toBe('from-guest\n');
    expect(existsSync(probeFile)).toBe(false);
    expect(describeVm(result)).toMatch(
      /^\d+\.\d+\.\d+-\S+ in a VM, (emulated \(qemu TCG\)|hardware-virtualised \(KVM\))$/,
    );
  });
});
