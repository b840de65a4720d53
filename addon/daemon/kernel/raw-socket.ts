// The daemon's one raw IGMP socket: it is the multicast-routing control socket of the
// network namespace (MRT_INIT), receives IGMP (with the ingress ifindex) and the kernel's
// upcalls, and sends the querier's IGMP with a hand-built IP header (IP_HDRINCL).
import {
  AF_INET,
  IP_ADD_MEMBERSHIP,
  IP_DROP_MEMBERSHIP,
  IP_HDRINCL,
  IP_MULTICAST_LOOP,
  IP_PKTINFO,
  IPPROTO_IGMP,
  IPPROTO_IP,
  MRT_DONE,
  MRT_INIT,
  packInt,
  packIpMreqn,
  SO_RCVBUF,
  SOCK_RAW,
  SOL_SOCKET,
} from './mroute.ts';
import { ALL_ROUTERS, IGMPV3_ROUTERS } from '../net/ipv4.ts';
import type { Ipv4 } from '../net/ipv4.ts';
import { batchLength, batchWord } from './shim.ts';
import type { IgmpShim } from './shim.ts';

export interface RawDatagramIn {
  /** The whole IPv4 datagram, header included (or a struct igmpmsg upcall). */
  readonly data: Buffer;
  /** Interface the datagram arrived on (IP_PKTINFO); 0 for upcalls. */
  readonly ifindex: number;
  readonly source: Ipv4;
}

export interface MrouteSocketHandlers {
  /**
   * Asked before a datagram is cut out of its batch: false drops it unread. Cheap by design:
   * under a flood it runs for every datagram, and only what it lets through costs more.
   */
  readonly screen?: (ifindex: number, source: Ipv4) => boolean;
  readonly onDatagram: (datagram: RawDatagramIn) => void;
  /** Receive errors (e.g. ENOBUFS); the socket keeps working. */
  readonly onError: (error: NodeJS.ErrnoException) => void;
}

/** Thrown when another multicast router already holds MRT_INIT in this namespace. */
export class MrouteInUseError extends Error {
  readonly code = 'EADDRINUSE';
  constructor(cause: unknown) {
    super(
      'cannot become the multicast router: another multicast router (igmpproxy, pimd, smcroute, mrouted…) ' +
        'already runs in this network namespace (MRT_INIT: EADDRINUSE). Stop it first.',
      { cause },
    );
    this.name = 'MrouteInUseError';
  }
}

/** Start-up failures of MRT_INIT in words an administrator can act on (one line each). */
function explainMrtInitError(error: NodeJS.ErrnoException): Error {
  switch (error.code) {
    case 'EADDRINUSE':
      return new MrouteInUseError(error);
    case 'ENOPROTOOPT':
      return startError(
        'cannot become the multicast router: this kernel has no multicast routing (MRT_INIT: ENOPROTOOPT); ' +
          "it needs a kernel built with CONFIG_IP_MROUTE, as IPFire's is",
        error,
      );
    case 'EACCES':
    case 'EPERM':
      return startError(
        `cannot become the multicast router (MRT_INIT: ${error.code}): run igmpproxy as root with CAP_NET_ADMIN`,
        error,
      );
    default:
      return startError(`cannot become the multicast router: ${error.message}`, error);
  }
}

function startError(message: string, cause: unknown): Error {
  return Object.assign(new Error(message, { cause }), { code: (cause as NodeJS.ErrnoException).code });
}

/** Receive buffer: a burst of reports and upcalls must not be dropped while JS is busy. */
const RECEIVE_BUFFER_BYTES = 256 * 1024;

export class MrouteSocket {
  readonly fd: number;
  private readonly shim: IgmpShim;
  private closed = false;

  private constructor(shim: IgmpShim, fd: number) {
    this.shim = shim;
    this.fd = fd;
  }

  /** Opens the socket, claims multicast routing (MRT_INIT) and starts receiving. */
  static open(shim: IgmpShim, handlers: MrouteSocketHandlers): MrouteSocket {
    let fd: number;
    try {
      fd = shim.socket(AF_INET, SOCK_RAW, IPPROTO_IGMP);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EPERM' && code !== 'EACCES') throw error;
      throw startError(
        'cannot open the raw IGMP socket (socket: EPERM): run igmpproxy as root with CAP_NET_RAW and CAP_NET_ADMIN',
        error,
      );
    }
    try {
      try {
        shim.setsockopt(fd, IPPROTO_IP, MRT_INIT, packInt(1));
      } catch (error) {
        throw explainMrtInitError(error as NodeJS.ErrnoException);
      }
      shim.setsockopt(fd, IPPROTO_IP, IP_HDRINCL, packInt(1));
      shim.setsockopt(fd, IPPROTO_IP, IP_PKTINFO, packInt(1));
      // Our own queries must not come back to us through multicast loopback.
      shim.setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, packInt(0));
      shim.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, packInt(RECEIVE_BUFFER_BYTES));
      // One call per readable event with every datagram read (the shim's receiveBatch).
      shim.receiveBatch(fd, (error, data, index) => {
        if (error) return handlers.onError(error);
        if (data === undefined || index === undefined) return;
        for (let entry = 0, count = batchLength(index); entry < count; entry++) {
          const ifindex = batchWord(index, entry, 2);
          const source = batchWord(index, entry, 3);
          if (handlers.screen !== undefined && !handlers.screen(ifindex, source)) continue;
          const offset = batchWord(index, entry, 0);
          handlers.onDatagram({ data: data.subarray(offset, offset + batchWord(index, entry, 1)), ifindex, source });
        }
      });
    } catch (error) {
      shim.close(fd); // MRT_DONE is implied by close
      throw error;
    }
    return new MrouteSocket(shim, fd);
  }

  /** setsockopt(IPPROTO_IP, name, value): MRT_ADD_VIF, MRT_ADD_MFC, … */
  setOption(name: number, value: Buffer): void {
    this.shim.setsockopt(this.fd, IPPROTO_IP, name, value);
  }

  joinGroup(group: Ipv4, ifindex: number): void {
    this.setOption(IP_ADD_MEMBERSHIP, packIpMreqn(group, ifindex));
  }

  leaveGroup(group: Ipv4, ifindex: number): void {
    this.setOption(IP_DROP_MEMBERSHIP, packIpMreqn(group, ifindex));
  }

  /**
   * Joins 224.0.0.2 (v2 leaves) and 224.0.0.22 (v3 reports) on a downstream interface:
   * without membership the kernel does not hand these link-local groups to the socket.
   */
  joinControlGroups(ifindex: number): void {
    this.joinGroup(ALL_ROUTERS, ifindex);
    this.joinGroup(IGMPV3_ROUTERS, ifindex);
  }

  /** Leaves both control groups; errors (interface already gone) are ignored. */
  leaveControlGroups(ifindex: number): void {
    for (const group of [ALL_ROUTERS, IGMPV3_ROUTERS]) {
      try {
        this.leaveGroup(group, ifindex);
      } catch {
        // ENODEV / EADDRNOTAVAIL: the membership went with the interface.
      }
    }
  }

  /** Sends a full IPv4 datagram (IP_HDRINCL) out of the interface `ifindex`. */
  send(datagram: Uint8Array, destination: Ipv4, ifindex: number): void {
    const bytes = Buffer.isBuffer(datagram)
      ? datagram
      : Buffer.from(datagram.buffer, datagram.byteOffset, datagram.byteLength);
    this.shim.send(this.fd, bytes, destination, ifindex);
  }

  /** MRT_DONE (the kernel drops our VIFs and MFC entries) and close. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.setOption(MRT_DONE, packInt(1));
    } catch {
      // close() below tears multicast routing down as well.
    }
    this.shim.close(this.fd);
  }
}
