import { describe, expect, it } from 'vitest';
import { describeIgmp } from '../../addon/daemon/igmp/describe.ts';
import { ip, sources } from './helpers.ts';

describe('describeIgmp', () => {
  it('renders reports and leaves', () => {
    expect(describeIgmp({ type: 'v2-report', group: ip('239.35.10.1') })).toBe('v2 report 239.35.10.1');
    expect(describeIgmp({ type: 'v1-report', group: ip('224.1.1.1') })).toBe('v1 report 224.1.1.1');
    expect(describeIgmp({ type: 'v2-leave', group: ip('239.35.10.1') })).toBe('v2 leave 239.35.10.1');
    expect(
      describeIgmp({
        type: 'v3-report',
        records: [
          { recordType: 'to-exclude', group: ip('239.1.1.1'), sources: [] },
          { recordType: 'allow', group: ip('232.1.1.1'), sources: [ip('10.0.0.1')] },
        ],
      }),
    ).toBe('v3 report: to-exclude 239.1.1.1 {}; allow 232.1.1.1 {10.0.0.1}');
    expect(describeIgmp({ type: 'v3-report', records: [] })).toBe('v3 report: no records');
  });

  it('renders queries of each version', () => {
    expect(describeIgmp({ type: 'query', version: 1, maxResponseMs: 10_000, group: 0 })).toBe('v1 general query');
    expect(describeIgmp({ type: 'query', version: 2, maxResponseMs: 10_000, group: 0 })).toBe(
      'v2 general query maxresp 10s',
    );
    expect(describeIgmp({ type: 'query', version: 2, maxResponseMs: 1_000, group: ip('239.1.1.1') })).toBe(
      'v2 group query 239.1.1.1 maxresp 1s',
    );
    const v3 = { suppressRouterSide: false, robustness: 2, queryIntervalSeconds: 125, sources: [] };
    expect(describeIgmp({ type: 'query', version: 3, maxResponseMs: 10_000, group: 0, v3 })).toBe(
      'v3 general query maxresp 10s qrv 2 qqic 125s',
    );
    expect(
      describeIgmp({
        type: 'query',
        version: 3,
        maxResponseMs: 300,
        group: ip('232.1.1.1'),
        v3: { ...v3, suppressRouterSide: true, sources: [ip('10.0.0.1'), ip('10.0.0.2')] },
      }),
    ).toBe('v3 group-and-source query 232.1.1.1 {10.0.0.1, 10.0.0.2} maxresp 0.3s qrv 2 qqic 125s suppress');
  });

  it('cuts long source lists', () => {
    const text = describeIgmp({
      type: 'v3-report',
      records: [{ recordType: 'allow', group: ip('232.1.1.1'), sources: sources(1000) }],
    });
    expect(text).toBe(
      'v3 report: allow 232.1.1.1 {10.0.0.1, 10.0.0.2, 10.0.0.3, 10.0.0.4, 10.0.0.5, 10.0.0.6, 10.0.0.7, 10.0.0.8, ... +992 more}',
    );
  });
});
