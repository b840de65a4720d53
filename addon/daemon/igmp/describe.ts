// One-line renderings of IGMP messages for debug logs. Source lists are cut short so a
// report with thousands of sources cannot flood the log.
import { formatIpv4 } from '../net/ipv4.ts';
import type { Ipv4 } from '../net/ipv4.ts';
import type { GroupRecord, IgmpMessage, IgmpQuery } from './types.ts';

const SOURCES_SHOWN = 8;

/** e.g. "v2 report 239.35.10.1", "v3 general query maxresp 10s qrv 2 qqic 125s". */
export function describeIgmp(message: IgmpMessage): string {
  switch (message.type) {
    case 'query':
      return describeQuery(message);
    case 'v1-report':
      return `v1 report ${formatIpv4(message.group)}`;
    case 'v2-report':
      return `v2 report ${formatIpv4(message.group)}`;
    case 'v2-leave':
      return `v2 leave ${formatIpv4(message.group)}`;
    case 'v3-report':
      if (message.records.length === 0) return 'v3 report: no records';
      return `v3 report: ${message.records.map(describeRecord).join('; ')}`;
  }
}

function describeQuery(query: IgmpQuery): string {
  const sources = query.v3?.sources ?? [];
  let subject: string;
  if (query.group === 0 && sources.length === 0) subject = 'general query';
  else if (sources.length === 0) subject = `group query ${formatIpv4(query.group)}`;
  else subject = `group-and-source query ${formatIpv4(query.group)} ${describeSources(sources)}`;
  if (query.version === 1) return `v1 ${subject}`;
  const maxResp = `maxresp ${seconds(query.maxResponseMs / 1000)}`;
  if (query.version === 2 || query.v3 === undefined) return `v${query.version} ${subject} ${maxResp}`;
  const { robustness, queryIntervalSeconds, suppressRouterSide } = query.v3;
  const suppress = suppressRouterSide ? ' suppress' : '';
  return `v3 ${subject} ${maxResp} qrv ${robustness} qqic ${seconds(queryIntervalSeconds)}${suppress}`;
}

function describeRecord(record: GroupRecord): string {
  return `${record.recordType} ${formatIpv4(record.group)} ${describeSources(record.sources)}`;
}

function describeSources(sources: readonly Ipv4[]): string {
  const shown = sources.slice(0, SOURCES_SHOWN).map(formatIpv4);
  if (sources.length > SOURCES_SHOWN) shown.push(`... +${sources.length - SOURCES_SHOWN} more`);
  return `{${shown.join(', ')}}`;
}

function seconds(value: number): string {
  // Rounded to ms so binary fractions (0.30000000000000004) do not leak into logs.
  return `${Math.round(value * 1000) / 1000}s`;
}
