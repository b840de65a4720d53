// Kernel routes: NOCACHE upcalls, source checks, per-(S,G) inputs, membership changes.
import { describe, expect, it } from 'vitest';
import { LAN1, LAN2, UP, UP2, ip, ofType, standardSetup, v2Report, v3Report, record } from './harness.ts';

describe('NOCACHE upcalls', () => {
  it('set-route with the right input, outputs, thresholds and rate limit', () => {
    const sim = standardSetup({ secondUpstream: true });
    sim.igmp(LAN1, '192.168.1.20', v2Report('239.1.1.1'));
    sim.igmp(LAN2, '192.168.2.20', v2Report('239.1.1.1'));
    const effects = sim.upcall(UP2, '203.0.113.5', '239.1.1.1');
    expect(ofType(effects, 'set-route')).toEqual([
      {
        type: 'set-route',
        source: ip('203.0.113.5'),
        group: ip('239.1.1.1'),
        input: UP2,
        outputs: [
          { interface: LAN1, threshold: 1 },
          { interface: LAN2, threshold: 2 },
        ],
        rateLimit: 500,
      },
    ]);
  });

  it('accepts sources in the upstream subnet as well as in its altnets', () => {
    const sim = standardSetup();
    sim.igmp(LAN1, '192.168.1.20', v2Report('239.1.1.1'));
    expect(ofType(sim.upcall(UP, '100.64.0.77', '239.1.1.1'), 'set-route')).toHaveLength(1);
    expect(ofType(sim.upcall(UP, '198.51.100.200', '239.1.1.1'), 'set-route')).toHaveLength(1);
    expect(sim.outputs('100.64.0.77', '239.1.1.1')).toEqual(['lan1:1']);
  });

  it('source outside subnet and altnets -> no route and a warning that teaches altnet, not repeated within a minute', () => {
    const sim = standardSetup();
    sim.igmp(LAN1, '192.168.1.20', v2Report('239.1.1.1'));
    const effects = sim.upcall(UP, '217.0.119.5', '239.1.1.1');
    expect(ofType(effects, 'set-route')).toEqual([]);
    const warnings = ofType(effects, 'log').filter((l) => l.level === 'warning');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.message).toContain('217.0.119.5');
    expect(warnings[0]!.message).toContain('altnet 217.0.119.0/24');
    expect(warnings[0]!.message).toContain('phyint eth0');
    // same source network again soon: silent; a minute later: warned again
    expect(ofType(sim.upcall(UP, '217.0.119.6', '239.1.1.1'), 'log').filter((l) => l.level === 'warning')).toEqual([]);
    sim.runFor(60_000);
    expect(ofType(sim.upcall(UP, '217.0.119.6', '239.1.1.1'), 'log').filter((l) => l.level === 'warning')).toHaveLength(
      1,
    );
  });

  it('upcalls for groups without listeners make no route', () => {
    const sim = standardSetup();
    expect(ofType(sim.upcall(UP, '198.51.100.1', '239.1.1.1'), 'set-route')).toEqual([]);
    expect(sim.kernelRoutes.size).toBe(0);
  });

  it('upcalls from a downstream are never routed (no downstream->upstream nor downstream->downstream)', () => {
    const sim = standardSetup();
    sim.igmp(LAN1, '192.168.1.20', v2Report('239.1.1.1'));
    sim.igmp(LAN2, '192.168.2.20', v2Report('239.1.1.1'));
    expect(ofType(sim.upcall(LAN2, '192.168.2.20', '239.1.1.1'), 'set-route')).toEqual([]);
    expect(ofType(sim.upcall(LAN1, '192.168.1.20', '239.1.1.1'), 'set-route')).toEqual([]);
    expect(sim.kernelRoutes.size).toBe(0);
  });

  it('WRONGVIF and WHOLEPKT upcalls are ignored', () => {
    const sim = standardSetup();
    sim.igmp(LAN1, '192.168.1.20', v2Report('239.1.1.1'));
    expect(ofType(sim.upcall(UP, '198.51.100.1', '239.1.1.1', 'wrongvif'), 'set-route')).toEqual([]);
    expect(ofType(sim.upcall(UP, '198.51.100.1', '239.1.1.1', 'wholepkt'), 'set-route')).toEqual([]);
  });

  it('BEAT: a second source of the group on another upstream does not disturb the first source route', () => {
    const sim = standardSetup({ secondUpstream: true });
    sim.igmp(LAN1, '192.168.1.20', v2Report('239.1.1.1'));
    sim.upcall(UP, '198.51.100.1', '239.1.1.1');
    const effects = sim.upcall(UP2, '203.0.113.1', '239.1.1.1');
    expect(ofType(effects, 'delete-route')).toEqual([]);
    expect(ofType(effects, 'set-route').map((r) => [r.source, r.input])).toEqual([[ip('203.0.113.1'), UP2]]);
    expect(sim.route('198.51.100.1', '239.1.1.1')?.input).toBe(UP);
    expect(sim.route('203.0.113.1', '239.1.1.1')?.input).toBe(UP2);
    // a new listener updates both routes, each keeping its own input
    const more = sim.igmp(LAN2, '192.168.2.20', v2Report('239.1.1.1'));
    expect(
      ofType(more, 'set-route')
        .map((r) => `${r.input} ${r.outputs.map((o) => o.interface).join(',')}`)
        .sort(),
    ).toEqual([`${UP} lan1,lan2`, `${UP2} lan1,lan2`]);
  });

  it('an upstream whose filter denies the group does not route it', () => {
    const sim = standardSetup({ secondUpstream: true, secondUpstreamFilters: [['deny', '239.1.0.0/16']] });
    sim.igmp(LAN1, '192.168.1.20', v2Report('239.1.1.1'));
    expect(ofType(sim.upcall(UP2, '203.0.113.1', '239.1.1.1'), 'set-route')).toEqual([]);
    expect(ofType(sim.upcall(UP, '198.51.100.1', '239.1.1.1'), 'set-route')).toHaveLength(1);
  });

  it('membership changes update every (S,G) route of the group; the last listener deletes them', () => {
    const sim = standardSetup({ quickLeave: true });
    sim.igmp(LAN1, '192.168.1.20', v2Report('239.1.1.1'));
    sim.upcall(UP, '198.51.100.1', '239.1.1.1');
    sim.upcall(UP, '198.51.100.2', '239.1.1.1');
    const join = sim.igmp(LAN2, '192.168.2.20', v2Report('239.1.1.1'));
    expect(ofType(join, 'set-route')).toHaveLength(2);
    expect(sim.outputs('198.51.100.1', '239.1.1.1')).toEqual(['lan1:1', 'lan2:2']);
    const leave1 = sim.igmp(LAN1, '192.168.1.20', { type: 'v2-leave', group: ip('239.1.1.1') });
    expect(ofType(leave1, 'set-route')).toHaveLength(2);
    expect(sim.outputs('198.51.100.2', '239.1.1.1')).toEqual(['lan2:2']);
    const leave2 = sim.igmp(LAN2, '192.168.2.20', { type: 'v2-leave', group: ip('239.1.1.1') });
    expect(ofType(leave2, 'delete-route').map((d) => d.input)).toEqual([UP, UP]);
    expect(sim.kernelRoutes.size).toBe(0);
  });

  it('a listener returning within the kernel unresolved time gets its route at once (zapping back)', () => {
    const sim = standardSetup({ quickLeave: true });
    sim.igmp(LAN1, '192.168.1.20', v2Report('239.1.1.1'));
    sim.upcall(UP, '198.51.100.1', '239.1.1.1');
    sim.igmp(LAN1, '192.168.1.20', { type: 'v2-leave', group: ip('239.1.1.1') });
    expect(sim.kernelRoutes.size).toBe(0);
    // the upstream still sends for a moment: the kernel queues it and asks once
    sim.runFor(500);
    expect(ofType(sim.upcall(UP, '198.51.100.1', '239.1.1.1'), 'set-route')).toEqual([]);
    sim.runFor(3_000);
    const back = sim.igmp(LAN1, '192.168.1.20', v2Report('239.1.1.1'));
    expect(ofType(back, 'set-route').map((r) => r.input)).toEqual([UP]);
    // after the kernel dropped its unresolved entry (10 s), nothing is remembered
    sim.igmp(LAN1, '192.168.1.20', { type: 'v2-leave', group: ip('239.1.1.1') });
    sim.upcall(UP, '198.51.100.1', '239.1.1.1');
    sim.runFor(10_001);
    expect(ofType(sim.igmp(LAN1, '192.168.1.20', v2Report('239.1.1.1')), 'set-route')).toEqual([]);
  });

  it('IGMPv3 INCLUDE listeners get only their sources routed', () => {
    // Outside 232/8: in the SSM range the IGMPv2 listener would be ignored (ssm.test.ts).
    const sim = standardSetup();
    sim.igmp(LAN1, '192.168.1.20', v3Report(record('allow', '239.5.1.1', ['198.51.100.1'])));
    sim.igmp(LAN2, '192.168.2.20', v2Report('239.5.1.1'));
    sim.upcall(UP, '198.51.100.1', '239.5.1.1');
    sim.upcall(UP, '198.51.100.2', '239.5.1.1');
    expect(sim.outputs('198.51.100.1', '239.5.1.1')).toEqual(['lan1:1', 'lan2:2']);
    expect(sim.outputs('198.51.100.2', '239.5.1.1')).toEqual(['lan2:2']);
  });

  it('one source of a group loses its last listener: only its route goes, the other sources keep theirs', () => {
    const sim = standardSetup({ quickLeave: true });
    sim.igmp(LAN1, '192.168.1.20', v3Report(record('allow', '239.5.1.1', ['198.51.100.3'])));
    sim.igmp(LAN2, '192.168.2.20', v2Report('239.5.1.1'));
    for (const source of ['198.51.100.3', '198.51.100.1', '198.51.100.2']) sim.upcall(UP, source, '239.5.1.1');
    expect(sim.proxy.snapshot().routes.map((r) => r.source)).toEqual(['198.51.100.1', '198.51.100.2', '198.51.100.3']);
    const leave = sim.igmp(LAN2, '192.168.2.20', { type: 'v2-leave', group: ip('239.5.1.1') });
    expect(
      ofType(leave, 'delete-route')
        .map((d) => d.source)
        .sort((a, b) => a - b),
    ).toEqual([ip('198.51.100.1'), ip('198.51.100.2')]);
    expect(sim.outputs('198.51.100.3', '239.5.1.1')).toEqual(['lan1:1']);
    expect(sim.proxy.snapshot().routes.map((r) => `${r.source} ${r.group}`)).toEqual(['198.51.100.3 239.5.1.1']);
    // The group's routes come back one by one as upcalls arrive again.
    sim.igmp(LAN2, '192.168.2.20', v2Report('239.5.1.1'));
    sim.upcall(UP, '198.51.100.2', '239.5.1.1');
    expect(sim.proxy.snapshot().routes.map((r) => r.source)).toEqual(['198.51.100.2', '198.51.100.3']);
    expect(sim.outputs('198.51.100.3', '239.5.1.1')).toEqual(['lan1:1', 'lan2:2']);
  });
});

describe('an upstream whose address comes late (PPP, DHCP, carrier)', () => {
  it('an upcall refused while it had no address is routed as soon as the address arrives', () => {
    const sim = standardSetup();
    sim.igmp(LAN1, '192.168.1.20', v2Report('239.1.1.1'));
    sim.down(UP);
    sim.up(UP, '0.0.0.0', 0, 77);
    const refused = sim.upcall(UP, '100.64.0.1', '239.1.1.1');
    expect(ofType(refused, 'set-route')).toEqual([]);
    // Not the altnet warning: there is nothing to teach while the address is missing.
    expect(ofType(refused, 'log').filter((l) => l.level === 'warning')).toEqual([]);
    sim.runFor(300);
    const renumbered = sim.up(UP, '100.64.0.2', 24, 77);
    expect(ofType(renumbered, 'set-route')).toEqual([
      {
        type: 'set-route',
        source: ip('100.64.0.1'),
        group: ip('239.1.1.1'),
        input: UP,
        outputs: [{ interface: LAN1, threshold: 1 }],
        rateLimit: 0,
      },
    ]);
  });

  it('after the kernel forgot the upcall (10 s) a late address routes nothing by itself', () => {
    const sim = standardSetup();
    sim.igmp(LAN1, '192.168.1.20', v2Report('239.1.1.1'));
    sim.down(UP);
    sim.up(UP, '0.0.0.0', 0, 77);
    sim.upcall(UP, '100.64.0.1', '239.1.1.1');
    sim.runFor(10_500);
    expect(ofType(sim.up(UP, '100.64.0.2', 24, 77), 'set-route')).toEqual([]);
  });
});

describe('memory per route (issue 14)', () => {
  it('routes of many groups to the same downstream keep one shared output each, in arrays of their exact length', () => {
    const sim = standardSetup();
    for (let i = 1; i <= 20; i++) {
      sim.igmp(LAN1, '192.168.1.20', v2Report(`239.1.1.${i}`));
      sim.upcall(UP, '198.51.100.1', `239.1.1.${i}`);
    }
    const routes = sim.proxy.snapshot().routes;
    expect(routes).toHaveLength(20);
    expect(new Set(routes.map((route) => route.outputs[0])).size).toBe(1);
    expect(new Set(routes.map((route) => route.outputs)).size).toBe(1);
    expect(routes[0]!.outputs).toEqual([{ interface: LAN1, threshold: 1 }]);
    // A group with another list of outputs gets its own; the shared one is not touched.
    sim.igmp(LAN2, '192.168.2.20', v2Report('239.1.1.7'));
    const after = sim.proxy.snapshot().routes;
    expect(after.find((route) => route.group === '239.1.1.7')!.outputs).toEqual([
      { interface: LAN1, threshold: 1 },
      { interface: LAN2, threshold: 2 },
    ]);
    expect(after.find((route) => route.group === '239.1.1.8')!.outputs).toEqual([{ interface: LAN1, threshold: 1 }]);
    expect(after.find((route) => route.group === '239.1.1.8')!.outputs).toBe(
      after.find((route) => route.group === '239.1.1.9')!.outputs,
    );
    // What the kernel was told: each route its own outputs.
    expect(sim.outputs('198.51.100.1', '239.1.1.8')).toEqual(['lan1:1']);
    expect(sim.outputs('198.51.100.1', '239.1.1.7')).toEqual(['lan1:1', 'lan2:2']);
  });
});
