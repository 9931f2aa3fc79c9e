import { HEADER_SIZE, MAX_PACKET_TYPE, packetName } from '../../protocol/packet-types.js';

/**
 * What the I/O shell alone knows about its traffic, since the server started: a snapshot of
 * plain numbers, read by observers (the server's view, metrics, the dashboard). Connections by
 * kind (client, worker, admin) are the core's to say, from what each connection did.
 */
export interface NetFigures {
  /** Connections open now. */
  readonly connectionsOpen: number;
  /** Connections handed to the shell (accepted by a listener, or given to `handle`). */
  readonly connectionsAccepted: number;
  /** Connections that have closed, for whatever reason. */
  readonly connectionsClosed: number;
  /** Bytes read from peers. */
  readonly bytesIn: number;
  /** Bytes written to peers' sockets. */
  readonly bytesOut: number;
  /** Binary packets received, by packet name (every known type, zeros included). */
  readonly packetsIn: Readonly<Record<string, number>>;
  /** Binary packets sent, by packet name (every known type, zeros included). */
  readonly packetsOut: Readonly<Record<string, number>>;
  /** Admin text lines received. */
  readonly adminLinesIn: number;
  /** Admin text replies sent (one per command answered). */
  readonly adminRepliesOut: number;
  /** Peers refused for going over a limit (packet size, line length); told why, then closed. */
  readonly refusedOverLimit: number;
  /** Peers that broke the framing (bad magic, unknown type, …); closed without a reply. */
  readonly protocolErrors: number;
  /** Peers dropped because they did not read their replies (over the output limit). */
  readonly slowPeersDropped: number;
}

/** Something that can report its {@link NetFigures} (the I/O shell). */
export interface NetFiguresSource {
  /** A fresh snapshot; costs a few dozen number copies, nothing on the traffic path. */
  netFigures(): NetFigures;
}

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
  refusedOverLimit = 0;
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
      refusedOverLimit: this.refusedOverLimit,
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
