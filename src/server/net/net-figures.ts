import { HEADER_SIZE, MAX_PACKET_TYPE, packetName } from '../../protocol/packet-types.js';
import type { NetFigures } from '../view/server-view.js';

/**
 * The shell's counters. The traffic path only adds to numbers and to slots of preallocated
 * arrays indexed by packet type: no objects, no maps, no strings. Names are attached when a
 * snapshot is taken.
 */
export class NetCounters {
  connectionsAccepted = 0;
  connectionsClosed = 0;
  bytesIn = 0;
  bytesOut = 0;
  adminLinesIn = 0;
  adminRepliesOut = 0;
  overLimitRefusals = 0;
  protocolErrors = 0;
  slowPeersDropped = 0;
  /** Slot `t` counts packets of type `t`; types the decoder lets through are 1 to the maximum. */
  readonly packetsIn = new Float64Array(MAX_PACKET_TYPE + 1);
  readonly packetsOut = new Float64Array(MAX_PACKET_TYPE + 1);

  /**
   * Counts what a reply carries: each binary packet in it by its header's type (a send holds
   * one packet, or several back to back), or one admin reply when it is text.
   */
  countOut(data: Buffer): void {
    if (data[0] !== 0) {
      if (data.length > 0) this.adminRepliesOut++;
      return;
    }
    const out = this.packetsOut;
    const end = data.length - HEADER_SIZE;
    // Byte reads instead of readUInt32BE: this runs for every reply the server sends.
    for (let at = 0; at <= end && data[at] === 0;) {
      const type = (data[at + 6] as number) * 256 + (data[at + 7] as number);
      if (type <= MAX_PACKET_TYPE && data[at + 4] === 0 && data[at + 5] === 0) out[type]!++;
      const size =
        (data[at + 8] as number) * 0x1000000 +
        (data[at + 9] as number) * 0x10000 +
        (data[at + 10] as number) * 0x100 +
        (data[at + 11] as number);
      at += HEADER_SIZE + size;
    }
  }

  /** The figures now, as plain numbers. */
  snapshot(): NetFigures {
    return {
      connectionsOpen: this.connectionsAccepted - this.connectionsClosed,
      connectionsAccepted: this.connectionsAccepted,
      connectionsClosed: this.connectionsClosed,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      packetsIn: byName(this.packetsIn),
      packetsOut: byName(this.packetsOut),
      adminLinesIn: this.adminLinesIn,
      adminRepliesOut: this.adminRepliesOut,
      overLimitRefusals: this.overLimitRefusals,
      protocolErrors: this.protocolErrors,
      slowPeersDropped: this.slowPeersDropped,
    };
  }
}

function byName(counts: Float64Array): Record<string, number> {
  const out: Record<string, number> = {};
  for (let type = 1; type < counts.length; type++) out[packetName(type)] = counts[type] ?? 0;
  return out;
}
