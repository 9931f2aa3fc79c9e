import { GearboxError } from '../protocol/errors.js';

/** Codes for failures of the link to a job server. */
export type ConnectionErrorCode =
  /** Could not open a TCP connection (refused, unreachable, connect timeout). */
  | 'CONNECT_FAILED'
  /** The connection dropped while a request was waiting for its answer. */
  | 'CONNECTION_LOST'
  /** Every configured server was tried and none could be reached. */
  | 'NO_SERVER_AVAILABLE'
  /** The client, worker or admin client was closed by its owner. */
  | 'CLOSED'
  /** The server sent bytes that break the protocol; the connection was dropped. */
  | 'PROTOCOL_ERROR';

/** A job server could not be reached, or went away. */
export class ConnectionError extends GearboxError<ConnectionErrorCode> {
  constructor(
    code: ConnectionErrorCode,
    message: string,
    /** The server this is about, as `host:port`, when there is one. */
    readonly server?: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

/**
 * The server answered a request with an `ERROR` packet (for example `QUEUE_ERROR` when a
 * function's queue is full). `serverCode` is gearmand's code, e.g. `QUEUE_ERROR`.
 */
export class ServerError extends GearboxError<'SERVER_ERROR'> {
  constructor(
    readonly serverCode: string,
    readonly serverMessage: string,
    readonly server: string,
  ) {
    super('SERVER_ERROR', `${server} answered ${serverCode}: ${serverMessage}`);
  }
}

/** A call did not complete within its `timeout`. */
export class TimeoutError extends GearboxError<'TIMEOUT'> {
  constructor(message: string) {
    super('TIMEOUT', message);
  }
}

/** A call was cancelled through its `AbortSignal`. */
export class AbortError extends GearboxError<'ABORTED'> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ABORTED', message, options);
  }
}
