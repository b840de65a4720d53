// Admission checks (core/admission.ts) are pure: they admit (undefined) or return the
// refusal with its log line and, for causes that traffic repeats, a throttle key.
import { describe, expect, it } from 'vitest';
import {
  refuseAnySourceRequest,
  refuseReportedGroup,
  refuseSender,
  refuseUpcallGroup,
  refuseUpcallSource,
} from '../../addon/daemon/core/admission.ts';
import type { InterfaceInfo } from '../../addon/daemon/core/effects.ts';
import { ip, phyint } from './harness.ts';

const lanInfo: InterfaceInfo = { name: 'lan1', ifindex: 3, address: ip('192.168.1.1'), prefixLength: 24 };
const lan = phyint('lan1', 'downstream', { altnets: ['10.9.9.9/32'], filters: [['deny', '239.9.0.0/16']] });
const upInfo: InterfaceInfo = { name: 'eth0', ifindex: 2, address: ip('100.64.0.2'), prefixLength: 24 };
const up = phyint('eth0', 'upstream', { altnets: ['198.51.100.0/24'], filters: [['allow', '239.0.0.0/8']] });

describe('senders on a downstream', () => {
  it('admits the subnet, an altnet and the unnumbered 0.0.0.0', () => {
    expect(refuseSender(lanInfo, lan, ip('192.168.1.20'))).toBeUndefined();
    expect(refuseSender(lanInfo, lan, ip('10.9.9.9'))).toBeUndefined();
    expect(refuseSender(lanInfo, lan, 0)).toBeUndefined();
  });

  it('refuses others with the altnet line to add, throttled per host', () => {
    expect(refuseSender(lanInfo, lan, ip('172.16.0.5'))).toEqual({
      level: 'info',
      throttleKey: `sender lan1 ${ip('172.16.0.5')}`,
      message: expect.stringMatching(
        /^lan1: ignoring IGMP from 172\.16\.0\.5: not in 192\.168\.1\.1\/24 .*add "altnet 172\.16\.0\.5\/32" to "phyint lan1"/,
      ),
    });
  });
});

describe('groups reported on a downstream', () => {
  it('admits what the filters allow; refuses denied and local-only groups, every time (debug)', () => {
    expect(refuseReportedGroup('lan1', lan, ip('239.1.1.1'), ip('192.168.1.20'))).toBeUndefined();
    expect(refuseReportedGroup('lan1', lan, ip('239.9.1.1'), ip('192.168.1.20'))).toEqual({
      level: 'debug',
      message: 'lan1: report for 239.9.1.1 from 192.168.1.20 ignored: denied by its whitelist/blacklist',
    });
    expect(refuseReportedGroup('lan1', lan, ip('224.0.0.251'), ip('192.168.1.20'))?.message).toMatch(
      /ignored: a local-only group$/,
    );
  });

  it('refuses a request for any source only in the SSM range, throttled per host', () => {
    expect(refuseAnySourceRequest('lan1', ip('239.1.1.1'), ip('192.168.1.20'), 'IGMPv2 report')).toBeUndefined();
    const refusal = refuseAnySourceRequest('lan1', ip('232.1.1.1'), ip('192.168.1.20'), 'IGMPv2 report');
    expect(refusal?.throttleKey).toBe(`ssm lan1 ${ip('192.168.1.20')}`);
    expect(refusal?.message).toMatch(
      /^lan1: IGMPv2 report for 232\.1\.1\.1 from 192\.168\.1\.20 ignored: in the source-specific range/,
    );
  });
});

describe('upcalls on an upstream', () => {
  it('routes only groups the upstream may carry', () => {
    expect(refuseUpcallGroup('eth0', up, ip('198.51.100.1'), ip('239.1.1.1'))).toBeUndefined();
    expect(refuseUpcallGroup('eth0', up, ip('198.51.100.1'), ip('238.1.1.1'))).toEqual({
      level: 'debug',
      message: 'eth0: (198.51.100.1, 238.1.1.1) not routed: group not allowed on this upstream',
    });
    expect(refuseUpcallGroup('eth0', up, ip('198.51.100.1'), ip('239.255.255.250'))).toBeDefined();
  });

  it('admits sources in the subnet or an altnet', () => {
    expect(refuseUpcallSource(upInfo, up, ip('100.64.0.1'), ip('239.1.1.1'))).toBeUndefined();
    expect(refuseUpcallSource(upInfo, up, ip('198.51.100.7'), ip('239.1.1.1'))).toBeUndefined();
  });

  it('a foreign source gets the altnet warning, throttled per source /24', () => {
    expect(refuseUpcallSource(upInfo, up, ip('203.0.113.9'), ip('239.1.1.1'))).toEqual({
      level: 'warning',
      throttleKey: `source eth0 ${ip('203.0.113.0')}`,
      message: expect.stringMatching(
        /^eth0: multicast \(203\.0\.113\.9, 239\.1\.1\.1\) comes from outside 100\.64\.0\.2\/24 .*add "altnet 203\.0\.113\.0\/24"/,
      ),
    });
  });

  it('without an address the upcall waits, with no altnet advice', () => {
    const refusal = refuseUpcallSource(
      { ...upInfo, address: 0, prefixLength: 0 },
      up,
      ip('100.64.0.1'),
      ip('239.1.1.1'),
    );
    expect(refusal).toEqual({
      level: 'info',
      message:
        'eth0: multicast (100.64.0.1, 239.1.1.1) waits: this upstream has no IPv4 address yet and no altnet covers the source',
    });
  });
});
