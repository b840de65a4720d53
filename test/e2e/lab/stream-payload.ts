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

/** Per-group receive statistics: packets, lost sequence numbers, duplicates/reordering. */
export class SequenceTracker {
  packets = 0;
  /** Sequence numbers skipped between consecutive packets. */
  gaps = 0;
  /** Packets whose sequence was not above the last one (duplicate or late). */
  outOfOrder = 0;
  private last: number | undefined;

  /** Counts one packet; returns true when it is the first since the tracker was made. */
  record(sequence: number): boolean {
    this.packets++;
    const first = this.last === undefined;
    if (this.last !== undefined) {
      if (sequence > this.last) this.gaps += sequence - this.last - 1;
      else this.outOfOrder++;
    }
    if (this.last === undefined || sequence > this.last) this.last = sequence;
    return first;
  }
}
