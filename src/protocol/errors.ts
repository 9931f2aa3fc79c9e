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

/**
 * The message of any thrown value, for log lines and error texts. A Node `AggregateError` (a
 * connection refused on every address of a host) has an empty message: its errors' are used.
 */
export function errorMessage(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  if (err.message !== '') return err.message;
  if (err instanceof AggregateError && err.errors.length > 0)
    return err.errors.map(errorMessage).join('; ');
  return err.name;
}
