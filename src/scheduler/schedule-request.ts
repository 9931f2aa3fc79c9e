import { Priority } from '../protocol/packet-types.js';
import { assertTimeZone, CronExpression } from './cron.js';
import { SchedulerError } from './errors.js';
import { SCHEDULER_DEFAULTS } from './defaults.js';
import { checkRunAt, RUN_AT_RANGE } from './time-range.js';
import type { CancelTarget, JobTiming, NewScheduledJob } from './scheduler-store.js';

/** Defaults for fields a request leaves out (`SCHEDULER_DEFAULTS` when not told otherwise). */
export interface ScheduleDefaults {
  readonly maxAttempts: number;
  /** Seconds. */
  readonly backoffSeconds: number;
}

const NATIVE_KEYS = new Set([
  'function',
  'payload',
  'payload_base64',
  'at',
  'after',
  'cron',
  'timezone',
  'unique',
  'priority',
  'max_attempts',
  'backoff',
  'background',
]);
/** Gearsloth fields we accept and ignore: its controller and runner retry knobs. */
const GEARSLOTH_IGNORED = new Set([
  'controller',
  'runner_retry_timeout',
  'runner_retry_count',
  'retry_count',
  'strategy',
  'strategy_options',
]);

/** Function names: as Gearman allows them, and as the `VARCHAR(512)` column holds them. */
const MAX_NAME_BYTES = 512;
/** `unique_key` is `VARCHAR(255)`. */
const MAX_UNIQUE_LENGTH = 255;
/** `cron_expr` is `VARCHAR(255)`, `time_zone` `VARCHAR(64)`. */
const MAX_CRON_LENGTH = 255;
const MAX_TIME_ZONE_LENGTH = 64;
/**
 * The largest payload stored. MySQL/MariaDB receive a payload hex-encoded in the statement, and
 * MariaDB's default `max_allowed_packet` is 16 MiB: 4 MiB (8 MiB as hex) fits with room to spare.
 */
export const MAX_PAYLOAD_BYTES = 4 * 1024 * 1024;
const MAX_DELAY_SECONDS = 10 * 366 * 86_400;
/**
 * ISO 8601 as Date.parse reads it reliably: a date, optionally a time and zone. Each field is
 * checked against the calendar as well, because Date.parse takes any day up to 31 in any month
 * (2026-02-30 is 2026-03-02 to it) and 24:00 as the next midnight.
 */
const ISO_8601 =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-](\d{2}):?(\d{2}))?)?$/;
/** Lone UTF-16 surrogates: they would be stored as U+FFFD, another name than the one given. */
const LONE_SURROGATE = /\p{Cs}/u;

function invalid(message: string): never {
  throw new SchedulerError('INVALID_REQUEST', message);
}

/** Parses a JSON object payload; anything else is INVALID_REQUEST. */
export function parseJsonObject(payload: Buffer, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(payload.toString('utf8'));
  } catch {
    invalid(`${what}: the payload is not JSON`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    invalid(`${what}: the payload must be a JSON object`);
  return value as Record<string, unknown>;
}

/** Text the database stores as given: no NUL (PostgreSQL refuses it), no lone surrogate. */
function checkText(value: string, field: string): string {
  if (value.includes('\0')) invalid(`'${field}' must not contain NUL`);
  if (LONE_SURROGATE.test(value)) invalid(`'${field}' must be valid Unicode (a lone surrogate)`);
  return value;
}

function functionName(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '') invalid(`'${field}' must be a non-empty string`);
  if (Buffer.byteLength(value) > MAX_NAME_BYTES)
    invalid(`'${field}' is longer than ${MAX_NAME_BYTES} bytes`);
  return checkText(value, field);
}

function uniqueOf(value: unknown): string {
  if (typeof value !== 'string' || value === '' || value.length > MAX_UNIQUE_LENGTH)
    invalid(`'unique' must be a string of 1 to ${MAX_UNIQUE_LENGTH} characters`);
  return checkText(value, 'unique');
}

function daysIn(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** Why an ISO 8601 text is not a real time, or null when it is one. */
function calendarFault(text: string): string | null {
  const m = ISO_8601.exec(text);
  if (!m) return 'it is not ISO 8601';
  const field = (i: number): number => Number(m[i] ?? 0);
  const [year, month, day] = [field(1), field(2), field(3)];
  if (month < 1 || month > 12) return `there is no month ${month}`;
  if (day < 1 || day > daysIn(year, month))
    return `${text.slice(0, 7)} has ${daysIn(year, month)} days`;
  if (field(4) > 23) return `hour ${field(4)} is past 23`;
  if (field(5) > 59) return `minute ${field(5)} is past 59`;
  if (field(6) > 59) return `second ${field(6)} is past 59`;
  if (field(7) > 23 || field(8) > 59) return 'its UTC offset is not one';
  return null;
}

function timeOf(value: unknown): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) invalid(`'at' must be ${RUN_AT_RANGE}`);
    return checkRunAt(Math.round(value), `'at'`);
  }
  if (typeof value === 'string') {
    const text = value.trim();
    const fault = calendarFault(text);
    const ms = Date.parse(text);
    if (fault === null && Number.isFinite(ms)) return checkRunAt(ms, `'at'`);
    invalid(
      `'at' must be an ISO 8601 time or Unix milliseconds, got ${JSON.stringify(value)}${fault ? `: ${fault}` : ''}`,
    );
  }
  return invalid(
    `'at' must be an ISO 8601 time or Unix milliseconds, got ${JSON.stringify(value)}`,
  );
}

function delayOf(value: unknown): number {
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value < 0 ||
    value > MAX_DELAY_SECONDS
  )
    invalid(`'after' must be a number of seconds from 0 to ${MAX_DELAY_SECONDS}`);
  return Math.round(value * 1000);
}

function priorityOf(value: unknown): Priority {
  if (value === undefined || value === 'normal') return Priority.NORMAL;
  if (value === 'high') return Priority.HIGH;
  if (value === 'low') return Priority.LOW;
  return invalid(`'priority' must be "high", "normal" or "low"`);
}

function payloadOf(text: unknown, base64: unknown, gearsloth: boolean): Buffer {
  const payload = payloadBytes(text, base64, gearsloth);
  if (payload.length > MAX_PAYLOAD_BYTES)
    invalid(`the payload is ${payload.length} bytes, more than ${MAX_PAYLOAD_BYTES} bytes`);
  return payload;
}

function payloadBytes(text: unknown, base64: unknown, gearsloth: boolean): Buffer {
  if (text !== undefined && base64 !== undefined)
    invalid(`give 'payload' or 'payload_base64', not both`);
  if (base64 !== undefined) {
    if (
      typeof base64 !== 'string' ||
      !/^[A-Za-z0-9+/]*={0,2}$/.test(base64) ||
      base64.length % 4 === 1
    )
      invalid(`'payload_base64' must be base64`);
    return Buffer.from(base64, 'base64');
  }
  if (text === undefined || text === null) return Buffer.alloc(0);
  if (typeof text === 'string') return Buffer.from(text, 'utf8');
  // Gearsloth clients may send a JSON value as the payload; the target gets it as JSON text.
  if (gearsloth) return Buffer.from(JSON.stringify(text), 'utf8');
  return invalid(`'payload' must be a string (use 'payload_base64' for bytes)`);
}

/**
 * Reads a `gearbox.schedule` request: our JSON format, or Gearsloth's task format (`func_name`,
 * `at`/`after`, `payload`), so that Gearsloth users can move over. Throws INVALID_REQUEST (or
 * INVALID_CRON / INVALID_TIMEZONE) with the reason.
 */
export function parseScheduleRequest(
  payload: Buffer,
  defaults: ScheduleDefaults = SCHEDULER_DEFAULTS,
): NewScheduledJob {
  const r = parseJsonObject(payload, 'schedule');
  const gearsloth = r.function === undefined && r.func_name !== undefined;
  for (const key of Object.keys(r)) {
    if (NATIVE_KEYS.has(key)) continue;
    if (gearsloth && (key === 'func_name' || GEARSLOTH_IGNORED.has(key))) continue;
    invalid(`unknown field '${key}'`);
  }
  const name = gearsloth
    ? functionName(r.func_name, 'func_name')
    : functionName(r.function, 'function');

  const given = (['at', 'after', 'cron'] as const).filter((k) => r[k] !== undefined);
  if (given.length > 1) invalid(`give one of 'at', 'after' or 'cron', not ${given.join(' and ')}`);
  let timing: JobTiming;
  if (r.at !== undefined) timing = { kind: 'at', at: timeOf(r.at) };
  else if (r.after !== undefined) timing = { kind: 'after', delayMs: delayOf(r.after) };
  else if (r.cron !== undefined) {
    if (typeof r.cron !== 'string') invalid(`'cron' must be a string`);
    if (r.cron.length > MAX_CRON_LENGTH)
      invalid(`'cron' must be at most ${MAX_CRON_LENGTH} characters`);
    const timeZone = r.timezone === undefined ? 'UTC' : r.timezone;
    if (typeof timeZone !== 'string') invalid(`'timezone' must be a string`);
    if (timeZone.length > MAX_TIME_ZONE_LENGTH)
      invalid(`'timezone' must be at most ${MAX_TIME_ZONE_LENGTH} characters`);
    assertTimeZone(timeZone);
    new CronExpression(r.cron); // throws INVALID_CRON with the reason
    timing = { kind: 'cron', expression: r.cron, timeZone };
  } else if (gearsloth) timing = { kind: 'after', delayMs: 0 };
  else invalid(`give one of 'at', 'after' or 'cron'`);
  if (r.timezone !== undefined && timing.kind !== 'cron')
    invalid(`'timezone' goes with 'cron' only`);

  const unique = r.unique === undefined ? undefined : uniqueOf(r.unique);
  const maxAttempts = r.max_attempts ?? defaults.maxAttempts;
  if (
    typeof maxAttempts !== 'number' ||
    !Number.isInteger(maxAttempts) ||
    maxAttempts < 1 ||
    maxAttempts > 1000
  )
    invalid(`'max_attempts' must be an integer from 1 to 1000`);
  const backoff = r.backoff ?? defaults.backoffSeconds;
  if (typeof backoff !== 'number' || !Number.isFinite(backoff) || backoff < 0 || backoff > 86_400)
    invalid(`'backoff' must be a number of seconds from 0 to 86400`);
  const background = r.background ?? false;
  if (typeof background !== 'boolean') invalid(`'background' must be true or false`);

  return {
    functionName: name,
    payload: payloadOf(r.payload, r.payload_base64, gearsloth),
    timing,
    unique,
    priority: priorityOf(r.priority),
    maxAttempts,
    backoffMs: Math.round(backoff * 1000),
    background,
  };
}

/**
 * A job id from a request: a positive integer, as a number or a string. At most 2^53 − 1: the
 * store passes ids as numbers, and a larger one would be rounded to another job's id.
 */
export function parseJobId(value: unknown): string {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value > 0) return String(value);
  if (
    typeof value === 'string' &&
    /^[1-9]\d{0,15}$/.test(value) &&
    Number.isSafeInteger(Number(value))
  )
    return value;
  return invalid(`'id' must be a job id (a positive integer)`);
}

/** Reads a `gearbox.cancel` request: `{"id": …}` or `{"function": …, "unique": …}`. */
export function parseCancelRequest(payload: Buffer): CancelTarget {
  const r = parseJsonObject(payload, 'cancel');
  if (r.id !== undefined) {
    if (r.function !== undefined || r.unique !== undefined)
      invalid(`give 'id', or 'function' and 'unique', not both`);
    return { id: parseJobId(r.id) };
  }
  if (typeof r.unique !== 'string' || r.unique === '')
    invalid(`give 'id', or 'function' and 'unique'`);
  return { functionName: functionName(r.function, 'function'), unique: uniqueOf(r.unique) };
}

/** Reads a `gearbox.dead` request: `{"function"?, "limit"?}`, or an empty payload. */
export function parseDeadRequest(payload: Buffer): { functionName?: string; limit: number } {
  const r = payload.length === 0 ? {} : parseJsonObject(payload, 'dead');
  const limit = r.limit ?? 100;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > 1000)
    invalid(`'limit' must be an integer from 1 to 1000`);
  return r.function === undefined
    ? { limit }
    : { functionName: functionName(r.function, 'function'), limit };
}
