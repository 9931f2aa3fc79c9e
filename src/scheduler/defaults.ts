import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
// The client's scheduling calls default to the same names; the constant lives on their side.
import { DEFAULT_SCHEDULER_PREFIX } from '../client/scheduling.js';

/**
 * The delayed-job service's defaults, written once: {@link Scheduler}, {@link SchedulerService},
 * the store, the request parser and `gearbox scheduler --help` all read them from here.
 */
export const SCHEDULER_DEFAULTS = {
  /** The table the jobs are kept in. */
  table: 'gearbox_scheduled_jobs',
  /** The prefix of the function names: `gearbox.schedule`, `gearbox.cancel`, … */
  functionPrefix: DEFAULT_SCHEDULER_PREFIX,
  /** How long a claim is held without renewal; renewed every third of it. */
  leaseMs: 30_000,
  /** The safety-net poll: the longest an instance sleeps without asking the store. */
  pollIntervalMs: 5_000,
  /** Jobs per claim transaction. */
  batchSize: 200,
  /** Dispatches in flight at most. */
  maxInFlight: 2_000,
  /** The longest retry delay. */
  maxBackoffMs: 3_600_000,
  /** The delay before a job whose dispatch outcome is unknown is tried again. */
  unknownRetryMs: 1_000,
  /** The prefix of the Gearman unique id of every dispatch. */
  uniquePrefix: 'gbs:',
  /** Finished rows are deleted after this long; 0 keeps them. */
  keepFinishedMs: 86_400_000,
  /** How long a stop lets dispatches in flight finish before it hands their jobs back. */
  stopGraceMs: 500,
  /** `max_attempts` of a job whose request does not say. */
  maxAttempts: 5,
  /** The first retry delay of a job whose request does not say, in seconds. */
  backoffSeconds: 5,
} as const;

/** An instance's name when it is not given one: `host:pid:random`, unique per process. */
export function defaultSchedulerOwner(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}
