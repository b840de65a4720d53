// core/interfaces-lifecycle.ts alone: bring-up, tear-down, reload and shutdown of the proxied
// interfaces, with the real querier, membership and upstream host on a fake clock, and a port
// that records what the lifecycle asks of the routes and of the flush.
import { describe, expect, it } from 'vitest';
import { ProxiedInterfaces } from '../../addon/daemon/core/interfaces-lifecycle.ts';
import type { LifecyclePort } from '../../addon/daemon/core/interfaces-lifecycle.ts';
import type { CoreContext } from '../../addon/daemon/core/context.ts';
import type { Effect, InterfaceInfo } from '../../addon/daemon/core/effects.ts';
import { DEFAULT_SETTINGS } from '../../addon/daemon/core/settings.ts';
import { TimerQueue } from '../../addon/daemon/core/timers.ts';
import type { PhyintConfig } from '../../addon/daemon/config/types.ts';
import type { Ipv4 } from '../../addon/daemon/net/ipv4.ts';
import { ip, phyint } from './harness.ts';

const GROUP = ip('239.1.1.1');
const LAN: InterfaceInfo = { name: 'green0', ifindex: 3, address: ip('192.168.1.1'), prefixLength: 24 };
const WAN: InterfaceInfo = { name: 'ppp0', ifindex: 7, address: ip('10.1.0.2'), prefixLength: 24 };

function rig(configs: PhyintConfig[] = [phyint('green0', 'downstream'), phyint('ppp0', 'upstream')]) {
  const timers = new TimerQueue();
  const effects: Effect[] = [];
  const changed: Ipv4[] = [];
  const routeCalls: string[] = [];
  const retries: ((source: Ipv4) => boolean)[] = [];
  const state = { changes: 0 };
  const ctx: CoreContext = {
    settings: DEFAULT_SETTINGS,
    timers,
    now: () => 0,
    random: () => 0.5,
    emit: (effect) => effects.push(effect),
    log: (level, message) => effects.push({ type: 'log', level, message }),
    quickLeave: () => false,
  };
  const port: LifecyclePort = {
    changed: (group) => changed.push(group),
    stateChanged: () => {
      state.changes++;
    },
    routes: {
      dropInput: (input) => routeCalls.push(`drop ${input}`),
      refreshInput: (input) => routeCalls.push(`refresh ${input}`),
      retryRefused: (input, accepts) => {
        routeCalls.push(`retry ${input}`);
        retries.push(accepts);
      },
    },
  };
  const interfaces = new ProxiedInterfaces(ctx, port);
  const configOf = (name: string): PhyintConfig | undefined => configs.find((c) => c.name === name);
  const up = (info: InterfaceInfo): void => interfaces.up(info, configOf(info.name));
  return { interfaces, timers, effects, changed, routeCalls, retries, up, configOf, state };
}

const sends = (effects: Effect[]) => effects.filter((e) => e.type === 'send-igmp');
const logs = (effects: Effect[]) => effects.flatMap((e) => (e.type === 'log' ? [`${e.level} ${e.message}`] : []));

describe('ProxiedInterfaces: bring-up', () => {
  it('a downstream comes up as querier: logged, a general query from its address, the address is ours', () => {
    const r = rig();
    r.up(LAN);
    expect(logs(r.effects)).toContain('info green0: up as downstream (192.168.1.1/24)');
    expect(sends(r.effects)).toMatchObject([
      { interface: 'green0', source: LAN.address, destination: ip('224.0.0.1'), message: { type: 'query', group: 0 } },
    ]);
    expect(r.interfaces.downstreams.get('green0')?.querier.isQuerier).toBe(true);
    expect(r.interfaces.isOwnAddress(LAN.address)).toBe(true);
  });

  it('a downstream without an address sends no query from 0.0.0.0, and 0.0.0.0 is never our own address', () => {
    const r = rig();
    r.up({ ...LAN, address: 0 });
    expect(sends(r.effects)).toEqual([]);
    expect(logs(r.effects)).toContain('debug green0: no IPv4 address at the moment; query not sent');
    expect(r.interfaces.isOwnAddress(0)).toBe(false);
  });

  it('what the status document shows changes on bring-up, renumbering and tear-down, not on a repeated bring-up', () => {
    const r = rig();
    r.up(LAN);
    expect(r.state.changes).toBe(1);
    r.up(LAN);
    expect(r.state.changes).toBe(1);
    r.up({ ...LAN, address: ip('192.168.1.2') });
    expect(r.state.changes).toBe(2);
    r.interfaces.down('green0');
    expect(r.state.changes).toBe(3);
  });

  it('interfaces not configured, or disabled, are ignored with a debug line', () => {
    const r = rig([phyint('blue0', 'disabled')]);
    r.up({ ...LAN, name: 'blue0' });
    r.up(LAN);
    expect(logs(r.effects)).toEqual([
      'debug blue0: not an upstream or downstream in the configuration; ignored',
      'debug green0: not an upstream or downstream in the configuration; ignored',
    ]);
    expect(r.interfaces.downstreams.size + r.interfaces.upstreams.size).toBe(0);
  });

  it('an upstream coming up asks for every group the downstreams hold to be joined', () => {
    const r = rig();
    r.up(LAN);
    r.interfaces.downstreams.get('green0')!.membership.v2Report(ip('192.168.1.20'), GROUP);
    r.changed.length = 0;
    r.up(WAN);
    expect(r.changed).toEqual([GROUP]);
    expect(r.interfaces.isOwnAddress(WAN.address)).toBe(true);
  });

  it('up again with the same ifindex and address changes nothing', () => {
    const r = rig();
    r.up(LAN);
    r.up(WAN);
    r.effects.length = 0;
    r.up(LAN);
    r.up(WAN);
    expect(r.effects).toEqual([]);
    expect(r.routeCalls).toEqual([]);
  });

  it('an upstream renumbered in place re-checks its refused upcalls against the new subnet', () => {
    const r = rig();
    r.up(WAN);
    r.up({ ...WAN, address: ip('10.2.0.2') });
    expect(r.routeCalls).toEqual(['retry ppp0']);
    expect(r.retries[0]!(ip('10.2.0.9'))).toBe(true);
    expect(r.retries[0]!(ip('10.1.0.9'))).toBe(false);
    expect(r.interfaces.isOwnAddress(ip('10.1.0.2'))).toBe(false);
    expect(r.interfaces.isOwnAddress(ip('10.2.0.2'))).toBe(true);
  });

  it('an upstream re-created with a new ifindex is torn down (routes dropped) and brought up, keeping its host state', () => {
    const r = rig();
    r.up(WAN);
    const host = r.interfaces.upstreamHost('ppp0');
    r.up({ ...WAN, ifindex: 9 });
    expect(r.routeCalls).toEqual(['drop ppp0']);
    expect(r.interfaces.upstreams.get('ppp0')?.info.ifindex).toBe(9);
    expect(r.interfaces.upstreamHost('ppp0')).toBe(host);
  });
});

describe('ProxiedInterfaces: down, reload, shutdown', () => {
  it('a downstream going down gives up its groups, stops its timers and its address', () => {
    const r = rig();
    r.up(LAN);
    r.interfaces.downstreams.get('green0')!.membership.v2Report(ip('192.168.1.20'), GROUP);
    r.changed.length = 0;
    r.interfaces.down('green0');
    expect(logs(r.effects)).toContain('info green0: down');
    expect(r.changed).toEqual([GROUP]);
    expect(r.interfaces.downstreams.has('green0')).toBe(false);
    expect(r.interfaces.isOwnAddress(LAN.address)).toBe(false);
    expect(r.timers.size).toBe(0);
  });

  it('an upstream going down drops its routes without telling its router; its host state stays for the reconnect', () => {
    const r = rig();
    r.up(WAN);
    r.interfaces.upstreams.get('ppp0')!.host.apply([{ group: GROUP, state: { mode: 'exclude', sources: new Set() } }]);
    r.effects.length = 0;
    r.interfaces.down('ppp0');
    r.interfaces.down('ppp0');
    expect(r.routeCalls).toEqual(['drop ppp0']);
    expect(sends(r.effects)).toEqual([]);
    expect(r.interfaces.upstreamHost('ppp0')).toBeDefined();
  });

  it('a reload restarts an upstream whose filters changed: it leaves its groups first and forgets its host state', () => {
    const configs = [phyint('ppp0', 'upstream')];
    const r = rig(configs);
    r.up(WAN);
    const host = r.interfaces.upstreamHost('ppp0');
    r.interfaces.upstreams.get('ppp0')!.host.apply([{ group: GROUP, state: { mode: 'exclude', sources: new Set() } }]);
    r.effects.length = 0;
    configs[0] = phyint('ppp0', 'upstream', { filters: [['deny', '239.0.0.0/8']] });
    r.interfaces.reconfigure(r.configOf);
    expect(logs(r.effects)).toContain('info ppp0: configuration changed; restarting it');
    expect(sends(r.effects).map((e) => e.interface)).toContain('ppp0');
    expect(r.routeCalls).toEqual(['drop ppp0']);
    expect(r.interfaces.upstreamHost('ppp0')).not.toBe(host);
    expect(r.interfaces.upstreams.get('ppp0')?.config).toBe(configs[0]);
  });

  it('a reload with a new threshold only marks the downstream groups; a new rate limit only refreshes the routes', () => {
    const configs = [phyint('green0', 'downstream'), phyint('ppp0', 'upstream')];
    const r = rig(configs);
    r.up(LAN);
    r.up(WAN);
    r.interfaces.downstreams.get('green0')!.membership.v2Report(ip('192.168.1.20'), GROUP);
    r.changed.length = 0;
    r.effects.length = 0;
    configs[0] = phyint('green0', 'downstream', { threshold: 4 });
    configs[1] = phyint('ppp0', 'upstream', { rateLimit: 500 });
    r.interfaces.reconfigure(r.configOf);
    expect(r.changed).toEqual([GROUP]);
    expect(r.routeCalls).toEqual(['refresh ppp0']);
    expect(r.effects).toEqual([]);
    expect(r.interfaces.downstreams.get('green0')?.config.threshold).toBe(4);
  });

  it('a reload that drops an interface from the configuration takes it away', () => {
    const configs = [phyint('green0', 'downstream')];
    const r = rig(configs);
    r.up(LAN);
    configs.length = 0;
    r.interfaces.reconfigure(r.configOf);
    expect(r.interfaces.downstreams.size).toBe(0);
    expect(r.timers.size).toBe(0);
  });

  it('shutdown leaves every upstream group and forgets every interface; no timer stays', () => {
    const r = rig();
    r.up(LAN);
    r.up(WAN);
    r.interfaces.upstreams.get('ppp0')!.host.apply([{ group: GROUP, state: { mode: 'exclude', sources: new Set() } }]);
    r.effects.length = 0;
    r.interfaces.shutdown();
    expect(sends(r.effects).map((e) => e.interface)).toEqual(['ppp0']);
    expect(r.interfaces.downstreams.size + r.interfaces.upstreams.size).toBe(0);
    expect(r.interfaces.upstreamHost('ppp0')).toBeUndefined();
    expect(r.interfaces.isOwnAddress(WAN.address)).toBe(false);
    expect(r.timers.size).toBe(0);
  });
});
