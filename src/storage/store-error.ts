import { GearboxError } from '../protocol/errors.js';

/**
 * Why a store refused or failed an operation:
 * - `STORE_UNAVAILABLE`: the database cannot be reached (the store is reconnecting);
 * - `JOB_TOO_LARGE`: this job's row is larger than the database accepts;
 * - `EPOCH_NOT_SUPPORTED`: the backend cannot keep a run time (Redis, as in gearmand);
 * - `STORE_CLOSED`: the store is not open (before `open()` or after `close()`);
 * - `STORE_FAILED`: the database rejected the operation for another reason.
 */
export type StoreErrorCode =
  'STORE_UNAVAILABLE' | 'JOB_TOO_LARGE' | 'EPOCH_NOT_SUPPORTED' | 'STORE_CLOSED' | 'STORE_FAILED';

/**
 * A job store could not do what it was asked. The message is meant for the submitting client
 * (the server sends it as `ERROR QUEUE_ERROR <message>`) and for the log, so it names the
 * database and its address.
 */
export class StoreError extends GearboxError<StoreErrorCode> {}

/** Severity of a store log line; the names are gearmand's verbosity levels. */
export type StoreLogLevel = 'ERROR' | 'WARNING' | 'NOTICE' | 'INFO' | 'DEBUG';

/** Where a store reports what it is doing (connection lost, reconnecting, …). */
export type StoreLogger = (level: StoreLogLevel, message: string) => void;

/** A logger that drops everything, for stores created without one. */
export const silentLogger: StoreLogger = () => {};

/** The message of any thrown value, for log lines and error texts. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' && !err.message.includes(code)
      ? `${err.message} (${code})`
      : err.message;
  }
  return String(err);
}
