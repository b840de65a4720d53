// The struct layouts and constants of mroute.ts against the real Linux headers: a tiny C
// program prints sizeof/offsetof/values, and the packers' bytes are compared field by field.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import * as mroute from '../../addon/daemon/kernel/mroute.ts';

const hasCompiler = spawnSync('gcc', ['--version']).status === 0;
if (!hasCompiler) console.warn('mroute layout tests skipped: gcc is not installed');

const PROGRAM = String.raw`
#include <stdio.h>
#include <stddef.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <linux/mroute.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#define V(name) printf("\"%s\": %ld,\n", #name, (long)(name))
#define O(type, field) printf("\"%s.%s\": %ld,\n", #type, #field, (long)offsetof(struct type, field))
#define S(type) printf("\"sizeof %s\": %ld,\n", #type, (long)sizeof(struct type))
int main(void) {
  printf("{\n");
  V(AF_INET); V(AF_NETLINK); V(SOCK_RAW); V(SOL_SOCKET); V(SO_RCVBUF); V(IPPROTO_IP); V(IPPROTO_IGMP);
  V(NETLINK_ROUTE); V(RTMGRP_LINK); V(RTMGRP_IPV4_IFADDR);
  V(IP_HDRINCL); V(IP_PKTINFO); V(IP_MULTICAST_IF); V(IP_MULTICAST_TTL); V(IP_MULTICAST_LOOP);
  V(IP_ADD_MEMBERSHIP); V(IP_DROP_MEMBERSHIP);
  V(MRT_INIT); V(MRT_DONE); V(MRT_ADD_VIF); V(MRT_DEL_VIF); V(MRT_ADD_MFC); V(MRT_DEL_MFC); V(MRT_VERSION);
  V(MRT_ASSERT); V(MRT_PIM); V(MRT_TABLE); V(MRT_FLUSH); V(MRT_FLUSH_MFC); V(MRT_FLUSH_VIFS);
  V(MAXVIFS); V(VIFF_USE_IFINDEX);
  S(vifctl); O(vifctl, vifc_vifi); O(vifctl, vifc_flags); O(vifctl, vifc_threshold); O(vifctl, vifc_rate_limit);
  O(vifctl, vifc_lcl_ifindex); O(vifctl, vifc_rmt_addr);
  S(mfcctl); O(mfcctl, mfcc_origin); O(mfcctl, mfcc_mcastgrp); O(mfcctl, mfcc_parent); O(mfcctl, mfcc_ttls);
  O(mfcctl, mfcc_pkt_cnt); O(mfcctl, mfcc_byte_cnt); O(mfcctl, mfcc_wrong_if); O(mfcctl, mfcc_expire);
  S(ip_mreqn); O(ip_mreqn, imr_multiaddr); O(ip_mreqn, imr_address); O(ip_mreqn, imr_ifindex);
  printf("\"sizeof vifi_t\": %ld\n}\n", (long)sizeof(vifi_t));
  return 0;
}
`;

function readHeaderFacts(): Record<string, number> {
  const dir = mkdtempSync(path.join(tmpdir(), 'ipk4-layout-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'layout.c'), PROGRAM);
  execFileSync('gcc', ['-Wall', '-Werror', '-o', path.join(dir, 'layout'), path.join(dir, 'layout.c')], {
    timeout: 30_000,
  });
  return JSON.parse(execFileSync(path.join(dir, 'layout'), { encoding: 'utf8', timeout: 10_000 })) as Record<
    string,
    number
  >;
}

const cleanups: (() => void)[] = [];
afterAll(() => {
  for (const cleanup of cleanups) cleanup();
});

describe.skipIf(!hasCompiler)('mroute.ts matches <linux/mroute.h> and <linux/in.h>', () => {
  const facts = hasCompiler ? readHeaderFacts() : {};

  test('constants have the header values', () => {
    const names = [
      'AF_INET',
      'AF_NETLINK',
      'SOCK_RAW',
      'SOL_SOCKET',
      'SO_RCVBUF',
      'IPPROTO_IP',
      'IPPROTO_IGMP',
      'NETLINK_ROUTE',
      'RTMGRP_LINK',
      'RTMGRP_IPV4_IFADDR',
      'IP_HDRINCL',
      'IP_PKTINFO',
      'IP_MULTICAST_IF',
      'IP_MULTICAST_TTL',
      'IP_MULTICAST_LOOP',
      'IP_ADD_MEMBERSHIP',
      'IP_DROP_MEMBERSHIP',
      'MRT_INIT',
      'MRT_DONE',
      'MRT_ADD_VIF',
      'MRT_DEL_VIF',
      'MRT_ADD_MFC',
      'MRT_DEL_MFC',
      'MRT_VERSION',
      'MRT_ASSERT',
      'MRT_PIM',
      'MRT_TABLE',
      'MRT_FLUSH',
      'MRT_FLUSH_MFC',
      'MRT_FLUSH_VIFS',
      'MAXVIFS',
      'VIFF_USE_IFINDEX',
    ] as const;
    // biome-ignore lint/performance/noDynamicNamespaceImportAccess: a test reads every constant by name
    for (const name of names) expect({ name, value: mroute[name] }).toEqual({ name, value: facts[name] });
  });

  test('struct sizes and field offsets match', () => {
    expect(mroute.VIFCTL_BYTES).toBe(facts['sizeof vifctl']);
    expect(mroute.MFCCTL_BYTES).toBe(facts['sizeof mfcctl']);
    expect(mroute.IP_MREQN_BYTES).toBe(facts['sizeof ip_mreqn']);
    expect(facts['sizeof vifi_t']).toBe(2);
    expect(mroute.VIFCTL_OFFSETS).toEqual({
      vifi: facts['vifctl.vifc_vifi'],
      flags: facts['vifctl.vifc_flags'],
      threshold: facts['vifctl.vifc_threshold'],
      rateLimit: facts['vifctl.vifc_rate_limit'],
      lclIfindex: facts['vifctl.vifc_lcl_ifindex'],
      rmtAddr: facts['vifctl.vifc_rmt_addr'],
    });
    expect(mroute.MFCCTL_OFFSETS).toEqual({
      origin: facts['mfcctl.mfcc_origin'],
      mcastgrp: facts['mfcctl.mfcc_mcastgrp'],
      parent: facts['mfcctl.mfcc_parent'],
      ttls: facts['mfcctl.mfcc_ttls'],
      pktCnt: facts['mfcctl.mfcc_pkt_cnt'],
      byteCnt: facts['mfcctl.mfcc_byte_cnt'],
      wrongIf: facts['mfcctl.mfcc_wrong_if'],
      expire: facts['mfcctl.mfcc_expire'],
    });
    expect(mroute.IP_MREQN_OFFSETS).toEqual({
      multiaddr: facts['ip_mreqn.imr_multiaddr'],
      address: facts['ip_mreqn.imr_address'],
      ifindex: facts['ip_mreqn.imr_ifindex'],
    });
  });
});

describe('packers put each field where the kernel reads it', () => {
  test('vifctl: VIF number, VIFF_USE_IFINDEX, threshold, ifindex', () => {
    const bytes = mroute.packVifctl(7, 0x1234, 3);
    expect(bytes.length).toBe(mroute.VIFCTL_BYTES);
    expect(bytes.readUInt16LE(mroute.VIFCTL_OFFSETS.vifi)).toBe(7);
    expect(bytes[mroute.VIFCTL_OFFSETS.flags]).toBe(mroute.VIFF_USE_IFINDEX);
    expect(bytes[mroute.VIFCTL_OFFSETS.threshold]).toBe(3);
    expect(bytes.readInt32LE(mroute.VIFCTL_OFFSETS.lclIfindex)).toBe(0x1234);
    expect(bytes.readUInt32LE(mroute.VIFCTL_OFFSETS.rateLimit)).toBe(0);
    expect(() => mroute.packVifctl(32, 1)).toThrow(RangeError);
  });

  test('mfcctl: addresses in network order, parent, TTL per VIF, counters zero', () => {
    const bytes = mroute.packMfcctl(
      0x0a010002,
      0xef010101,
      2,
      new Map([
        [0, 1],
        [31, 64],
      ]),
    );
    expect(bytes.length).toBe(mroute.MFCCTL_BYTES);
    expect([...bytes.subarray(0, 8)]).toEqual([10, 1, 0, 2, 239, 1, 1, 1]);
    expect(bytes.readUInt16LE(mroute.MFCCTL_OFFSETS.parent)).toBe(2);
    const ttls = [...bytes.subarray(mroute.MFCCTL_OFFSETS.ttls, mroute.MFCCTL_OFFSETS.ttls + mroute.MAXVIFS)];
    expect(ttls[0]).toBe(1);
    expect(ttls[31]).toBe(64);
    expect(ttls.filter((ttl) => ttl !== 0)).toHaveLength(2);
    expect([...bytes.subarray(mroute.MFCCTL_OFFSETS.pktCnt)].every((byte) => byte === 0)).toBe(true);
    expect(() => mroute.packMfcctl(0, 0, 0, new Map([[1, 256]]))).toThrow(RangeError);
  });

  test('ip_mreqn: group and address in network order, ifindex native', () => {
    const bytes = mroute.packIpMreqn(0xe0000016, 9, 0xc0a80001);
    expect([...bytes.subarray(0, 8)]).toEqual([224, 0, 0, 22, 192, 168, 0, 1]);
    expect(bytes.readInt32LE(mroute.IP_MREQN_OFFSETS.ifindex)).toBe(9);
  });
});
