import { backoffDelay } from '../protocol/backoff.js';
import { errorMessage } from '../protocol/errors.js';
import { defaultSchedulerOwner, SCHEDULER_DEFAULTS } from './defaults.js';
import { systemClock, type Clock, type TimerHandle } from './clock.js';
import type { Dispatcher, DispatchOutcome } from './dispatcher.js';
import type {
  ClaimedJob,
  FailOutcome,
  NewScheduledJob,
  ScheduleResult,
  SchedulerStore,
} from './scheduler-store.js';

/** What an instance did, for logs, metrics and the fault test's history. */
export type SchedulerEvent =
  | { readonly type: 'claimed'; readonly job: ClaimedJob; readonly at: number }
  | {
      readonly type: 'dispatched';
      readonly job: ClaimedJob;
      readonly at: number;
      readonly unique: string;
    }
  | {
      readonly type: 'completed';
      readonly job: ClaimedJob;
      readonly at: number;
      /** False when the lease had been lost: another instance owns the job now. */
      readonly accepted: boolean;
    }
  | {
      readonly type: 'failed';
      readonly job: ClaimedJob;
      readonly at: number;
      readonly reason: string;
      readonly outcome: FailOutcome;
    }
  | {
      readonly type: 'released';
      readonly job: ClaimedJob;
      readonly at: number;
      readonly reason: string;
    }
  | {
      readonly type: 'error';
      readonly at: number;
      readonly where: string;
      readonly error: unknown;
    };

/** Options of one scheduler instance. */
export interface SchedulerOptions {
  readonly store: SchedulerStore;
  readonly dispatcher: Dispatcher;
  readonly clock?: Clock;
  /** A name for this instance in the table's `lease_owner` (default host:pid:random). */
  readonly owner?: string;
  /** How long a claim is held without renewal; renewed every third of it. */
  readonly leaseMs?: number;
  /** The safety-net poll: the longest the instance sleeps without asking the store. */
  readonly pollIntervalMs?: number;
  /** Jobs per claim transaction. */
  readonly batchSize?: number;
  /** Dispatches in flight at most. */
  readonly maxInFlight?: number;
  /** The longest retry delay. */
  readonly maxBackoffMs?: number;
  /** The delay before a job whose dispatch outcome is unknown is tried again. */
  readonly unknownRetryMs?: number;
  /** The prefix of the Gearman unique id of every dispatch. */
  readonly uniquePrefix?: string;
  /** Finished rows are deleted after this long; 0 keeps them. */
  readonly keepFinishedMs?: number;
  readonly random?: () => number;
  readonly onEvent?: (event: SchedulerEvent) => void;
}

/** When a due row is locked by another instance, wait this long before looking again. */
const CONTENDED_RETRY_MS = 5;
/** After a store error, wait this long before the next cycle. */
const ERROR_RETRY_MS = 500;
/** How long `stop()` then waits for those releases to commit. */
const RELEASE_WAIT_MS = 5_000;
/** What a dispatch still running at the end of a stop's grace turns into. */
const ABANDONED = Symbol('abandoned');

/**
 * One scheduler instance: claims due jobs from the shared store and dispatches them.
 *
 * States of the claim loop:
 *   idle (timer armed for the next due time, capped at the poll interval)
 *     ──timer / wake() / earlier job announced──▶ cycling
 *   cycling: claim batches until one comes back short or dispatch capacity is full,
 *     then ask the store for the next wake time ──▶ idle
 *   a wake() while cycling sets `again`, so the cycle repeats once it ends
 *   stopping: no more claims; dispatches in flight have a short grace to finish and record
 *     their outcome, then each one still waiting is abandoned and its job released (fenced by
 *     its token, due at once, no attempt counted)
 *   stopped: no timers, nothing in flight.
 */
export class Scheduler {
  readonly owner: string;
  private readonly store: SchedulerStore;
  private readonly dispatcher: Dispatcher;
  private readonly clock: Clock;
  private readonly leaseMs: number;
  private readonly pollIntervalMs: number;
  private readonly batchSize: number;
  private readonly maxInFlight: number;
  private readonly maxBackoffMs: number;
  private readonly unknownRetryMs: number;
  private readonly uniquePrefix: string;
  private readonly keepFinishedMs: number;
  private readonly random: () => number;
  private readonly onEvent: (event: SchedulerEvent) => void;

  private readonly inFlight = new Map<string, ClaimedJob>();
  private running = false;
  private cycling: Promise<void> | null = null;
  private again = false;
  private timer: TimerHandle = null;
  /** The local time the armed timer fires at. */
  private armedAt = Infinity;
  private renewTimer: TimerHandle = null;
  /** Database clock minus local clock, from the last claim. */
  private offsetMs = 0;
  private lastPurge = -Infinity;
  private unsubscribe: (() => Promise<void>) | null = null;
  private completions: ClaimedJob[] = [];
  private flushing: Promise<void> | null = null;
  private idleWaiters: (() => void)[] = [];
  /** Per job in flight: abandons its dispatch (a stop whose grace ran out). */
  private readonly abandoners = new Map<string, () => void>();

  constructor(options: SchedulerOptions) {
    this.store = options.store;
    this.dispatcher = options.dispatcher;
    this.clock = options.clock ?? systemClock;
    this.owner = options.owner ?? defaultSchedulerOwner();
    const d = SCHEDULER_DEFAULTS;
    this.leaseMs = options.leaseMs ?? d.leaseMs;
    this.pollIntervalMs = options.pollIntervalMs ?? d.pollIntervalMs;
    this.batchSize = options.batchSize ?? d.batchSize;
    this.maxInFlight = options.maxInFlight ?? d.maxInFlight;
    this.maxBackoffMs = options.maxBackoffMs ?? d.maxBackoffMs;
    this.unknownRetryMs = options.unknownRetryMs ?? d.unknownRetryMs;
    this.uniquePrefix = options.uniquePrefix ?? d.uniquePrefix;
    this.keepFinishedMs = options.keepFinishedMs ?? d.keepFinishedMs;
    this.random = options.random ?? Math.random;
    this.onEvent = options.onEvent ?? (() => undefined);
  }

  /**
   * The Gearman unique id of a job's dispatch: the job id, so a re-dispatch (after a lease
   * expired, or an unknown outcome) coalesces onto the run still on the job server. Each cron
   * tick is a job of its own, with its own id.
   */
  dispatchUnique(job: { id: string }): string {
    return `${this.uniquePrefix}${job.id}`;
  }

  /** Jobs dispatched and not yet finished. */
  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /** Starts claiming (the store must be open). */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      this.unsubscribe = await this.store.subscribe((runAt) => this.announce(runAt));
    } catch (error) {
      this.emit({ type: 'error', at: this.clock.now(), where: 'subscribe', error });
    }
    this.armRenewal();
    this.wake();
  }

  /**
   * Stops claiming, lets dispatches in flight finish and be recorded for up to `graceMs`, then
   * releases the jobs of those still waiting (a foreground job no worker takes never answers),
   * and stops listening. A released job is due at once for another instance or the next start,
   * instead of after its lease. Its abandoned dispatch goes with the dispatcher's connection
   * (job servers drop a foreground job whose last client left), so a job a worker had already
   * started runs again: at least once, as after a crash. A release that cannot be committed
   * (the database is away) leaves the job to its lease.
   */
  async stop(graceMs: number = SCHEDULER_DEFAULTS.stopGraceMs): Promise<void> {
    this.running = false;
    if (this.timer !== null) this.clock.clearTimer(this.timer);
    this.timer = null;
    this.armedAt = Infinity;
    await this.cycling;
    if (!(await this.idle(graceMs))) {
      for (const abandon of this.abandoners.values()) abandon();
      await this.idle(RELEASE_WAIT_MS);
    }
    if (this.renewTimer !== null) this.clock.clearTimer(this.renewTimer);
    this.renewTimer = null;
    await this.flushing;
    const unsubscribe = this.unsubscribe;
    this.unsubscribe = null;
    await unsubscribe?.().catch(() => undefined);
  }

  /** Resolves to true once nothing is in flight, or to false after `ms`. */
  private idle(ms: number): Promise<boolean> {
    if (this.inFlight.size === 0) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      // Not unref'd: the caller awaits the stop, and the process must live until it is done.
      const timer = setTimeout(() => resolve(false), ms);
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /** Stores a job and, if it is due before the armed timer, re-arms. */
  async schedule(job: NewScheduledJob): Promise<ScheduleResult> {
    const result = await this.store.schedule(job);
    if (!result.existing) this.announce(result.runAt);
    return result;
  }

  /** Re-runs a dead job now. */
  async rerun(id: string): Promise<ScheduleResult> {
    const result = await this.store.rerun(id);
    this.announce(result.runAt);
    return result;
  }

  /** Tells the instance about a job due at `runAt` (database clock). */
  announce(runAt: number): void {
    if (!this.running) return;
    const local = runAt - this.offsetMs;
    if (local < this.armedAt) this.arm(local - this.clock.now());
  }

  /** Runs a claim cycle now (or once more, if one is running). */
  wake(): void {
    if (!this.running) return;
    if (this.cycling) {
      this.again = true;
      return;
    }
    if (this.timer !== null) this.clock.clearTimer(this.timer);
    this.timer = null;
    this.armedAt = Infinity;
    this.cycling = this.cycle().finally(() => {
      this.cycling = null;
      if (this.again) {
        this.again = false;
        this.wake();
      }
    });
  }

  private emit(event: SchedulerEvent): void {
    try {
      this.onEvent(event);
    } catch {
      // A listener's bug must not stop the scheduler.
    }
  }

  private arm(delayMs: number): void {
    if (!this.running) return;
    const delay = Math.max(0, Math.min(this.pollIntervalMs, Math.ceil(delayMs)));
    const at = this.clock.now() + delay;
    if (this.timer !== null) {
      if (at >= this.armedAt) return;
      this.clock.clearTimer(this.timer);
    }
    this.armedAt = at;
    this.timer = this.clock.setTimer(() => {
      this.timer = null;
      this.armedAt = Infinity;
      this.wake();
    }, delay);
  }

  private armRenewal(): void {
    this.renewTimer = this.clock.setTimer(
      () => {
        const leases = [...this.inFlight.values()].map((j) => ({ id: j.id, token: j.token }));
        const renewal =
          leases.length === 0 ? Promise.resolve(0) : this.store.renew(leases, this.leaseMs);
        void renewal
          .catch((error: unknown) =>
            this.emit({ type: 'error', at: this.clock.now(), where: 'renew', error }),
          )
          .finally(() => {
            if (this.running || this.inFlight.size > 0) this.armRenewal();
            else this.renewTimer = null;
          });
      },
      Math.max(1, Math.floor(this.leaseMs / 3)),
    );
  }

  private async cycle(): Promise<void> {
    let nextDelay: number | null = null;
    try {
      let short = false;
      let claimedNone = true;
      for (let round = 0; round < 50 && this.running; round++) {
        const capacity = this.maxInFlight - this.inFlight.size;
        if (capacity <= 0) break;
        const want = Math.min(this.batchSize, capacity);
        const before = this.clock.now();
        const batch = await this.store.claim(want, this.leaseMs, this.owner);
        const after = this.clock.now();
        this.offsetMs = batch.dbNow - (before + after) / 2;
        for (const job of batch.jobs) {
          claimedNone = false;
          this.emit({ type: 'claimed', job, at: after });
          void this.run(job);
        }
        if (batch.jobs.length < want) {
          short = true;
          break;
        }
      }
      if (!this.running) return;
      if (!short) {
        // Full batches or full capacity: more may be due. Capacity frees as dispatches finish,
        // and `run` wakes us then.
        if (this.inFlight.size < this.maxInFlight) nextDelay = 0;
      } else {
        await this.maybePurge();
        const next = await this.store.nextWakeAt();
        if (next === null) nextDelay = this.pollIntervalMs;
        else {
          const delay = next - this.offsetMs - this.clock.now();
          // A due row we could not claim is locked by another instance's claim; look again soon.
          nextDelay = delay <= 0 && claimedNone ? CONTENDED_RETRY_MS : Math.max(0, delay);
        }
      }
    } catch (error) {
      this.emit({ type: 'error', at: this.clock.now(), where: 'claim', error });
      nextDelay = ERROR_RETRY_MS;
    }
    if (nextDelay !== null) this.arm(nextDelay);
  }

  private async maybePurge(): Promise<void> {
    if (this.keepFinishedMs <= 0) return;
    const now = this.clock.now();
    if (now - this.lastPurge < 60_000) return;
    this.lastPurge = now;
    await this.store.purge(this.keepFinishedMs);
  }

  private async run(job: ClaimedJob): Promise<void> {
    this.inFlight.set(job.id, job);
    const unique = this.dispatchUnique(job);
    this.emit({ type: 'dispatched', job, at: this.clock.now(), unique });
    // One promise per dispatch, not one shared by all: a race against a shared promise that
    // never settles would keep a reaction alive for every dispatch the instance ever made.
    const abandoned = new Promise<typeof ABANDONED>((resolve) =>
      this.abandoners.set(job.id, () => resolve(ABANDONED)),
    );
    let outcome: DispatchOutcome | typeof ABANDONED;
    try {
      outcome = await Promise.race([
        this.dispatcher.dispatch({
          functionName: job.functionName,
          payload: job.payload,
          unique,
          priority: job.priority,
          background: job.background,
        }),
        abandoned,
      ]);
    } catch (error) {
      outcome = {
        status: 'unknown',
        reason: errorMessage(error),
      };
    } finally {
      this.abandoners.delete(job.id);
    }
    try {
      if (outcome === ABANDONED) {
        // Stopping: hand the job back now rather than make everyone wait for the lease. The
        // token fences it: if the lease was lost meanwhile, the release changes nothing.
        const reason = 'the scheduler instance stopped before the dispatch finished';
        await this.store.release(job, 0, reason);
        this.emit({ type: 'released', job, at: this.clock.now(), reason });
      } else if (outcome.status === 'complete') {
        await this.complete(job);
      } else if (outcome.status === 'failed') {
        // Equal jitter: between half and all of backoff × 2^attempts.
        const delay = backoffDelay(
          { initialDelay: job.backoffMs, maxDelay: this.maxBackoffMs, jitter: 0.5 },
          job.attempts,
          this.random,
        );
        const result = await this.store.fail(job, outcome.reason, delay);
        this.emit({
          type: 'failed',
          job,
          at: this.clock.now(),
          reason: outcome.reason,
          outcome: result,
        });
        if (result === 'retry') this.announce(this.clock.now() + this.offsetMs + delay);
      } else {
        await this.store.release(job, this.unknownRetryMs, outcome.reason);
        this.emit({ type: 'released', job, at: this.clock.now(), reason: outcome.reason });
        this.announce(this.clock.now() + this.offsetMs + this.unknownRetryMs);
      }
    } catch (error) {
      // The row stays running; its lease expires and any instance runs it again.
      this.emit({ type: 'error', at: this.clock.now(), where: 'record', error });
    } finally {
      this.inFlight.delete(job.id);
      if (this.inFlight.size === 0) for (const waiter of this.idleWaiters.splice(0)) waiter();
      if (this.running && this.inFlight.size === this.maxInFlight - 1) this.wake();
    }
  }

  /** Completions of one event-loop turn share one transaction. */
  private complete(job: ClaimedJob): Promise<void> {
    this.completions.push(job);
    return new Promise<void>((resolve, reject) => {
      const flush = async (): Promise<void> => {
        while (this.completions.length > 0) {
          const jobs = this.completions.splice(0);
          const accepted = await this.store.complete(jobs);
          const at = this.clock.now();
          for (const j of jobs)
            this.emit({ type: 'completed', job: j, at, accepted: accepted.has(j.id) });
        }
      };
      if (!this.flushing) {
        this.flushing = new Promise<void>((done) => setImmediate(done)).then(flush).finally(() => {
          this.flushing = null;
        });
      }
      this.flushing.then(resolve, reject);
    });
  }
}
