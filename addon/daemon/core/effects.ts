// What the pure proxy core asks the outside world to do. The core never touches the
// kernel; the kernel adapter (addon/daemon/kernel/) carries these out in order.
// Interfaces are referred to by name; the adapter maps names to ifindex and VIF numbers.
import type { Ipv4 } from '../net/ipv4.ts';
import type { IgmpMessage } from '../igmp/types.ts';

/** Send an IGMP message out of one interface (TTL 1, TOS 0xc0, Router Alert). */
export interface SendIgmpEffect {
  readonly type: 'send-igmp';
  readonly interface: string;
  /** Source address: the interface's primary address, as the core knows it. */
  readonly source: Ipv4;
  readonly destination: Ipv4;
  readonly message: IgmpMessage;
}

/** One outgoing interface of a multicast route with its TTL threshold. */
export interface RouteOutput {
  readonly interface: string;
  readonly threshold: number;
}

/** Add or replace the kernel's (S,G) entry (MRT_ADD_MFC). An empty output list is allowed. */
export interface SetRouteEffect {
  readonly type: 'set-route';
  readonly source: Ipv4;
  readonly group: Ipv4;
  readonly input: string;
  readonly outputs: readonly RouteOutput[];
  /** Rate limit of the input interface in kbit/s, 0 = none. */
  readonly rateLimit: number;
}

/** Remove the kernel's (S,G) entry (MRT_DEL_MFC). */
export interface DeleteRouteEffect {
  readonly type: 'delete-route';
  readonly source: Ipv4;
  readonly group: Ipv4;
  readonly input: string;
}

/** A message for the log; the core reports notable decisions this way. */
export interface LogEffect {
  readonly type: 'log';
  readonly level: 'debug' | 'info' | 'notice' | 'warning' | 'error';
  readonly message: string;
}

export type Effect = SendIgmpEffect | SetRouteEffect | DeleteRouteEffect | LogEffect;

/** What the core needs to know about an interface that is present and up. */
export interface InterfaceInfo {
  readonly name: string;
  readonly ifindex: number;
  /** Primary IPv4 address; 0 when the interface has none (yet). */
  readonly address: Ipv4;
  readonly prefixLength: number;
}
