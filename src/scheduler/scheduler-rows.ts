/**
 * The scheduler table's rows as the scheduler sees them, read from whatever the driver returns
 * (strings, numbers or bigints for our columns; booleans or 1/0), and the checks on what goes in.
 */
import type { Priority } from '../protocol/packet-types.js';
import type { SqlRow } from '../sql/sql-database.js';
import { CronExpression } from './cron.js';
import { SchedulerError } from './errors.js';
import type { ClaimedJob, JobState, JobStatus } from './scheduler-store.js';
import { LATEST_RUN_AT_MS } from './time-range.js';

/** A column value as text. */
export function text(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  return '';
}
export const num = (v: unknown): number => Number(v);
/** A boolean column: PostgreSQL gives true/false, MySQL and SQLite 1/0. */
export const truthy = (v: unknown): boolean => v === true || Number(v) === 1;
export const numOrNull = (v: unknown): number | null =>
  v === null || v === undefined ? null : Number(v);
export const strOrNull = (v: unknown): string | null =>
  v === null || v === undefined ? null : text(v);

export function toBuffer(v: unknown): Buffer {
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof Uint8Array) return Buffer.from(v);
  return Buffer.from(text(v));
}

export function toStatus(row: SqlRow): JobStatus {
  return {
    id: text(row.id),
    functionName: text(row.function_name),
    unique: strOrNull(row.unique_key),
    state: text(row.state) as JobState,
    attempts: num(row.attempts),
    maxAttempts: num(row.max_attempts),
    runAt: num(row.run_at),
    lastError: strOrNull(row.last_error),
    cron: strOrNull(row.cron_expr),
    timeZone: strOrNull(row.time_zone),
    scheduleId: strOrNull(row.schedule_id),
    createdAt: num(row.created_at),
    updatedAt: num(row.updated_at),
  };
}

/** A claimed row; `token` is the claim's value of `claims`. */
export function toClaimedJob(r: SqlRow, token: number): ClaimedJob {
  return {
    id: text(r.id),
    token,
    functionName: text(r.function_name),
    payload: toBuffer(r.payload),
    priority: num(r.priority) as Priority,
    background: num(r.background) === 1,
    runAt: num(r.run_at),
    attempts: num(r.attempts),
    maxAttempts: num(r.max_attempts),
    backoffMs: num(r.backoff_ms),
  };
}

/** Keeps error texts a sane size in the table. */
export function clip(message: string): string {
  return message.length > 2000 ? `${message.slice(0, 2000)}…` : message;
}

/**
 * A job id as the table keys it: a positive integer, given as a string, returned as the number
 * it travels to the database as — so one past 2^53, which would be rounded to another job's id,
 * is refused.
 */
export function jobId(id: string): number {
  if (!/^\d{1,16}$/.test(id) || !Number.isSafeInteger(Number(id)))
    throw new SchedulerError('INVALID_REQUEST', `invalid job id '${id}'`);
  return Number(id);
}

/** A cron schedule's next tick after `after`, or null when there is none in the accepted range. */
export function nextTick(cron: CronExpression, after: number, timeZone: string): number | null {
  const next = cron.next(after, timeZone);
  return next !== null && next <= LATEST_RUN_AT_MS ? next : null;
}
