/**
 * The base of every error Gearbox raises on purpose: a literal `code` that callers can switch
 * on, a message for people, and the underlying `cause` where there is one.
 */
export class GearboxError<Code extends string = string> extends Error {
  constructor(
    readonly code: Code,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Codes for a peer's violation of the wire protocol. */
export type ProtocolErrorCode =
  | 'INVALID_MAGIC'
  | 'INVALID_PACKET_TYPE'
  | 'PACKET_TOO_LARGE'
  | 'LINE_TOO_LONG'
  | 'MALFORMED_PACKET';

/** A peer broke the framing; the connection it came from cannot be trusted and is closed. */
export class ProtocolError extends GearboxError<ProtocolErrorCode> {}
