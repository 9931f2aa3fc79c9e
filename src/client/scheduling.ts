/**
 * Typed calls to the delayed-job service (`gearbox scheduler`), whose interface is Gearman
 * functions taking JSON (`gearbox.schedule`, `gearbox.cancel`, `gearbox.status`): these build
 * the JSON, submit it as a foreground job and read the answer, so a program schedules work
 * without writing the request by hand. Any Gearman server carries them; the service must run.
 */
import type { PriorityName } from '../protocol/packet-types.js';
import type { CallOptions, Workload } from './client-options.js';

/** The function names' prefix the scheduler serves by default (`gearbox.schedule`, …). */
export const DEFAULT_SCHEDULER_PREFIX = 'gearbox.';

/** When a scheduled job runs: exactly one of `at`, `after` or `cron`. */
export type ScheduleTiming =
  /** An absolute time (a Date, or Unix milliseconds). */
  | { at: Date | number; after?: never; cron?: never }
  /** A delay from now, in seconds. */
  | { after: number; at?: never; cron?: never }
  /** A recurring schedule (five-field cron), in `timezone` (an IANA name; default UTC). */
  | { cron: string; timezone?: string; at?: never; after?: never };

/** Options of {@link scheduleRequest} beside the timing. */
export interface ScheduleFields {
  /** While a job with this function and unique is pending, scheduling it again returns it. */
  unique?: string;
  /** The priority the job is dispatched with. */
  priority?: PriorityName;
  /** Attempts before the job is dead (the service's default when not given). */
  maxAttempts?: number;
  /** Base delay between attempts, in seconds (doubled each time, with jitter). */
  backoff?: number;
  /** Dispatch as a background job (the service does not wait for the result). */
  background?: boolean;
}

/** Options of `Client.schedule`. */
export type ScheduleOptions = ScheduleTiming &
  ScheduleFields &
  CallOptions & {
    /** The service's function prefix (default `gearbox.`). */
    prefix?: string;
  };

/** The service's answer to a schedule request: the job is committed. */
export interface ScheduledJob {
  /** The job's id: pass it to `cancelScheduled` and `scheduledStatus`. */
  readonly id: string;
  /** When it runs next (null only for a row the service cannot express as a time). */
  readonly runAt: Date | null;
  /** True when a pending job with the same function and unique was returned instead. */
  readonly existing: boolean;
}

/** A scheduled job's state, as `gearbox.status` reports it. */
export interface ScheduledJobStatus {
  readonly id: string;
  readonly functionName: string;
  readonly unique: string | null;
  /** e.g. `pending`, `running`, `done`, `dead`, `cancelled`. */
  readonly state: string;
  readonly attempts: number;
  readonly maxAttempts: number;
  readonly nextRun: Date | null;
  readonly lastError: string | null;
  readonly cron: string | null;
  readonly timezone: string | null;
}

/** What to cancel: a job id, or the pending job of a function and unique. */
export type CancelScheduledTarget = string | { functionName: string; unique: string };

function isoOrNull(value: unknown): Date | null {
  return typeof value === 'string' ? new Date(value) : null;
}

function text(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

/** The JSON for `gearbox.schedule`; a `TypeError` for arguments the service would refuse. */
export function scheduleRequest(
  functionName: string,
  payload: Workload,
  options: ScheduleTiming & ScheduleFields,
): string {
  const timings = [options.at, options.after, options.cron].filter((t) => t !== undefined);
  if (timings.length !== 1) throw new TypeError('schedule: give exactly one of at, after or cron');
  const request: Record<string, unknown> = { function: functionName };
  if (typeof payload === 'string') request.payload = payload;
  else request.payload_base64 = Buffer.from(payload).toString('base64');
  if (options.at !== undefined) {
    const at = options.at instanceof Date ? options.at.getTime() : options.at;
    if (!Number.isFinite(at)) throw new TypeError('schedule: at must be a valid time');
    request.at = at;
  }
  if (options.after !== undefined) request.after = options.after;
  if (options.cron !== undefined) {
    request.cron = options.cron;
    if (options.timezone !== undefined) request.timezone = options.timezone;
  }
  if (options.unique !== undefined) request.unique = options.unique;
  if (options.priority !== undefined) request.priority = options.priority;
  if (options.maxAttempts !== undefined) request.max_attempts = options.maxAttempts;
  if (options.backoff !== undefined) request.backoff = options.backoff;
  if (options.background !== undefined) request.background = options.background;
  return JSON.stringify(request);
}

/** Reads `gearbox.schedule`'s answer. */
export function readScheduled(answer: Record<string, unknown>): ScheduledJob {
  return {
    id: String(answer.id),
    runAt: isoOrNull(answer.run_at),
    existing: answer.existing === true,
  };
}

/** The JSON for `gearbox.cancel`. */
export function cancelRequest(target: CancelScheduledTarget): string {
  return JSON.stringify(
    typeof target === 'string'
      ? { id: target }
      : { function: target.functionName, unique: target.unique },
  );
}

/** Reads `gearbox.status`'s answer. */
export function readScheduledStatus(answer: Record<string, unknown>): ScheduledJobStatus {
  return {
    id: String(answer.id),
    functionName: String(answer.function),
    unique: text(answer.unique),
    state: String(answer.state),
    attempts: Number(answer.attempts),
    maxAttempts: Number(answer.max_attempts),
    nextRun: isoOrNull(answer.next_run),
    lastError: text(answer.last_error),
    cron: text(answer.cron),
    timezone: text(answer.timezone),
  };
}
