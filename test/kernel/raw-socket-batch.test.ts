// The mroute socket's batched receiving (kernel/raw-socket.ts over the shim's receiveBatch):
// each datagram of a batch is screened by its host before it is cut out, and what passes
// reaches onDatagram with its own bytes, ingress interface and source. A stand-in shim
// delivers the batches in the layout the C shim makes (makeBatch); the real shim's side is
// exercised by the VM suites (forwarding, hostile-lan).
import { describe, expect, it } from 'vitest';
import { MrouteSocket } from '../../addon/daemon/kernel/raw-socket.ts';
import type { RawDatagramIn } from '../../addon/daemon/kernel/raw-socket.ts';
import { batchLength, batchWord, makeBatch } from '../../addon/daemon/kernel/shim.ts';
import type { IgmpShim, ReceiveBatchCallback } from '../../addon/daemon/kernel/shim.ts';

function standInShim(): { shim: IgmpShim; callback: () => ReceiveBatchCallback } {
  let batchCallback: ReceiveBatchCallback | undefined;
  const shim: IgmpShim = {
    socket: () => 7,
    setsockopt: () => undefined,
    getsockopt: () => Buffer.alloc(4),
    bindNetlink: () => undefined,
    connectUnix: () => undefined,
    send: (_fd, data) => data.length,
    receive: () => {
      throw new Error('the mroute socket reads in batches');
    },
    receiveBatch: (_fd, callback) => void (batchCallback = callback),
    close: () => undefined,
    unblockSignal: () => undefined,
    disableTransparentHugePages: () => undefined,
    trimMalloc: () => undefined,
  };
  return { shim, callback: () => batchCallback as ReceiveBatchCallback };
}

describe('receiving in batches', () => {
  const datagrams = [
    { data: Buffer.from([1, 2, 3]), ifindex: 3, source: 0xc0a80114 },
    { data: Buffer.from([4, 5]), ifindex: 3, source: 0xc0a80142 },
    { data: Buffer.alloc(5000, 9), ifindex: 4, source: 0xc0a80214 },
    { data: Buffer.from([6]), ifindex: 0, source: 0 },
  ];

  it('the index says where each datagram lies and where it came from', () => {
    const { data, index } = makeBatch(datagrams);
    expect(batchLength(index)).toBe(4);
    expect([0, 1, 2, 3].map((entry) => [0, 1, 2, 3].map((word) => batchWord(index, entry, word)))).toEqual([
      [0, 3, 3, 0xc0a80114],
      [3, 2, 3, 0xc0a80142],
      [5, 5000, 4, 0xc0a80214],
      [5005, 1, 0, 0],
    ]);
    expect(data.length).toBe(5006);
  });

  it('screens each datagram by host before cutting it out; an error goes to onError', () => {
    const { shim, callback } = standInShim();
    const received: RawDatagramIn[] = [];
    const screened: [number, number][] = [];
    const errors: string[] = [];
    MrouteSocket.open(shim, {
      screen: (ifindex, source) => (screened.push([ifindex, source]), source !== 0xc0a80142),
      onDatagram: (datagram) => received.push(datagram),
      onError: (error) => errors.push(String(error.code)),
    });
    const { data, index } = makeBatch(datagrams);
    callback()(null, data, index);
    expect(screened).toEqual(datagrams.map((d) => [d.ifindex, d.source]));
    expect(received.map((d) => [[...d.data].length, d.data[0], d.ifindex, d.source])).toEqual([
      [3, 1, 3, 0xc0a80114],
      [5000, 9, 4, 0xc0a80214],
      [1, 6, 0, 0],
    ]);
    callback()(Object.assign(new Error('recvmsg: ENOBUFS'), { code: 'ENOBUFS' }));
    expect(errors).toEqual(['ENOBUFS']);
  });
});
