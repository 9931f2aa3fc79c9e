import { errorMessage } from '../protocol/errors.js';
import { SchedulerError } from './errors.js';
import { SCHEDULER_DEFAULTS } from './defaults.js';
import {
  parseCancelRequest,
  parseDeadRequest,
  parseJobId,
  parseJsonObject,
  parseScheduleRequest,
  type ScheduleDefaults,
} from './schedule-request.js';
import type { Scheduler } from './scheduler.js';
import type { JobStatus, SchedulerStore } from './scheduler-store.js';
import { isoTime } from './time-range.js';

/** The Gearman function the Gearsloth injector registered; served with `gearslothCompatible`. */
export const GEARSLOTH_FUNCTION = 'submitJobDelayed';

/** A function's handler: the request payload in, the WORK_COMPLETE payload out; throws to refuse. */
export type SchedulerFunction = (payload: Buffer) => Promise<string>;

/** Options of {@link schedulerFunctions}. */
export interface SchedulerFunctionOptions {
  /** Prefix of every name (default `SCHEDULER_DEFAULTS.functionPrefix`). */
  readonly prefix?: string;
  readonly defaults?: ScheduleDefaults;
  /** Also serve Gearsloth's `submitJobDelayed`. */
  readonly gearslothCompatible?: boolean;
}

function statusJson(s: JobStatus): Record<string, unknown> {
  return {
    id: s.id,
    function: s.functionName,
    unique: s.unique,
    state: s.state,
    attempts: s.attempts,
    max_attempts: s.maxAttempts,
    next_run: isoTime(s.runAt),
    next_run_ms: s.runAt,
    last_error: s.lastError,
    cron: s.cron,
    timezone: s.timeZone,
    schedule_id: s.scheduleId,
    created_at: isoTime(s.createdAt),
    updated_at: isoTime(s.updatedAt),
  };
}

/** Store failures become a refusal that says the job will not run. */
async function storing<T>(what: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof SchedulerError) throw err;
    throw new SchedulerError('STORE_FAILED', `${what} failed: ${errorMessage(err)}`, {
      cause: err,
    });
  }
}

/**
 * The scheduler's Gearman interface, by function name:
 *
 * - `<prefix>schedule`: JSON job in; `{"id","run_at","run_at_ms","existing"}` out, only after
 *   the store committed it. A refusal (WORK_EXCEPTION, then WORK_FAIL) means it will not run.
 * - `<prefix>cancel`: `{"id"}` or `{"function","unique"}` in; `{"cancelled": bool}` out.
 * - `<prefix>status`: `{"id"}` in; the job's state, attempts, next run and last error out.
 * - `<prefix>dead`: `{"function"?, "limit"?}` (or nothing) in; `{"jobs": [...]}` out.
 * - `<prefix>rerun`: `{"id"}` of a dead job in; `{"id","run_at","run_at_ms"}` out.
 */
export function schedulerFunctions(
  scheduler: Scheduler,
  store: SchedulerStore,
  options: SchedulerFunctionOptions = {},
): Map<string, SchedulerFunction> {
  const prefix = options.prefix ?? SCHEDULER_DEFAULTS.functionPrefix;
  const defaults = options.defaults ?? SCHEDULER_DEFAULTS;
  const schedule: SchedulerFunction = async (payload) => {
    const job = parseScheduleRequest(payload, defaults);
    const result = await storing('storing the job', () => scheduler.schedule(job));
    return JSON.stringify({
      id: result.id,
      run_at: isoTime(result.runAt),
      run_at_ms: result.runAt,
      existing: result.existing,
    });
  };
  const functions = new Map<string, SchedulerFunction>([
    [`${prefix}schedule`, schedule],
    [
      `${prefix}cancel`,
      async (payload) => {
        const target = parseCancelRequest(payload);
        const cancelled = await storing('cancel', () => store.cancel(target));
        return JSON.stringify({ cancelled });
      },
    ],
    [
      `${prefix}status`,
      async (payload) => {
        const id = parseJobId(parseJsonObject(payload, 'status').id);
        const status = await storing('status', () => store.status(id));
        if (!status) throw new SchedulerError('NOT_FOUND', `no job with id ${id}`);
        return JSON.stringify(statusJson(status));
      },
    ],
    [
      `${prefix}dead`,
      async (payload) => {
        const request = parseDeadRequest(payload);
        const jobs = await storing('listing dead jobs', () => store.listDead(request));
        return JSON.stringify({ jobs: jobs.map(statusJson) });
      },
    ],
    [
      `${prefix}rerun`,
      async (payload) => {
        const id = parseJobId(parseJsonObject(payload, 'rerun').id);
        const result = await storing('re-run', () => scheduler.rerun(id));
        return JSON.stringify({
          id: result.id,
          run_at: isoTime(result.runAt),
          run_at_ms: result.runAt,
        });
      },
    ],
  ]);
  if (options.gearslothCompatible) functions.set(GEARSLOTH_FUNCTION, schedule);
  return functions;
}
