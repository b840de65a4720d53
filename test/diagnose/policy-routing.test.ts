// `igmpproxy diagnose` (main.ts, the native shim loaded as the daemon loads it) in a network
// namespace whose route back to the altnet sources comes from a policy rule and a table
// other than main: diagnose asks the kernel (RTM_GETROUTE), so it sees what the kernel's
// reverse-path check sees. A reading of the main table alone would say the sources route
// back through the upstream. No multicast routing needed: no daemon runs.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { checkNetnsSupport, NetnsLab } from '../../scripts/lab/netns.ts';
import type { Netns } from '../../scripts/lab/netns.ts';
import { testNode } from '../../scripts/lab/test-node.ts';
import { ensureShim, repositoryRoot } from '../kernel/support.ts';

const PREFIX = 'ru4';
const UP = 'ru4up';
const OTHER = 'ru4oth';
const TABLE = '4711';
const MAIN = path.join(repositoryRoot, 'addon', 'daemon', 'main.ts');
const support = checkNetnsSupport(PREFIX);
if (!support.available) console.warn(`diagnose policy-routing test skipped: ${support.reason}`);

interface Check {
  id: string;
  ok: boolean;
  message: string;
  fix: string | null;
}

describe.skipIf(!support.available)('diagnose follows policy routing', () => {
  const lab = new NetnsLab(PREFIX);
  let router: Netns;
  let dir = '';
  let config = '';

  beforeAll(async () => {
    await ensureShim();
    router = await lab.createNamespace('router');
    const isp = await lab.createNamespace('isp');
    await lab.connect(router, UP, isp, 'ru4ispup');
    await lab.connect(router, OTHER, isp, 'ru4ispoth');
    for (const [name, address] of [
      [UP, '10.99.0.2/24'],
      [OTHER, '10.98.0.2/24'],
    ] as const) {
      await router.addAddress(name, address);
      await router.up(name);
    }
    for (const [name, address] of [
      ['ru4ispup', '10.99.0.1/24'],
      ['ru4ispoth', '10.98.0.1/24'],
    ] as const) {
      await isp.addAddress(name, address);
      await isp.up(name);
    }
    // Main table: everything, the IPTV sources included, back through the upstream.
    await router.ip('route', 'add', 'default', 'via', '10.99.0.1', 'dev', UP);
    await router.sysctl(`net.ipv4.conf.${UP}.rp_filter`, 1);
    dir = await mkdtemp(path.join(tmpdir(), `${PREFIX}-diagnose-`));
    config = path.join(dir, 'igmpproxy.conf');
    await writeFile(config, `phyint ${UP} upstream\n  altnet 203.0.113.0/24\nphyint ${OTHER} downstream\n`);
  }, 60_000);

  afterAll(async () => {
    await lab.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 30_000);

  async function rpCheck(): Promise<Check | undefined> {
    const result = await router.exec(
      [
        ...testNode,
        '--no-warnings',
        MAIN,
        'diagnose',
        '--json',
        '--pidfile',
        path.join(dir, 'none.pid'),
        '--status-file',
        path.join(dir, 'none.status'),
        config,
      ],
      30_000,
    );
    const report = JSON.parse(result.stdout) as { checks: Check[] };
    return report.checks.find((check) => check.id === 'upstream-rp-filter');
  }

  test('sources routed back through the upstream by the main table: ok', async () => {
    expect(await rpCheck()).toMatchObject({
      ok: true,
      message: `rp_filter 1 (strict) on ${UP}; the stream sources route back through ${UP}`,
    });
  });

  test('a policy rule sends them through another table and interface: strict mode drops them, and diagnose says so', async () => {
    await router.ip('route', 'add', '203.0.113.0/24', 'via', '10.98.0.1', 'dev', OTHER, 'table', TABLE);
    await router.ip('rule', 'add', 'to', '203.0.113.0/24', 'lookup', TABLE);
    try {
      expect(await rpCheck()).toMatchObject({
        ok: false,
        message:
          `rp_filter 1 (strict) on ${UP}, and the stream sources 203.0.113.0/24 route back via ${OTHER}, not ${UP}: ` +
          'the kernel drops these streams before igmpproxy sees them',
        // No daemon runs, and the config leaves rpfilter at auto: starting it is the fix.
        fix: expect.stringMatching(
          /^\/etc\/rc.d\/init.d\/igmpproxy start: with "rpfilter auto" igmpproxy sets ru4up to loose itself/,
        ),
      });
    } finally {
      await router.ip('rule', 'del', 'to', '203.0.113.0/24', 'lookup', TABLE);
    }
  });
});
