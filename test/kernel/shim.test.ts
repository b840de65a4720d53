// The N-API shim itself: errors map to errno codes, receive/close lifecycle, extraction of
// the SEA asset into a nameless file, and raw send/receive across a veth pair
// inside namespaces (ingress ifindex and source from IP_PKTINFO, bursts beyond one
// wake-up's read bound all delivered). In-process calls only use harmless UDP/netlink
// sockets of the host namespace and never send anything there.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildIgmp } from '../../addon/daemon/igmp/codec.ts';
import { buildIpv4Packet } from '../../addon/daemon/igmp/ipv4-header.ts';
import {
  AF_INET,
  AF_NETLINK,
  NETLINK_ROUTE,
  SO_RCVBUF,
  SOCK_RAW,
  SOL_SOCKET,
  packInt,
} from '../../addon/daemon/kernel/mroute.ts';
import { loadFromAsset, loadShim } from '../../addon/daemon/kernel/shim.ts';
import type { IgmpShim } from '../../addon/daemon/kernel/shim.ts';
import { checkNetnsSupport, NetnsLab } from '../../scripts/lab/netns.ts';
import type { Netns } from '../../scripts/lab/netns.ts';
import { ensureShim, LabDriver, NETNS_PREFIX, pinnedNode, repositoryRoot } from './support.ts';

const SOCK_DGRAM = 2;
const support = checkNetnsSupport(NETNS_PREFIX);
if (!support.available) console.warn(`shim namespace tests skipped: ${support.reason}`);

let shimPath: string;
let shim: IgmpShim;
const scratch: string[] = [];

beforeAll(async () => {
  shimPath = await ensureShim();
  shim = loadShim({ path: shimPath });
});

afterAll(() => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

function expectSystemError(action: () => unknown, code: string, syscall: string): void {
  let caught: NodeJS.ErrnoException | undefined;
  try {
    action();
  } catch (error) {
    caught = error as NodeJS.ErrnoException;
  }
  expect(caught).toBeInstanceOf(Error);
  expect({ code: caught?.code, syscall: caught?.syscall, errno: typeof caught?.errno }).toEqual({
    code,
    syscall,
    errno: 'number',
  });
  expect(caught?.message).toContain(`${syscall} failed: `);
}

describe('shim errors', () => {
  test('system call failures carry the errno name, number and call', () => {
    expectSystemError(() => shim.socket(9999, SOCK_RAW, 0), 'EAFNOSUPPORT', 'socket');
    expectSystemError(() => shim.setsockopt(1_000_000, SOL_SOCKET, SO_RCVBUF, packInt(1)), 'EBADF', 'setsockopt');
    expectSystemError(() => shim.close(1_000_000), 'EBADF', 'close');
    expectSystemError(() => shim.send(1_000_000, Buffer.alloc(1), 0x0a000001, 0), 'EBADF', 'sendmsg');
    expectSystemError(() => shim.unblockSignal(1_000), 'EINVAL', 'sigaddset');
  });

  test('wrong argument types are TypeErrors, not crashes', () => {
    expect(() => shim.socket('x' as unknown as number, 1, 1)).toThrow(TypeError);
    expect(() => (shim.setsockopt as (...args: unknown[]) => void)(1, 1, 1)).toThrow(TypeError);
    expect(() => shim.setsockopt(1, 1, 1, 'not a buffer' as unknown as Buffer)).toThrow(TypeError);
    expect(() => shim.receive(1, 'not a function' as unknown as () => void)).toThrow(TypeError);
  });

  test('options round-trip; a second receive on one fd is EALREADY; close stops the callbacks', () => {
    const udp = shim.socket(AF_INET, SOCK_DGRAM, 0);
    try {
      shim.setsockopt(udp, SOL_SOCKET, SO_RCVBUF, packInt(65_536));
      const value = shim.getsockopt(udp, SOL_SOCKET, SO_RCVBUF, 4);
      expect(value.length).toBe(4);
      expect(value.readInt32LE()).toBe(131_072); // the kernel doubles SO_RCVBUF for bookkeeping
    } finally {
      shim.close(udp);
    }
    const netlink = shim.socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
    const calls: unknown[] = [];
    shim.receive(netlink, (...args) => calls.push(args));
    expectSystemError(() => shim.receive(netlink, () => {}), 'EALREADY', 'receive');
    shim.close(netlink);
    expectSystemError(() => shim.close(netlink), 'EBADF', 'close');
    expect(calls).toEqual([]);
  });
});

describe('unblockSignal', () => {
  // In a node started like the binary (--disable-sigusr1), SIGUSR1 stays blocked in the
  // main thread, so a JS listener never runs; unblockSignal lets the pending signal in.
  test('lets a SIGUSR1 listener run in a node without its inspector signal thread', () => {
    const script = `
      const shim = { exports: {} };
      process.dlopen(shim, ${JSON.stringify(shimPath)});
      const blocked = () => {
        const mask = /SigBlk:\\s*([0-9a-f]+)/.exec(require('node:fs').readFileSync('/proc/thread-self/status', 'utf8'))[1];
        return ((BigInt('0x' + mask) >> 9n) & 1n) === 1n; // bit of signal 10, SIGUSR1
      };
      let handled = 0;
      process.on('SIGUSR1', () => { handled++; });
      const before = blocked();
      process.kill(process.pid, 'SIGUSR1');
      setTimeout(() => {
        const handledWhileBlocked = handled;
        shim.exports.unblockSignal(require('node:os').constants.signals.SIGUSR1);
        const after = blocked();
        setTimeout(() => {
          require('node:fs').writeSync(1, JSON.stringify({ before, handledWhileBlocked, after, handled }));
          process.exit(0);
        }, 300);
      }, 300);`;
    const result = spawnSync(process.execPath, ['--disable-sigusr1', '-e', script], {
      encoding: 'utf8',
      timeout: 10_000,
    });
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({ before: true, handledWhileBlocked: 0, after: false, handled: 1 });
  });
});

describe('disableTransparentHugePages', () => {
  // IPFire's kernel has transparent huge pages "always"; the daemon opts out for itself.
  // The kernel shows the per-process switch as THP_enabled in /proc/<pid>/status.
  test('switches transparent huge pages off for the calling process only', () => {
    const script = `
      const shim = { exports: {} };
      process.dlopen(shim, ${JSON.stringify(shimPath)});
      const enabled = () => /THP_enabled:\\s*(\\d)/.exec(require('node:fs').readFileSync('/proc/self/status', 'utf8'))[1];
      const before = enabled();
      shim.exports.disableTransparentHugePages();
      const after = enabled();
      const child = require('node:child_process').execFileSync('/bin/cat', ['/proc/self/status'], { encoding: 'utf8' });
      require('node:fs').writeSync(1, JSON.stringify({ before, after, child: /THP_enabled:\\s*(\\d)/.exec(child)[1] }));`;
    const result = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 10_000 });
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({ before: '1', after: '0', child: '0' });
    expect(/THP_enabled:\s*(\d)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]).toBe('1'); // this process untouched
  });
});

describe('trimMalloc', () => {
  // glibc keeps free memory in the middle of its heap; malloc_trim gives it back. 40 MB of
  // 1 kB buffers (each its own malloc), every 16th kept so the heap's top cannot shrink.
  test('gives freed malloc memory in the middle of the heap back to the kernel', () => {
    const script = `
      const shim = { exports: {} };
      process.dlopen(shim, ${JSON.stringify(shimPath)});
      const rssAnon = () => Number(/RssAnon:\\s+(\\d+)/.exec(require('node:fs').readFileSync('/proc/self/status', 'utf8'))[1]);
      let buffers = [];
      for (let i = 0; i < 40000; i++) buffers.push(Buffer.allocUnsafeSlow(1000).fill(1));
      buffers = buffers.filter((_, i) => i % 16 === 0);
      // V8 frees dead buffers' memory after its GC, partly later on its own thread: let it.
      globalThis.gc();
      setTimeout(() => {
        globalThis.gc();
        setTimeout(() => {
          const before = rssAnon();
          shim.exports.trimMalloc();
          const after = rssAnon();
          require('node:fs').writeSync(1, JSON.stringify({ before, after, kept: buffers.length }));
        }, 200);
      }, 200);`;
    const result = spawnSync(process.execPath, ['--expose-gc', '-e', script], { encoding: 'utf8', timeout: 10_000 });
    expect(result.stderr).toBe('');
    const { before, after, kept } = JSON.parse(result.stdout) as { before: number; after: number; kept: number };
    expect(kept).toBe(2500);
    expect(before - after).toBeGreaterThan(20_000); // kB: most of the 37 MB freed (about 33 MB here; none without the trim)
  });
});

describe('loading the embedded shim (SEA asset path)', () => {
  const bytes = (): Buffer => readFileSync(shimPath);

  test('loads from a nameless file in the first usable directory and leaves nothing behind', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ipsm-shim-'));
    scratch.push(dir);
    const loaded = loadFromAsset(bytes(), [path.join('/proc', 'ipsm-not-here'), dir]);
    expect(typeof loaded.socket).toBe('function');
    expectSystemError(() => loaded.close(1_000_000), 'EBADF', 'close');
    expect(readdirSync(dir)).toEqual([]);
    // The mapping is of an inode that never had a name in dir: "dir/#<inode> (deleted)".
    const mapped = readFileSync('/proc/self/maps', 'utf8')
      .split('\n')
      .filter((line) => line.includes(`${dir}/`));
    expect(mapped.length).toBeGreaterThan(0);
    for (const line of mapped) expect(line).toMatch(new RegExp(`${dir}/#\\d+ \\(deleted\\)$`));
  });

  // IPFire's /run: tmpfs mounted noexec. Plus a read-only directory and a missing one: the
  // error names each directory with its reason, and no developer build hint.
  test.skipIf(process.getuid?.() !== 0 || spawnSync('unshare', ['--version']).status !== 0)(
    'explains, per directory, why none could hold the shim',
    () => {
      const base = mkdtempSync(path.join(tmpdir(), 'ipsm-shim-'));
      scratch.push(base);
      const noexec = path.join(base, 'run');
      const readOnly = path.join(base, 'ro');
      mkdirSync(noexec);
      mkdirSync(readOnly);
      const shimModule = pathToFileURL(path.join(repositoryRoot, 'addon', 'daemon', 'kernel', 'shim.ts')).href;
      const script = `
        const { loadFromAsset } = await import(${JSON.stringify(shimModule)});
        const bytes = (await import('node:fs')).readFileSync(${JSON.stringify(shimPath)});
        try { loadFromAsset(bytes, [${JSON.stringify(readOnly)}, ${JSON.stringify(noexec)}, '/proc/ipsm-not-here']); console.log('loaded'); }
        catch (error) { console.log(error.message); }`;
      const quoted = (text: string): string => `'${text.replace(/'/g, "'\\''")}'`;
      const shell = [
        `mount -t tmpfs -o nosuid,nodev,noexec,mode=755,size=8M tmpfs ${quoted(noexec)}`,
        `mount --bind ${quoted(readOnly)} ${quoted(readOnly)}`,
        `mount -o remount,bind,ro ${quoted(readOnly)}`,
        `exec ${quoted(pinnedNode)} --input-type=module -e ${quoted(script)}`,
      ].join(' && ');
      const result = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', shell], {
        encoding: 'utf8',
        timeout: 20_000,
      });
      expect(result.stderr).toBe('');
      const message = result.stdout.trim();
      expect(message).toContain(`${readOnly}: read-only filesystem`);
      expect(message).toContain(`${noexec}: mounted noexec`);
      expect(message).toContain('/proc/ipsm-not-here: no such directory');
      expect(message).toMatch(/mount \/run with exec$/);
      expect(message).not.toMatch(/build it with|scripts\/node24/);
      expect(message.split('\n')).toHaveLength(1);
    },
  );
});

describe.skipIf(!support.available)('shim send/receive across a veth pair in namespaces', () => {
  const lab = new NetnsLab(NETNS_PREFIX);
  let sender: LabDriver;
  let receiver: LabDriver;
  let receiverNs: Netns;

  beforeAll(async () => {
    const senderNs = await lab.createNamespace('shima');
    receiverNs = await lab.createNamespace('shimb');
    await lab.connect(senderNs, 'ipk4sa', receiverNs, 'ipk4sb');
    await senderNs.addAddress('ipk4sa', '10.5.0.1/24');
    await receiverNs.addAddress('ipk4sb', '10.5.0.2/24');
    await senderNs.up('ipk4sa');
    await receiverNs.up('ipk4sb');
    [sender, receiver] = await Promise.all([LabDriver.start(senderNs), LabDriver.start(receiverNs)]);
    await receiver.call('sniff');
  }, 60_000);

  afterAll(() => lab.cleanup(), 30_000);

  const query = (group: number): string =>
    Buffer.from(
      buildIpv4Packet({
        source: 0x0a050001,
        destination: 0xe0000001,
        ttl: 1,
        tos: 0xc0,
        protocol: 2,
        routerAlert: true,
        payload: buildIgmp({ type: 'query', version: 2, maxResponseMs: 2_000, group }),
      }),
    ).toString('hex');

  test('a hand-built datagram (IP_HDRINCL) arrives whole, with ingress ifindex and source', async () => {
    const from = receiver.mark;
    await sender.call('raw-send', { name: 'ipk4sa', destination: '224.0.0.1', hex: query(0) });
    const sniffed = await receiver.waitForEvent(
      (event) => event.event === 'sniffed' && (event.message as { type?: string }).type === 'query',
      5_000,
      from,
    );
    expect(sniffed).toMatchObject({
      ifindex: await receiverNs.ifindex('ipk4sb'),
      source: '10.5.0.1',
      destination: '224.0.0.1',
      ttl: 1,
      tos: 0xc0,
      routerAlert: true,
      message: { type: 'query', version: 2, maxResponseMs: 2_000, group: 0 },
    });
  });

  test("a burst larger than one wake-up's read bound (256) is delivered completely", async () => {
    const count = 600;
    const marker = 0xef0a0b0c; // group-specific queries for a group nobody uses mark the burst
    const from = receiver.mark;
    const reply = await sender.call('raw-send', {
      name: 'ipk4sa',
      destination: '224.0.0.1',
      hex: query(marker),
      count,
    });
    expect(reply.sent).toBe(count * 32);
    const isBurst = (event: Record<string, unknown>): boolean =>
      event.event === 'sniffed' && (event.message as { group?: number }).group === marker;
    await receiver.waitForEvent(
      (event) => isBurst(event) && receiver.events(isBurst, from).length >= count,
      10_000,
      from,
    );
    expect(receiver.events(isBurst, from)).toHaveLength(count);
  });
});
