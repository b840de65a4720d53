// The RTM_GETROUTE adapter: request bytes, answers and errors parsed, and one real lookup
// against this machine's own routing table compared with `ip route get` (read-only: a
// netlink question to the kernel, nothing is sent on any network).
import { execFileSync } from 'node:child_process';
import { beforeAll, describe, expect, test } from 'vitest';
import { lookupRoute, packRouteRequest, parseRouteAnswer } from '../../addon/daemon/kernel/route-lookup.ts';
import { loadShim } from '../../addon/daemon/kernel/shim.ts';
import type { IgmpShim } from '../../addon/daemon/kernel/shim.ts';
import { parseIpv4 } from '../../addon/daemon/net/ipv4.ts';
import { ensureShim } from './support.ts';

function newRoute(sequence: number, attributes: [type: number, value: Buffer][]): Buffer {
  const body = Buffer.concat(
    attributes.map(([type, value]) => {
      const attr = Buffer.alloc(4 + ((value.length + 3) & ~3));
      attr.writeUInt16LE(4 + value.length, 0);
      attr.writeUInt16LE(type, 2);
      value.copy(attr, 4);
      return attr;
    }),
  );
  const message = Buffer.alloc(16 + 12 + body.length);
  message.writeUInt32LE(message.length, 0);
  message.writeUInt16LE(24, 4); // RTM_NEWROUTE
  message.writeUInt32LE(sequence, 8);
  message.writeUInt8(2, 16);
  body.copy(message, 28);
  return message;
}
const u32 = (value: number): Buffer => {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32LE(value);
  return buffer;
};
function error(sequence: number, errno: number): Buffer {
  const message = Buffer.alloc(16 + 4 + 16);
  message.writeUInt32LE(message.length, 0);
  message.writeUInt16LE(2, 4); // NLMSG_ERROR
  message.writeUInt32LE(sequence, 8);
  message.writeInt32LE(-errno, 16);
  return message;
}

describe('RTM_GETROUTE messages', () => {
  test('the request: nlmsghdr, rtmsg for one AF_INET /32, RTA_DST in network order', () => {
    expect(packRouteRequest(parseIpv4('217.0.0.1') as number, 7).toString('hex')).toBe(
      '24000000' +
        '1a00' +
        '0100' +
        '07000000' +
        '00000000' + // len 36, RTM_GETROUTE, NLM_F_REQUEST, seq 7, pid 0
        '02200000' +
        '00000000' +
        '00000000' + // AF_INET, dst_len 32, rest 0
        '0800' +
        '0100' +
        'd9000001', // RTA_DST 217.0.0.1
    );
  });

  test('an answer gives RTA_OIF, after other attributes', () => {
    const answer = newRoute(7, [
      [15, u32(254)],
      [1, Buffer.from([217, 0, 0, 1])],
      [4, u32(9)],
    ]);
    expect(parseRouteAnswer(answer, 7)).toEqual({ ok: true, outIfindex: 9 });
  });

  test('an error names the errno; another sequence, an ACK or garbage is no answer', () => {
    expect(parseRouteAnswer(error(3, 101), 3)).toEqual({ ok: false, error: 'ENETUNREACH' });
    expect(parseRouteAnswer(error(3, 101), 4)).toBeUndefined();
    expect(parseRouteAnswer(error(3, 0), 3)).toBeUndefined();
    expect(parseRouteAnswer(Buffer.from([1, 2, 3]), 3)).toBeUndefined();
    const lying = newRoute(5, [[4, u32(9)]]);
    lying.writeUInt32LE(9999, 0);
    expect(parseRouteAnswer(lying, 5)).toBeUndefined();
    expect(parseRouteAnswer(newRoute(5, [[15, u32(254)]]), 5)).toEqual({
      ok: false,
      error: 'no outgoing interface in the answer',
    });
  });
});

describe('lookupRoute on the real kernel', () => {
  let shim: IgmpShim;
  beforeAll(async () => {
    shim = loadShim({ path: await ensureShim() });
  });

  test('answers what `ip route get` answers for this machine (loopback and its default route)', async () => {
    const ipRouteGet = (address: string): string =>
      execFileSync('ip', ['-o', 'route', 'get', address], { encoding: 'utf8' });
    const ifindexOf = (name: string): number =>
      Number(execFileSync('cat', [`/sys/class/net/${name}/ifindex`], { encoding: 'utf8' }));
    for (const address of ['127.0.0.1', '192.0.2.77']) {
      let expected: number | undefined;
      try {
        expected = ifindexOf(/ dev (\S+)/.exec(ipRouteGet(address))?.[1] as string);
      } catch {
        expected = undefined; // no route on this machine
      }
      const answer = await lookupRoute(shim, parseIpv4(address) as number);
      expect(answer).toEqual(
        expected === undefined ? { ok: false, error: expect.any(String) } : { ok: true, outIfindex: expected },
      );
    }
  });
});
