// Carries out the core's effects on the kernel, in order. One failing effect (interface
// vanished: ENODEV, route already gone: ENOENT, …) is logged and the rest still run: the
// core's next decision repairs the state, a crash would not.
import { buildIgmp } from '../igmp/codec.ts';
import { buildIpv4Packet, IPPROTO_IGMP, IPV4_HEADER_BYTES_WITH_ROUTER_ALERT } from '../igmp/ipv4-header.ts';
import { buildV3Reports } from '../igmp/v3-reports.ts';
import { formatIpv4 } from '../net/ipv4.ts';
import type { Effect, LogEffect, SendIgmpEffect } from '../core/effects.ts';
import { MRT_ADD_MFC, MRT_DEL_MFC, packMfcctl } from './mroute.ts';
import type { VifTable } from './vif-table.ts';
import { errorMessage } from '../error-message.ts';

export type LogLevel = LogEffect['level'];

export interface ExecutorDependencies {
  /** The MRT socket's send and setsockopt(IPPROTO_IP, …). */
  readonly socket: {
    send(datagram: Uint8Array, destination: number, ifindex: number): void;
    setOption(name: number, value: Buffer): void;
  };
  readonly vifs: Pick<VifTable, 'vifOf'>;
  /** Current ifindex of an interface name, undefined when it is not present. */
  readonly ifindexOf: (name: string) => number | undefined;
  readonly log: (level: LogLevel, message: string) => void;
  /** Datagrams of a send-igmp effect; defaults to encodeIgmpDatagrams. */
  readonly encode?: (effect: SendIgmpEffect) => Uint8Array[];
}

/**
 * The smallest MTU an IPTV upstream has in practice: PPPoE (1492). An IGMPv3 report with
 * hundreds of groups (the answer to a general query) is split into datagrams that fit it,
 * as RFC 3376 4.2.16 asks, instead of being fragmented or refused (EMSGSIZE).
 */
export const IGMP_DATAGRAM_LIMIT = 1492;

/** RFC 2236/3376: IGMP goes out with TTL 1, TOS 0xc0 (internetwork control), Router Alert. */
export function encodeIgmpDatagrams(effect: SendIgmpEffect, limit = IGMP_DATAGRAM_LIMIT): Uint8Array[] {
  const payloads =
    effect.message.type === 'v3-report'
      ? buildV3Reports(effect.message.records, limit - IPV4_HEADER_BYTES_WITH_ROUTER_ALERT)
      : [buildIgmp(effect.message)];
  return payloads.map((payload) =>
    buildIpv4Packet({
      source: effect.source,
      destination: effect.destination,
      ttl: 1,
      tos: 0xc0,
      protocol: IPPROTO_IGMP,
      routerAlert: true,
      payload,
    }),
  );
}

export function createEffectExecutor(deps: ExecutorDependencies): (effects: readonly Effect[]) => void {
  const encode = deps.encode ?? ((effect: SendIgmpEffect) => encodeIgmpDatagrams(effect));

  const runOne = (effect: Effect): void => {
    switch (effect.type) {
      case 'log':
        deps.log(effect.level, effect.message);
        return;
      case 'send-igmp': {
        const ifindex = deps.ifindexOf(effect.interface);
        if (ifindex === undefined) throw new Error(`interface ${effect.interface} is not present`);
        for (const datagram of encode(effect)) deps.socket.send(datagram, effect.destination, ifindex);
        return;
      }
      case 'set-route': {
        const input = deps.vifs.vifOf(effect.input);
        if (input === undefined) throw new Error(`input interface ${effect.input} has no VIF`);
        const ttls = new Map<number, number>();
        for (const output of effect.outputs) {
          const vif = deps.vifs.vifOf(output.interface);
          if (vif === undefined) {
            deps.log('warning', `route ${describe(effect)}: output ${output.interface} has no VIF, skipped`);
          } else if (vif !== input) {
            // 0 would mean "not an output"; forwarding needs packet TTL > threshold.
            ttls.set(vif, Math.min(255, Math.max(1, output.threshold)));
          }
        }
        // effect.rateLimit is not applied: Linux does not implement vifctl rate limits.
        deps.socket.setOption(MRT_ADD_MFC, packMfcctl(effect.source, effect.group, input, ttls));
        return;
      }
      case 'delete-route':
        // MRT_DEL_MFC matches (S,G) whatever the parent; the input VIF only documents intent.
        deps.socket.setOption(MRT_DEL_MFC, packMfcctl(effect.source, effect.group, deps.vifs.vifOf(effect.input) ?? 0));
        return;
    }
  };

  return (effects) => {
    for (const effect of effects) {
      try {
        runOne(effect);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        const level: LogLevel = effect.type === 'delete-route' && code === 'ENOENT' ? 'debug' : 'warning';
        deps.log(level, `${effect.type} ${describe(effect)} failed: ${errorMessage(error)}`);
      }
    }
  };
}

function describe(effect: Effect): string {
  switch (effect.type) {
    case 'send-igmp':
      return `${effect.message.type} to ${formatIpv4(effect.destination)} on ${effect.interface}`;
    case 'set-route':
    case 'delete-route':
      return `(${formatIpv4(effect.source)}, ${formatIpv4(effect.group)}) from ${effect.input}`;
    case 'log':
      return '';
  }
}
