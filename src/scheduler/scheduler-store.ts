import type { Priority } from '../protocol/packet-types.js';

/**
 * The life of a row (see docs/scheduler.md):
 *
 *   pending ──claim──▶ running ──complete──▶ done
 *      ▲                 │ │ └──fail, attempts left──▶ pending (run_at = now + backoff)
 *      │                 │ └────fail, none left──────▶ dead ──rerun──▶ pending
 *      └──reap (lease expired) / release (outcome unknown)
 *   pending | running ──cancel──▶ cancelled
 *   recurring (a cron schedule) ──tick──▶ inserts one pending row per (schedule, tick);
 *                                         run_at moves to the next tick
 *   recurring ──cancel──▶ cancelled
 */
export type JobState = 'pending' | 'running' | 'done' | 'dead' | 'cancelled' | 'recurring';

/** When a job should run. Relative times and cron ticks are computed on the database's clock. */
export type JobTiming =
  | { readonly kind: 'at'; readonly at: number }
  | { readonly kind: 'after'; readonly delayMs: number }
  | { readonly kind: 'cron'; readonly expression: string; readonly timeZone: string };

/** A job to store, already validated. */
export interface NewScheduledJob {
  readonly functionName: string;
  readonly payload: Buffer;
  readonly timing: JobTiming;
  /** At most one pending (or running, or recurring) job per function and unique. */
  readonly unique?: string;
  readonly priority: Priority;
  readonly maxAttempts: number;
  /** The first retry delay; each further retry doubles it (with jitter). */
  readonly backoffMs: number;
  /** Dispatch as a background job (fire-and-forget) instead of waiting for the result. */
  readonly background: boolean;
}

/** What `schedule` stored. */
export interface ScheduleResult {
  readonly id: string;
  /** Unix ms of the first run. */
  readonly runAt: number;
  /** True when a pending job with the same function and unique existed and was returned. */
  readonly existing: boolean;
}

/** The proof of a claim: completion and failure are accepted only with the current token. */
export interface Lease {
  readonly id: string;
  /** The fencing token: the row's claim counter, which every claim increments. */
  readonly token: number;
}

/** A job this instance claimed and must now dispatch. */
export interface ClaimedJob extends Lease {
  readonly functionName: string;
  readonly payload: Buffer;
  readonly priority: Priority;
  readonly background: boolean;
  /** The due time (Unix ms, database clock). */
  readonly runAt: number;
  /** Failed attempts so far. */
  readonly attempts: number;
  readonly maxAttempts: number;
  readonly backoffMs: number;
}

/** One claim transaction's result. */
export interface ClaimBatch {
  /** The database's clock when the claim ran (Unix ms). */
  readonly dbNow: number;
  readonly jobs: readonly ClaimedJob[];
}

/** What `fail` did. `stale`: the lease had been lost; nothing changed. */
export type FailOutcome = 'retry' | 'dead' | 'stale';

/** A job as `status` and `listDead` report it. */
export interface JobStatus {
  readonly id: string;
  readonly functionName: string;
  readonly unique: string | null;
  readonly state: JobState;
  readonly attempts: number;
  readonly maxAttempts: number;
  /** The next (or, for finished jobs, the last) due time, Unix ms. */
  readonly runAt: number;
  readonly lastError: string | null;
  readonly cron: string | null;
  readonly timeZone: string | null;
  /** For a run of a cron schedule: the schedule's id. */
  readonly scheduleId: string | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** Which job `cancel` means. */
export type CancelTarget =
  { readonly id: string } | { readonly functionName: string; readonly unique: string };

/**
 * The scheduler's durable state, shared by every instance. Implementations take the time from
 * the database (never from the instance), commit before they resolve, and expose no connection
 * or transaction type.
 */
export interface SchedulerStore {
  /** For logs, e.g. `postgres:gearbox_scheduled_jobs`. */
  readonly description: string;
  /** Connects and creates the table and indexes if needed. */
  open(): Promise<void>;
  /** The database's clock, Unix ms. */
  now(): Promise<number>;
  /** Commits a job; for a duplicate unique, returns the pending job instead. */
  schedule(job: NewScheduledJob): Promise<ScheduleResult>;
  /**
   * Reaps expired leases, fires due cron ticks, then claims up to `limit` due jobs, oldest first, skipping rows other
   * instances hold: marks them running with `lease_until = now + leaseMs` and a new token, and
   * commits before it resolves.
   */
  claim(limit: number, leaseMs: number, owner: string): Promise<ClaimBatch>;
  /** Pushes the leases still held forward; returns how many were still held. */
  renew(leases: readonly Lease[], leaseMs: number): Promise<number>;
  /** Marks jobs done when their token is current; resolves to the ids that were. */
  complete(leases: readonly Lease[]): Promise<Set<string>>;
  /** Records a failed attempt: retry after `retryDelayMs`, or dead once attempts run out. */
  fail(lease: Lease, error: string, retryDelayMs: number): Promise<FailOutcome>;
  /** Puts a claimed job back without counting an attempt (it may not have been dispatched). */
  release(lease: Lease, delayMs: number, error: string): Promise<boolean>;
  /** Returns running jobs whose lease expired to pending; resolves to how many. */
  reap(): Promise<number>;
  /** The earliest due time or lease expiry (Unix ms, database clock), or null if none. */
  nextWakeAt(): Promise<number | null>;
  /** Cancels a pending, running or recurring job (and a schedule's pending runs). */
  cancel(target: CancelTarget): Promise<boolean>;
  status(id: string): Promise<JobStatus | null>;
  /** Dead jobs, newest first. */
  listDead(options: { functionName?: string; limit: number }): Promise<JobStatus[]>;
  /** Makes a dead job pending again, due now, with its attempts reset. */
  rerun(id: string): Promise<ScheduleResult>;
  /** Deletes done and cancelled rows finished more than `olderThanMs` ago. */
  purge(olderThanMs: number): Promise<number>;
  /**
   * Calls `listener` with the due time of each job another instance schedules, where the
   * database can tell (PostgreSQL LISTEN/NOTIFY); resolves to an unsubscribe function, or to
   * null when the store cannot.
   */
  subscribe(listener: (runAt: number) => void): Promise<(() => Promise<void>) | null>;
  close(): Promise<void>;
}
