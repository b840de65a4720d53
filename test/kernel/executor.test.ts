// The effect executor with a recording socket: which setsockopt / send it issues for each
// effect, and that one failing effect is logged while the others still run. The real
// kernel's reaction is proven in forwarding.test.ts.
import { describe, expect, test } from 'vitest';
import type { Effect } from '../../addon/daemon/core/effects.ts';
import { createEffectExecutor, encodeIgmpDatagrams, IGMP_DATAGRAM_LIMIT } from '../../addon/daemon/kernel/executor.ts';
import type { LogLevel } from '../../addon/daemon/kernel/executor.ts';
import { MFCCTL_OFFSETS, MRT_ADD_MFC, MRT_DEL_MFC } from '../../addon/daemon/kernel/mroute.ts';
import { parseIpv4Packet } from '../../addon/daemon/igmp/ipv4-header.ts';
import { parseIgmp } from '../../addon/daemon/igmp/codec.ts';

const VIFS: Record<string, number> = { ppp0: 0, green0: 1, blue0: 2, self: 3 };
const IFINDEX: Record<string, number> = { ppp0: 10, green0: 11, blue0: 12 };

function setup(failWith?: (name: number) => string | undefined) {
  const options: { name: number; value: Buffer }[] = [];
  const sent: { datagram: Uint8Array; destination: number; ifindex: number }[] = [];
  const logs: { level: LogLevel; message: string }[] = [];
  const execute = createEffectExecutor({
    socket: {
      send: (datagram, destination, ifindex) => void sent.push({ datagram, destination, ifindex }),
      setOption: (name, value) => {
        const code = failWith?.(name);
        if (code) throw Object.assign(new Error(`setsockopt failed: ${code}`), { code });
        options.push({ name, value });
      },
    },
    vifs: { vifOf: (name) => VIFS[name] },
    ifindexOf: (name) => IFINDEX[name],
    log: (level, message) => void logs.push({ level, message }),
  });
  return { execute, options, sent, logs };
}

const ttlsOf = (value: Buffer): number[] => [...value.subarray(MFCCTL_OFFSETS.ttls, MFCCTL_OFFSETS.ttls + 32)];

describe('createEffectExecutor', () => {
  test('set-route: MRT_ADD_MFC with the input VIF and per-output thresholds (at least 1, never the input)', () => {
    const { execute, options, logs } = setup();
    execute([
      {
        type: 'set-route',
        source: 0x0a000001,
        group: 0xef000001,
        input: 'ppp0',
        rateLimit: 0,
        outputs: [
          { interface: 'green0', threshold: 1 },
          { interface: 'blue0', threshold: 0 },
          { interface: 'ppp0', threshold: 1 },
          { interface: 'gone0', threshold: 1 },
        ],
      },
    ]);
    expect(options).toHaveLength(1);
    const [{ name, value }] = options as [{ name: number; value: Buffer }];
    expect(name).toBe(MRT_ADD_MFC);
    expect(value.readUInt32BE(MFCCTL_OFFSETS.origin)).toBe(0x0a000001);
    expect(value.readUInt32BE(MFCCTL_OFFSETS.mcastgrp)).toBe(0xef000001);
    expect(value.readUInt16LE(MFCCTL_OFFSETS.parent)).toBe(0);
    const ttls = ttlsOf(value);
    expect(ttls.slice(0, 4)).toEqual([0, 1, 1, 0]);
    expect(logs).toEqual([{ level: 'warning', message: expect.stringContaining('gone0 has no VIF') }]);
  });

  test('delete-route: MRT_DEL_MFC for (S,G); a missing route (ENOENT) is only a debug message', () => {
    const { execute, options } = setup();
    execute([{ type: 'delete-route', source: 0x0a000001, group: 0xef000001, input: 'ppp0' }]);
    expect(options.map((option) => option.name)).toEqual([MRT_DEL_MFC]);
    const failing = setup((name) => (name === MRT_DEL_MFC ? 'ENOENT' : undefined));
    failing.execute([{ type: 'delete-route', source: 1, group: 0xef000001, input: 'ppp0' }]);
    expect(failing.logs).toEqual([{ level: 'debug', message: expect.stringMatching(/delete-route .*ENOENT/) }]);
  });

  test('send-igmp: an IPv4 datagram with TTL 1, TOS 0xc0, Router Alert, sent on the interface ifindex', () => {
    const { execute, sent } = setup();
    const effect: Effect = {
      type: 'send-igmp',
      interface: 'green0',
      source: 0xc0a80101,
      destination: 0xe0000001,
      message: { type: 'query', version: 2, maxResponseMs: 10_000, group: 0 },
    };
    execute([effect]);
    expect(sent).toHaveLength(1);
    const [{ datagram, destination, ifindex }] = sent as [
      { datagram: Uint8Array; destination: number; ifindex: number },
    ];
    expect({ destination, ifindex }).toEqual({ destination: 0xe0000001, ifindex: 11 });
    const packet = parseIpv4Packet(datagram);
    expect(packet.ok && { ...packet.value, payload: undefined }).toEqual({
      source: 0xc0a80101,
      destination: 0xe0000001,
      ttl: 1,
      tos: 0xc0,
      protocol: 2,
      routerAlert: true,
      payload: undefined,
    });
    expect(packet.ok && parseIgmp(packet.value.payload)).toEqual({ ok: true, value: effect.message });
    expect(encodeIgmpDatagrams(effect as Extract<Effect, { type: 'send-igmp' }>)).toEqual([datagram]);
  });

  test('send-igmp: a v3 report with 500 groups goes out as several datagrams within the PPPoE MTU, all records kept', () => {
    const { execute, sent } = setup();
    const records = Array.from({ length: 500 }, (_, i) => ({
      recordType: 'is-exclude' as const,
      group: 0xef010000 + i,
      sources: [],
    }));
    execute([
      {
        type: 'send-igmp',
        interface: 'ppp0',
        source: 0x0a000002,
        destination: 0xe0000016,
        message: { type: 'v3-report', records },
      },
    ]);
    expect(sent.length).toBeGreaterThan(1);
    const received: number[] = [];
    for (const { datagram, destination, ifindex } of sent) {
      expect(datagram.length).toBeLessThanOrEqual(IGMP_DATAGRAM_LIMIT);
      expect({ destination, ifindex }).toEqual({ destination: 0xe0000016, ifindex: 10 });
      const packet = parseIpv4Packet(datagram);
      if (!packet.ok) throw new Error(packet.reason);
      const message = parseIgmp(packet.value.payload);
      if (!message.ok || message.value.type !== 'v3-report') throw new Error('not a v3 report');
      received.push(...message.value.records.map((record) => record.group));
    }
    expect(received).toEqual(records.map((record) => record.group));
  });

  test('one failing effect is logged as a warning and the following effects still run', () => {
    const { execute, options, sent, logs } = setup((name) => (name === MRT_ADD_MFC ? 'ENODEV' : undefined));
    execute([
      {
        type: 'send-igmp',
        interface: 'vanished0',
        source: 1,
        destination: 0xe0000001,
        message: { type: 'query', version: 2, maxResponseMs: 10_000, group: 0 },
      },
      { type: 'set-route', source: 1, group: 0xef000001, input: 'ppp0', outputs: [], rateLimit: 0 },
      { type: 'set-route', source: 1, group: 0xef000001, input: 'nowhere', outputs: [], rateLimit: 0 },
      { type: 'delete-route', source: 1, group: 0xef000001, input: 'ppp0' },
      { type: 'log', level: 'notice', message: 'done' },
    ]);
    expect(sent).toEqual([]);
    expect(options.map((option) => option.name)).toEqual([MRT_DEL_MFC]);
    expect(logs).toEqual([
      { level: 'warning', message: expect.stringMatching(/^send-igmp .*vanished0.*not present/) },
      { level: 'warning', message: expect.stringMatching(/^set-route .*ENODEV/) },
      { level: 'warning', message: expect.stringMatching(/^set-route .*nowhere has no VIF/) },
      { level: 'notice', message: 'done' },
    ]);
  });
});
