import { GearboxError } from '../../protocol/errors.js';

/** Codes for failures of the I/O shell itself. */
export type NetErrorCode = 'LISTEN_FAILED';

/** The server could not bind or listen. */
export class NetError extends GearboxError<NetErrorCode> {}

/** A fault of ours: the stack helps whoever reads the log. */
export function describeFault(err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}
