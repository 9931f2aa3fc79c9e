import { randomUUID } from 'node:crypto';
import { request, type PacketType } from '../../src/protocol/index.js';
import { functionNameAt } from './tasks.js';

/**
 * How submitted jobs are named: `distinct` gives every job its own UUID-shaped unique id, as
 * libgearman and most client libraries do by default (so the server indexes every job by it);
 * `empty` sends no unique id at all (never coalesced, nothing to index).
 */
export type UniqueMode = 'distinct' | 'empty';

const COUNTER_DIGITS = 12;
const ZEROS = '0'.repeat(COUNTER_DIGITS);
/** Digits of the function index in {@link functionNameAt}'s names. */
const FUNCTION_DIGITS = 5;

/** Writes `value` as decimal digits ending just before `end` (the digits before stay as they are). */
function writeDigits(out: Buffer, end: number, value: number): void {
  let pos = end - 1;
  while (value > 0) {
    out[pos--] = 0x30 + (value % 10);
    value = Math.floor(value / 10);
  }
}

/**
 * Builds runs of identical-but-for-the-unique submit packets cheaply: a template run is copied
 * and only each packet's 12 counter digits (and, with several functions, the function name's
 * index digits) are rewritten. Every call returns a fresh buffer, so a buffer still queued in a
 * socket is never changed underneath it.
 */
export class SubmitPackets {
  /** Bytes of one packet. */
  readonly packetLength: number;
  private readonly template: Buffer;
  /** Offset of the counter digits inside one packet, or -1 when there are none. */
  private readonly counterOffset: number;
  /** Offset of the end of the function index digits inside one packet, or -1 with one function. */
  private readonly functionDigitsEnd: number;
  private counter = 0;

  constructor(
    type: PacketType,
    functionName: string,
    payloadBytes: number,
    private readonly mode: UniqueMode,
    private readonly maxRun: number,
    /** Jobs go to the functions {@link functionNameAt}(functionName, i, functions) in turn. */
    private readonly functions = 1,
  ) {
    // The UUID's first 23 characters, a dash, then a 12-digit counter: 36 characters, UUID-shaped.
    const prefix = mode === 'distinct' ? `${randomUUID().slice(0, 23)}-` : '';
    const unique = mode === 'distinct' ? `${prefix}${ZEROS}` : '';
    const name = functionNameAt(functionName, 0, functions);
    const packet = request(type, name, unique, Buffer.alloc(payloadBytes, 0x61));
    const nameBytes = Buffer.byteLength(name);
    this.packetLength = packet.length;
    this.counterOffset = mode === 'distinct' ? 12 + nameBytes + 1 + prefix.length : -1;
    this.functionDigitsEnd = functions > 1 ? 12 + nameBytes : -1;
    if (functions > 10 ** FUNCTION_DIGITS) throw new RangeError(`too many functions: ${functions}`);
    this.template = Buffer.concat(new Array<Buffer>(maxRun).fill(packet));
  }

  /** `count` (≤ maxRun) packets, each with the next unique id (and the next function). */
  next(count: number): Buffer {
    const n = Math.min(count, this.maxRun);
    if (this.mode === 'empty' && this.functions <= 1)
      return this.template.subarray(0, n * this.packetLength);
    const out = Buffer.allocUnsafe(n * this.packetLength);
    this.template.copy(out, 0, 0, out.length);
    for (let i = 0; i < n; i++) {
      const base = i * this.packetLength;
      const seq = this.counter++;
      if (this.counterOffset >= 0)
        writeDigits(out, base + this.counterOffset + COUNTER_DIGITS, seq + 1);
      if (this.functionDigitsEnd >= 0)
        writeDigits(out, base + this.functionDigitsEnd, seq % this.functions);
    }
    return out;
  }
}
