import { describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS, GENERAL_QUERY_VERSION } from '../../addon/daemon/core/settings.ts';
import { groupAllowed, groupFilterAllows, isProxiableGroup } from '../../addon/daemon/core/filters.ts';
import { ip, phyint } from './harness.ts';

describe('protocol settings (RFC 3376 section 8 defaults)', () => {
  it('has every derived value', () => {
    const s = DEFAULT_SETTINGS;
    expect(s.robustness).toBe(2);
    expect(s.queryIntervalMs).toBe(125_000);
    expect(s.queryResponseIntervalMs).toBe(10_000);
    expect(s.groupMembershipIntervalMs).toBe(260_000);
    expect(s.otherQuerierPresentIntervalMs).toBe(255_000);
    expect(s.startupQueryIntervalMs).toBe(31_250);
    expect(s.startupQueryCount).toBe(2);
    expect(s.lastMemberQueryIntervalMs).toBe(1_000);
    expect(s.lastMemberQueryCount).toBe(2);
    expect(s.lastMemberQueryTimeMs).toBe(2_000);
    expect(s.olderHostPresentIntervalMs).toBe(260_000);
    expect(s.unsolicitedReportIntervalV3Ms).toBe(1_000);
    expect(s.unsolicitedReportIntervalV2Ms).toBe(10_000);
    expect(s.olderVersionQuerierPresentTimeoutMs).toBe(260_000);
  });

  it('sends IGMPv3 general queries', () => {
    expect(GENERAL_QUERY_VERSION).toBe(3);
  });
});

describe('group filters', () => {
  it('never proxies link-local groups nor SSDP', () => {
    expect(isProxiableGroup(ip('224.0.0.251'))).toBe(false); // mDNS
    expect(isProxiableGroup(ip('224.0.0.1'))).toBe(false);
    expect(isProxiableGroup(ip('224.0.0.255'))).toBe(false);
    expect(isProxiableGroup(ip('239.255.255.250'))).toBe(false); // SSDP
    expect(isProxiableGroup(ip('10.0.0.1'))).toBe(false); // not multicast
    expect(isProxiableGroup(ip('224.0.1.1'))).toBe(true);
    expect(isProxiableGroup(ip('239.255.255.249'))).toBe(true);
    expect(isProxiableGroup(ip('232.1.1.1'))).toBe(true);
  });

  it('without entries allows everything', () => {
    expect(groupFilterAllows([], ip('239.1.1.1'))).toBe(true);
  });

  it('any whitelist entry makes the default deny; the last match wins', () => {
    const p = phyint('x', 'downstream', {
      filters: [
        ['allow', '239.0.0.0/8'],
        ['deny', '239.2.0.0/16'],
        ['allow', '239.2.3.0/24'],
      ],
    });
    expect(groupFilterAllows(p.groupFilters, ip('238.1.1.1'))).toBe(false);
    expect(groupFilterAllows(p.groupFilters, ip('239.1.1.1'))).toBe(true);
    expect(groupFilterAllows(p.groupFilters, ip('239.2.1.1'))).toBe(false);
    expect(groupFilterAllows(p.groupFilters, ip('239.2.3.4'))).toBe(true);
  });

  it('a blacklist alone keeps the default allow, and order matters', () => {
    const denyThenAllow = phyint('x', 'downstream', {
      filters: [
        ['deny', '239.0.0.0/8'],
        ['allow', '239.1.0.0/16'],
      ],
    }).groupFilters;
    const allowThenDeny = phyint('x', 'downstream', {
      filters: [
        ['allow', '239.1.0.0/16'],
        ['deny', '239.0.0.0/8'],
      ],
    }).groupFilters;
    const blacklistOnly = phyint('x', 'downstream', { filters: [['deny', '239.0.0.0/8']] }).groupFilters;
    expect(groupFilterAllows(denyThenAllow, ip('239.1.2.3'))).toBe(true);
    expect(groupFilterAllows(allowThenDeny, ip('239.1.2.3'))).toBe(false);
    expect(groupFilterAllows(blacklistOnly, ip('239.1.2.3'))).toBe(false);
    expect(groupFilterAllows(blacklistOnly, ip('238.1.2.3'))).toBe(true);
  });

  it('a whitelist cannot let a local-only group through', () => {
    const filters = phyint('x', 'downstream', { filters: [['allow', '224.0.0.0/4']] }).groupFilters;
    expect(groupAllowed(filters, ip('224.0.0.251'))).toBe(false);
    expect(groupAllowed(filters, ip('239.255.255.250'))).toBe(false);
    expect(groupAllowed(filters, ip('239.1.1.1'))).toBe(true);
  });
});
