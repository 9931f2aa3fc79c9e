import { encodePacket } from '../../protocol/encoder.js';
import { HEADER_SIZE, Magic, PacketType } from '../../protocol/packet-types.js';
import { bytes, textToByteString } from './byte-strings.js';

/** `\0RES` and the JOB_CREATED type: the first 8 bytes of every JOB_CREATED packet. */
const JOB_CREATED_HEADER = encodePacket(Magic.RES, PacketType.JOB_CREATED, []).subarray(0, 8);

/** Handle numbers above this many digits are not ours (ids stay far below 2^53). */
const MAX_ID_DIGITS = 15;

/** How many decimal digits a positive integer has. */
function decimalDigits(value: number): number {
  let digits = 1;
  for (let rest = value; rest >= 10; rest = Math.floor(rest / 10)) digits++;
  return digits;
}

/** Writes a non-negative integer's decimal digits so that the last one lands just before `end`. */
function writeDecimal(out: Buffer, end: number, value: number): void {
  let pos = end;
  let rest = value;
  do {
    const next = Math.floor(rest / 10);
    out[--pos] = 0x30 + (rest - next * 10);
    rest = next;
  } while (rest > 0);
}

/**
 * Job handles: `<prefix>:<n>`, with `n` the job's id. Every submission gets a JOB_CREATED and
 * every grab a handle, so both are written straight from the prefix bytes and the number, and a
 * handle in a packet is parsed back to its number from the bytes, without a string in between.
 */
export class HandleCodec {
  /** `<prefix>:` as a byte string. */
  private readonly prefix: string;
  private readonly prefixBytes: Buffer;

  /** `prefix` is text (gearmand: `H:<hostname>`); its UTF-8 bytes go on the wire. */
  constructor(prefix: string) {
    this.prefix = `${textToByteString(prefix)}:`;
    this.prefixBytes = bytes(this.prefix);
  }

  /** The handle of job `id` as a byte string. */
  text(id: number): string {
    return `${this.prefix}${id}`;
  }

  /** The handle of job `id` as bytes. */
  bytes(id: number): Buffer {
    const prefix = this.prefixBytes;
    const out = Buffer.allocUnsafe(prefix.length + decimalDigits(id));
    prefix.copy(out, 0);
    writeDecimal(out, out.length, id);
    return out;
  }

  /**
   * The JOB_CREATED packet for job `id`: going through a handle string and the generic encoder
   * (string concatenation, UTF-8 length and write) was a visible share of the submit path.
   */
  jobCreated(id: number): Buffer {
    const prefix = this.prefixBytes;
    const length = prefix.length + decimalDigits(id);
    const out = Buffer.allocUnsafe(HEADER_SIZE + length);
    JOB_CREATED_HEADER.copy(out, 0);
    out.writeUInt32BE(length, 8);
    prefix.copy(out, HEADER_SIZE);
    writeDecimal(out, HEADER_SIZE + length, id);
    return out;
  }

  /** The job id a handle names (`<prefix>:<digits>`, no leading zero), or undefined. */
  parse(handle: Buffer): number | undefined {
    const prefix = this.prefixBytes;
    const n = handle.length - prefix.length;
    if (n <= 0 || n > MAX_ID_DIGITS || prefix.compare(handle, 0, prefix.length) !== 0) {
      return undefined;
    }
    let id = 0;
    for (let i = prefix.length; i < handle.length; i++) {
      const digit = (handle[i] as number) - 0x30;
      if (digit < 0 || digit > 9 || (digit === 0 && id === 0)) return undefined;
      id = id * 10 + digit;
    }
    return id;
  }
}
