import { randomUUID } from 'node:crypto';
import { request, type PacketType } from '../../src/protocol/index.js';

/**
 * How submitted jobs are named: `distinct` gives every job its own UUID-shaped unique id, as
 * libgearman and most client libraries do by default (so the server indexes every job by it);
 * `empty` sends no unique id at all (never coalesced, nothing to index).
 */
export type UniqueMode = 'distinct' | 'empty';

const COUNTER_DIGITS = 12;
const ZEROS = '0'.repeat(COUNTER_DIGITS);

/**
 * Builds runs of identical-but-for-the-unique submit packets cheaply: a template run is copied
 * and only each packet's 12 counter digits are rewritten. Every call returns a fresh buffer, so
 * a buffer still queued in a socket is never changed underneath it.
 */
export class SubmitPackets {
  /** Bytes of one packet. */
  readonly packetLength: number;
  private readonly template: Buffer;
  /** Offset of the counter digits inside one packet, or -1 when there are none. */
  private readonly counterOffset: number;
  private counter = 0;

  constructor(
    type: PacketType,
    functionName: string,
    payloadBytes: number,
    private readonly mode: UniqueMode,
    private readonly maxRun: number,
  ) {
    // The UUID's first 23 characters, a dash, then a 12-digit counter: 36 characters, UUID-shaped.
    const prefix = mode === 'distinct' ? `${randomUUID().slice(0, 23)}-` : '';
    const unique = mode === 'distinct' ? `${prefix}${ZEROS}` : '';
    const packet = request(type, functionName, unique, Buffer.alloc(payloadBytes, 0x61));
    this.packetLength = packet.length;
    this.counterOffset =
      mode === 'distinct' ? 12 + Buffer.byteLength(functionName) + 1 + prefix.length : -1;
    this.template = Buffer.concat(new Array<Buffer>(maxRun).fill(packet));
  }

  /** `count` (≤ maxRun) packets, each with the next unique id. */
  next(count: number): Buffer {
    const n = Math.min(count, this.maxRun);
    if (this.mode === 'empty') return this.template.subarray(0, n * this.packetLength);
    const out = Buffer.allocUnsafe(n * this.packetLength);
    this.template.copy(out, 0, 0, out.length);
    for (let i = 0; i < n; i++) {
      let value = ++this.counter;
      let pos = i * this.packetLength + this.counterOffset + COUNTER_DIGITS - 1;
      while (value > 0) {
        out[pos--] = 0x30 + (value % 10);
        value = Math.floor(value / 10);
      }
    }
    return out;
  }
}
