import { HEADER_SIZE, Magic, PacketType, REQ_MAGIC, RES_MAGIC } from './packet-types.js';

/** An argument on the wire: bytes, or a string sent as UTF-8. */
export type Arg = Buffer | Uint8Array | string;

function byteLength(arg: Arg): number {
  return typeof arg === 'string' ? Buffer.byteLength(arg) : arg.length;
}

/**
 * Encodes one packet: header, then the arguments joined by single NULs (the last argument is
 * not NUL-terminated). The caller passes exactly the packet type's argument count.
 */
export function encodePacket(magic: Magic, type: PacketType, args: readonly Arg[] = []): Buffer {
  let length = args.length > 0 ? args.length - 1 : 0;
  for (const arg of args) length += byteLength(arg);
  const out = Buffer.allocUnsafe(HEADER_SIZE + length);
  (magic === Magic.REQ ? REQ_MAGIC : RES_MAGIC).copy(out, 0);
  out.writeUInt32BE(type, 4);
  out.writeUInt32BE(length, 8);
  let pos = HEADER_SIZE;
  for (let i = 0; i < args.length; i++) {
    if (i > 0) out[pos++] = 0;
    const arg = args[i] as Arg;
    if (typeof arg === 'string') pos += out.write(arg, pos);
    else {
      out.set(arg, pos);
      pos += arg.length;
    }
  }
  return out;
}

/** Encodes a packet sent to the server (`\0REQ`). */
export function request(type: PacketType, ...args: Arg[]): Buffer {
  return encodePacket(Magic.REQ, type, args);
}

/** Encodes a packet sent by the server (`\0RES`). */
export function response(type: PacketType, ...args: Arg[]): Buffer {
  return encodePacket(Magic.RES, type, args);
}

/** Prebuilt frames for the packets that carry no arguments; never mutate them. */
export const Frames = {
  NOOP: response(PacketType.NOOP),
  NO_JOB: response(PacketType.NO_JOB),
  GRAB_JOB: request(PacketType.GRAB_JOB),
  GRAB_JOB_UNIQ: request(PacketType.GRAB_JOB_UNIQ),
  GRAB_JOB_ALL: request(PacketType.GRAB_JOB_ALL),
  PRE_SLEEP: request(PacketType.PRE_SLEEP),
  RESET_ABILITIES: request(PacketType.RESET_ABILITIES),
} as const;
