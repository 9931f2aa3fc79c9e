import {
  argumentCount,
  HEADER_SIZE,
  Magic,
  MAX_PACKET_TYPE,
  packetName,
  type PacketType,
} from './packet-types.js';
import { ProtocolError } from './errors.js';

/** A binary Gearman packet. `args` has exactly `argumentCount(type)` entries. */
export interface Packet {
  readonly magic: Magic;
  readonly type: PacketType;
  /**
   * The arguments, as views into the received bytes where the packet arrived whole: copy one
   * (`Buffer.from(arg)`) before keeping it past the callback if the chunk will be reused.
   */
  readonly args: Buffer[];
}

/** An admin text command: the bytes up to `\n`, without the line ending. */
export interface TextLine {
  readonly line: string;
  /** Whether the line ended with `\r\n` rather than a bare `\n`. */
  readonly crlf: boolean;
}

/** Limits that bound what a peer can make the decoder allocate. */
export interface DecoderLimits {
  /** The largest payload accepted, in bytes; a larger announced length is a fatal error. */
  maxPacketSize: number;
  /** The longest admin text line accepted, in bytes. */
  maxLineLength: number;
}

/** What the decoder hands out, in stream order. */
export interface DecoderSink {
  packet(packet: Packet): void;
  text(line: TextLine): void;
}

/** Defaults that suit a job server: 64 MiB payloads, 64 KiB admin lines. */
export const DEFAULT_LIMITS: DecoderLimits = {
  maxPacketSize: 64 * 1024 * 1024,
  maxLineLength: 64 * 1024,
};

/*
 * States of the decoder, at a packet boundary or inside one:
 *
 *   BOUNDARY   nothing pending, or fewer bytes than a header kept in `head`
 *     ├─ first byte \0  → header complete → payload whole in chunk → emit, stay BOUNDARY
 *     │                                   └ payload split → BODY
 *     └─ any other byte → TEXT (until \n) → emit line → BOUNDARY
 *   BODY       copying a split payload into `body` until it is full → emit → BOUNDARY
 *   TEXT       collecting a split admin line in `textParts` → BOUNDARY at \n
 *   FAILED     a fatal error was thrown; every later push throws it again
 */
const State = { BOUNDARY: 0, BODY: 1, TEXT: 2, FAILED: 3 } as const;
type State = (typeof State)[keyof typeof State];

const EMPTY = Buffer.alloc(0);
const NL = 0x0a;
const CR = 0x0d;

/**
 * The streaming decoder for one Gearman connection: binary packets and admin text lines, mixed
 * freely, decided per packet by the first byte (`\0` starts a binary packet).
 *
 * Payloads that arrive whole are handed out as `subarray` views of the chunk, without copying;
 * a payload split across chunks is copied once into a buffer of its announced size, allocated
 * only after that size has been checked against the limit. A protocol violation throws a
 * {@link ProtocolError}, after which the connection should be closed.
 */
export class Decoder {
  private state: State = State.BOUNDARY;
  /** Header bytes (or the start of a text line) left over from the previous chunk. */
  private head: Buffer = EMPTY;
  private body: Buffer = EMPTY;
  private bodyFilled = 0;
  private bodyMagic: Magic = Magic.REQ;
  private bodyType = 0;
  private textParts: Buffer[] = [];
  private textLength = 0;
  private failure: ProtocolError | undefined;

  constructor(
    private readonly sink: DecoderSink,
    private readonly limits: DecoderLimits = DEFAULT_LIMITS,
  ) {}

  /** Whether bytes of an unfinished packet or line are being held. */
  get hasPartial(): boolean {
    return this.head.length > 0 || this.state === State.BODY || this.state === State.TEXT;
  }

  /** Feed the next chunk from the socket. Throws a {@link ProtocolError} on a violation. */
  push(chunk: Buffer): void {
    if (this.failure) throw this.failure;
    try {
      this.consume(chunk);
    } catch (err) {
      if (err instanceof ProtocolError) {
        this.state = State.FAILED;
        this.failure = err;
      }
      throw err;
    }
  }

  private consume(chunk: Buffer): void {
    let data = chunk;
    let pos = 0;
    if (this.state === State.BODY) {
      pos = this.fillBody(data);
      if (this.waiting()) return;
    } else if (this.state === State.TEXT) {
      pos = this.fillText(data, 0);
      if (this.waiting()) return;
    } else if (this.head.length > 0) {
      // A header (or text start) was split: join it with just enough of the new chunk.
      data = Buffer.concat([this.head, chunk]);
      this.head = EMPTY;
    }
    while (pos < data.length) {
      if (data[pos] !== 0) {
        pos = this.fillText(data, pos);
        if (this.waiting()) return;
        continue;
      }
      if (data.length - pos < HEADER_SIZE) {
        // Checking the magic early makes garbage fail at once instead of waiting for 12 bytes.
        this.checkMagicPrefix(data, pos);
        this.head = Buffer.from(data.subarray(pos));
        return;
      }
      const magic = this.readMagic(data, pos);
      const type = data.readUInt32BE(pos + 4);
      const length = data.readUInt32BE(pos + 8);
      if (type === 0 || type > MAX_PACKET_TYPE) {
        throw new ProtocolError('INVALID_PACKET_TYPE', `unknown packet type ${type}`);
      }
      if (length > this.limits.maxPacketSize) {
        throw new ProtocolError(
          'PACKET_TOO_LARGE',
          `${packetName(type)} of ${length} bytes is over the limit of ${this.limits.maxPacketSize} bytes`,
        );
      }
      const start = pos + HEADER_SIZE;
      if (data.length - start >= length) {
        this.emitPacket(magic, type, data.subarray(start, start + length));
        pos = start + length;
        continue;
      }
      this.bodyMagic = magic;
      this.bodyType = type;
      this.body = Buffer.allocUnsafe(length);
      this.bodyFilled = data.copy(this.body, 0, start);
      this.state = State.BODY;
      return;
    }
  }

  /** Whether the chunk ended inside a payload or a text line. */
  private waiting(): boolean {
    return this.state === State.BODY || this.state === State.TEXT;
  }

  private fillBody(chunk: Buffer): number {
    const need = this.body.length - this.bodyFilled;
    const n = Math.min(need, chunk.length);
    chunk.copy(this.body, this.bodyFilled, 0, n);
    this.bodyFilled += n;
    if (this.bodyFilled === this.body.length) {
      const body = this.body;
      this.body = EMPTY;
      this.state = State.BOUNDARY;
      this.emitPacket(this.bodyMagic, this.bodyType, body);
    }
    return n;
  }

  /** Collects a text line starting at `pos`; returns where the next packet begins. */
  private fillText(data: Buffer, pos: number): number {
    const nl = data.indexOf(NL, pos);
    const end = nl === -1 ? data.length : nl;
    const piece = data.subarray(pos, end);
    if (this.textLength + piece.length > this.limits.maxLineLength) {
      throw new ProtocolError(
        'LINE_TOO_LONG',
        `Admin command line longer than ${this.limits.maxLineLength} bytes`,
      );
    }
    if (nl === -1) {
      this.textParts.push(Buffer.from(piece));
      this.textLength += piece.length;
      this.state = State.TEXT;
      return data.length;
    }
    let line = piece;
    if (this.textParts.length > 0) {
      this.textParts.push(piece);
      line = Buffer.concat(this.textParts);
      this.textParts = [];
      this.textLength = 0;
    }
    this.state = State.BOUNDARY;
    const crlf = line.length > 0 && line[line.length - 1] === CR;
    this.sink.text({
      line: line.toString('latin1', 0, crlf ? line.length - 1 : line.length),
      crlf,
    });
    return nl + 1;
  }

  private checkMagicPrefix(data: Buffer, pos: number): void {
    const expected = [0, 0x52, 0x45];
    for (let i = 0; i < 3 && pos + i < data.length; i++) {
      if (data[pos + i] !== expected[i]) throw badMagic();
    }
    const fourth = data[pos + 3];
    if (fourth !== undefined && fourth !== 0x51 && fourth !== 0x53) throw badMagic();
  }

  private readMagic(data: Buffer, pos: number): Magic {
    if (data[pos + 1] === 0x52 && data[pos + 2] === 0x45) {
      if (data[pos + 3] === 0x51) return Magic.REQ;
      if (data[pos + 3] === 0x53) return Magic.RES;
    }
    throw badMagic();
  }

  private emitPacket(magic: Magic, type: number, payload: Buffer): void {
    this.sink.packet({ magic, type: type as PacketType, args: splitArguments(type, payload) });
  }
}

function badMagic(): ProtocolError {
  return new ProtocolError('INVALID_MAGIC', 'packet magic is neither \\0REQ nor \\0RES');
}

/**
 * Splits a payload into the packet type's arguments: every field but the last ends at a NUL,
 * the last runs to the end. Too few NULs is a framing error (gearmand would swallow the next
 * packet's bytes and desynchronise; we refuse instead).
 */
export function splitArguments(type: number, payload: Buffer): Buffer[] {
  const count = argumentCount(type);
  if (count === 0) return [];
  const args: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < count - 1; i++) {
    const nul = payload.indexOf(0, start);
    if (nul === -1) {
      throw new ProtocolError(
        'MALFORMED_PACKET',
        `${packetName(type)} needs ${count} arguments but has ${i + 1}`,
      );
    }
    args.push(payload.subarray(start, nul));
    start = nul + 1;
  }
  args.push(payload.subarray(start));
  return args;
}
