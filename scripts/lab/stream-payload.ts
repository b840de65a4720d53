// The UDP payload of the isp's test streams: who sent it to which group, a per-group
// sequence number (gaps are counted from it) and the send time on the lab clock.
//   0  u32 magic "IPE8"   4  u32 group   8  u32 sequence   12 f64 send time (ms)   20..
export const STREAM_MAGIC = 0x49504538;
export const STREAM_PAYLOAD_BYTES = 20;

export interface StreamPacket {
  readonly group: number;
  readonly sequence: number;
  readonly sentAtMs: number;
}

export function encodeStreamPacket(packet: StreamPacket, size = STREAM_PAYLOAD_BYTES): Buffer {
  const bytes = Buffer.alloc(Math.max(size, STREAM_PAYLOAD_BYTES));
  bytes.writeUInt32BE(STREAM_MAGIC, 0);
  bytes.writeUInt32BE(packet.group >>> 0, 4);
  bytes.writeUInt32BE(packet.sequence >>> 0, 8);
  bytes.writeDoubleBE(packet.sentAtMs, 12);
  return bytes;
}

/** undefined for anything that is not one of our stream packets. */
export function decodeStreamPacket(bytes: Uint8Array): StreamPacket | undefined {
  if (bytes.length < STREAM_PAYLOAD_BYTES) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, false) !== STREAM_MAGIC) return undefined;
  return { group: view.getUint32(4, false), sequence: view.getUint32(8, false), sentAtMs: view.getFloat64(12, false) };
}

/** Most holes remembered per group; a hole beyond that counts as lost for good. */
const MAX_REMEMBERED_HOLES = 10_000;

/** Per-group receive statistics: packets, lost sequence numbers, duplicates/reordering. */
export class SequenceTracker {
  packets = 0;
  /** Sequence numbers skipped between consecutive packets (a late packet does not undo it). */
  gaps = 0;
  /** Packets whose sequence was not above the last one (duplicate or late). */
  outOfOrder = 0;
  private last: number | undefined;
  /** Skipped sequence numbers that have not come since: the packets lost so far. */
  private readonly holes = new Set<number>();
  private holesForgotten = 0;

  /** Skipped and never arrived: a late (reordered) packet fills its hole, a lost one does not. */
  get lost(): number {
    return this.holes.size + this.holesForgotten;
  }

  /** Counts one packet; returns true when it is the first since the tracker was made. */
  record(sequence: number): boolean {
    this.packets++;
    const first = this.last === undefined;
    if (this.last !== undefined) {
      if (sequence > this.last) {
        this.gaps += sequence - this.last - 1;
        for (let hole = this.last + 1; hole < sequence; hole++) {
          if (this.holes.size < MAX_REMEMBERED_HOLES) this.holes.add(hole);
          else this.holesForgotten++;
        }
      } else {
        this.outOfOrder++;
        this.holes.delete(sequence);
      }
    }
    if (this.last === undefined || sequence > this.last) this.last = sequence;
    return first;
  }
}
