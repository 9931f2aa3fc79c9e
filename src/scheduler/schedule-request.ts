import { Priority } from '../protocol/packet-types.js';
import { assertTimeZone, CronExpression } from './cron.js';
import { SchedulerError } from './errors.js';
import type { CancelTarget, JobTiming, NewScheduledJob } from './scheduler-store.js';

/** Defaults for fields a request leaves out. */
export interface ScheduleDefaults {
  readonly maxAttempts: number;
  /** Seconds. */
  readonly backoffSeconds: number;
}

/** The defaults when the scheduler is not told otherwise. */
export const DEFAULT_SCHEDULE_DEFAULTS: ScheduleDefaults = { maxAttempts: 5, backoffSeconds: 5 };

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

const MAX_NAME_BYTES = 512;
const MAX_UNIQUE_LENGTH = 255;
const MAX_DELAY_SECONDS = 10 * 366 * 86_400;
/** ISO 8601 as Date.parse reads it reliably: a date, optionally a time and zone. */
const ISO_8601 =
  /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

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

function functionName(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '') invalid(`'${field}' must be a non-empty string`);
  if (Buffer.byteLength(value) > MAX_NAME_BYTES)
    invalid(`'${field}' is longer than ${MAX_NAME_BYTES} bytes`);
  if (value.includes('\0')) invalid(`'${field}' must not contain NUL`);
  return value;
}

function timeOf(value: unknown): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0)
      invalid(`'at' must be a time: ISO 8601 or Unix milliseconds`);
    return Math.round(value);
  }
  if (typeof value === 'string' && ISO_8601.test(value.trim())) {
    const ms = Date.parse(value.trim());
    if (Number.isFinite(ms)) return ms;
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
  defaults: ScheduleDefaults = DEFAULT_SCHEDULE_DEFAULTS,
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
    const timeZone = r.timezone === undefined ? 'UTC' : r.timezone;
    if (typeof timeZone !== 'string') invalid(`'timezone' must be a string`);
    assertTimeZone(timeZone);
    new CronExpression(r.cron); // throws INVALID_CRON with the reason
    timing = { kind: 'cron', expression: r.cron, timeZone };
  } else if (gearsloth) timing = { kind: 'after', delayMs: 0 };
  else invalid(`give one of 'at', 'after' or 'cron'`);
  if (r.timezone !== undefined && timing.kind !== 'cron')
    invalid(`'timezone' goes with 'cron' only`);

  let unique: string | undefined;
  if (r.unique !== undefined) {
    if (typeof r.unique !== 'string' || r.unique === '' || r.unique.length > MAX_UNIQUE_LENGTH)
      invalid(`'unique' must be a string of 1 to ${MAX_UNIQUE_LENGTH} characters`);
    unique = r.unique;
  }
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

/** A job id from a request: a positive integer, as a number or a string. */
export function parseJobId(value: unknown): string {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value > 0) return String(value);
  if (typeof value === 'string' && /^[1-9]\d{0,17}$/.test(value)) return value;
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
  return { functionName: functionName(r.function, 'function'), unique: r.unique };
}
