import { SchedulerError } from './errors.js';

/**
 * The run times the scheduler stores: from the Unix epoch to the last millisecond of 9999.
 *
 * Why these bounds: `at` is written as ISO 8601 with a four-digit year or as Unix ms, answers
 * carry `run_at` as ISO 8601 too, and every time in this range is exact as a JavaScript number
 * and a Date, and fits BIGINT on every database. Past 8.64e15 ms `Date` fails ("Invalid time
 * value") and past 9.22e18 BIGINT does; a job whose time could not be written back to its caller
 * was stored all the same, so the bound is checked before anything is stored.
 */
const EARLIEST_RUN_AT_MS = 0;
/** 9999-12-31T23:59:59.999Z. */
export const LATEST_RUN_AT_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** True when `ms` is a whole number of milliseconds in the accepted range. */
function inRunAtRange(ms: number): boolean {
  return Number.isInteger(ms) && ms >= EARLIEST_RUN_AT_MS && ms <= LATEST_RUN_AT_MS;
}

/** The sentence a refusal of an out-of-range time ends with. */
export const RUN_AT_RANGE = `between ${new Date(EARLIEST_RUN_AT_MS).toISOString()} and ${new Date(LATEST_RUN_AT_MS).toISOString()} (Unix ms ${EARLIEST_RUN_AT_MS} to ${LATEST_RUN_AT_MS})`;

/** Returns `ms` when it is in range; throws INVALID_REQUEST naming `what` otherwise. */
export function checkRunAt(ms: number, what: string): number {
  if (!inRunAtRange(ms))
    throw new SchedulerError('INVALID_REQUEST', `${what} must be ${RUN_AT_RANGE}, got ${ms}`);
  return ms;
}

/**
 * A stored time as ISO 8601, or null when it cannot be written (a row stored before the range
 * was enforced): an answer about such a row must not fail.
 */
export function isoTime(ms: number): string | null {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}
