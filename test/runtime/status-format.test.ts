// The status document against its documentation (docs/status-format.md): a document written
// by the real status builder and writer from a real core, with every kind of field filled,
// read back from the file and walked field by field against the doc's table. The daemon's
// own document is checked the same way in test/e2e/stall.test.ts (needs multicast routing).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../addon/daemon/config/parser.ts';
import { IgmpProxyCore } from '../../addon/daemon/core/proxy.ts';
import { StallWatch } from '../../addon/daemon/runtime/stall-watch.ts';
import { buildStatus, STATUS_SCHEMA, writeStatusFile } from '../../addon/daemon/runtime/status.ts';
import { checkStatusDocument, documentedFields } from '../helpers/status-format.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'ipst-status-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A document with every field present: stats for VIFs, sources, another querier, a stall. */
function fullDocument(): unknown {
  const parsed = parseConfig(
    'phyint ppp0 upstream\n  altnet 10.1.2.0/24\nphyint green0 downstream\n',
    'igmpproxy.conf',
  );
  if (!parsed.ok) throw new Error('config invalid');
  let now = 0;
  const proxy = new IgmpProxyCore(parsed.config, { now: () => now, random: () => 0.5 });
  proxy.interfaceUp({ name: 'ppp0', ifindex: 7, address: 0x54000001, prefixLength: 32 });
  proxy.interfaceUp({ name: 'green0', ifindex: 3, address: 0xc0a80001, prefixLength: 24 });
  now = 1_000;
  proxy.receiveIgmp(
    'ppp0',
    { source: 0x54000002, destination: 0xe0000001, routerAlert: true, ttl: 1 },
    {
      type: 'query',
      version: 3,
      maxResponseMs: 10_000,
      group: 0,
      v3: { suppressRouterSide: false, robustness: 2, queryIntervalSeconds: 60, sources: [] },
    },
  );
  proxy.receiveIgmp(
    'green0',
    { source: 0xc0a80000, destination: 0xe0000001, routerAlert: true, ttl: 1 },
    {
      type: 'query',
      version: 3,
      maxResponseMs: 10_000,
      group: 0,
      v3: { suppressRouterSide: false, robustness: 2, queryIntervalSeconds: 125, sources: [] },
    },
  );
  proxy.receiveIgmp(
    'green0',
    { source: 0xc0a80064, destination: 0xe0000016, routerAlert: true, ttl: 1 },
    {
      type: 'v3-report',
      records: [{ recordType: 'allow', group: 0xe8010101, sources: [0x0a010203] }],
    },
  );
  // a report routed here (TTL 64) is refused and counted
  proxy.receiveIgmp(
    'green0',
    { source: 0xc0a80065, destination: 0xe0000016, routerAlert: false, ttl: 64 },
    {
      type: 'v3-report',
      records: [{ recordType: 'allow', group: 0xe8010102, sources: [0x0a010203] }],
    },
  );
  proxy.receiveUpcall('ppp0', { kind: 'nocache', source: 0x0a010203, group: 0xe8010101 });
  // A source outside the subnet and every altnet: refused, listed in refusedSources.
  proxy.receiveUpcall('ppp0', { kind: 'nocache', source: 0x0b000001, group: 0xe8010101 });
  const stalls = new StallWatch(10_000);
  stalls.observe(0, [{ source: 0x0a010203, group: 0xe8010101, input: 'ppp0', packets: 5 }]);
  stalls.observe(12_000, [{ source: 0x0a010203, group: 0xe8010101, input: 'ppp0', packets: 5 }]);
  const status = buildStatus({
    version: '1.0.0',
    configFile: '/etc/igmpproxy.conf',
    configLoadedAt: new Date(0),
    startedAt: new Date(0),
    now: new Date(12_000),
    vifs: [
      { name: 'ppp0', ifindex: 7, vif: 0 },
      { name: 'green0', ifindex: 3, vif: 1 },
    ],
    vifStats: [{ vif: 0, name: 'ppp0', bytesIn: 1000, packetsIn: 10, bytesOut: 0, packetsOut: 0, flags: 0 }],
    mfc: [
      {
        group: 0xe8010101,
        source: 0x0a010203,
        inputVif: 0,
        packets: 5,
        bytes: 600,
        wrongInterface: 0,
        outputs: [{ vif: 1, ttl: 1 }],
      },
    ],
    waitingFor: ['blue0'],
    proxy: proxy.snapshot(),
    stallAlarm: { afterSeconds: 10, groups: stalls.status(12_000) },
  });
  const file = path.join(dir, 'igmpproxy.status');
  writeStatusFile(file, status);
  return JSON.parse(readFileSync(file, 'utf8'));
}

describe('docs/status-format.md', () => {
  it('says schema 1, as the daemon writes', () => {
    expect(STATUS_SCHEMA).toBe(1);
    expect((fullDocument() as { schema: number }).schema).toBe(1);
    expect(documentedFields().get('schema')).toEqual({ types: new Set(['number']), optional: false });
  });

  it('a written document matches the table field by field, and uses every documented field', () => {
    const seen = new Set<string>();
    expect(checkStatusDocument(fullDocument(), documentedFields(), seen)).toEqual([]);
    expect([...documentedFields().keys()].filter((field) => !seen.has(field))).toEqual([]);
  });

  it('the check catches an undocumented field, a wrong type and a missing field', () => {
    const document = fullDocument() as Record<string, unknown> & { stallAlarm: Record<string, unknown> };
    document.extra = 1;
    document.pid = '1';
    delete document.stallAlarm.afterSeconds;
    expect(checkStatusDocument(document)).toEqual([
      '`pid` is string, documented as number',
      '`stallAlarm.afterSeconds` is documented but missing',
      '`extra` (number) is not in docs/status-format.md',
    ]);
  });

  it('a field that may be absent may be absent', () => {
    const document = fullDocument() as { vifs: Record<string, unknown>[] };
    expect(document.vifs[1]).not.toHaveProperty('packetsIn');
    expect(checkStatusDocument(document)).toEqual([]);
  });
});
