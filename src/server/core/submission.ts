import { ErrorFrames } from '../../protocol/error-frames.js';
import { Priority } from '../../protocol/packet-types.js';
import { argAt } from './byte-strings.js';
import type { CorePeer } from './core-peer.js';
import type { CoreState } from './core-state.js';
import type { DurableCommits } from './durable-commits.js';
import type { JobEndings } from './job-endings.js';
import { Count } from './job-stats.js';
import { nextScheduledTime } from './next-schedule.js';
import type { RunQueue } from './run-queue.js';
import { ServerJob, ServerJobState } from './server-job.js';

/** The longest unique id accepted, in bytes (gearmand: 64; it keeps 63). */
const MAX_UNIQUE_LENGTH = 64;
/** How far ahead a SUBMIT_JOB_SCHED schedule is searched before it is refused. */
const SCHEDULE_HORIZON_DAYS = 366 * 5;

/** What only some submissions carry. */
export interface SubmitExtras {
  /** Unix seconds before which the job must not run (SUBMIT_JOB_EPOCH, SUBMIT_JOB_SCHED). */
  readonly when?: number;
  /** The reducer of a SUBMIT_REDUCE_JOB (a byte string). */
  readonly reducer?: string;
}

/**
 * New jobs: every SUBMIT_* packet. A submission whose (function, unique) matches a live job
 * coalesces onto it (unique `-` keys on the payload, an empty unique never coalesces); maxqueue
 * refuses a job past the function's limit; a durable background job goes to the store first.
 */
export class Submission {
  constructor(
    private readonly state: CoreState,
    private readonly queue: RunQueue,
    private readonly endings: JobEndings,
    private readonly durable: DurableCommits,
  ) {}

  submit(
    peer: CorePeer,
    fnBytes: Buffer,
    uniqueBytes: Buffer,
    data: Buffer,
    priority: Priority,
    background: boolean,
    extras?: SubmitExtras,
  ): void {
    const state = this.state;
    if (uniqueBytes.length > MAX_UNIQUE_LENGTH) {
      state.send(peer.id, ErrorFrames.uniqueTooLarge);
      return;
    }
    const fn = state.functionForBytes(fnBytes);
    if (fn === undefined) {
      state.send(peer.id, ErrorFrames.badFunctionName);
      return;
    }
    const unique = uniqueBytes.toString('latin1');
    const key = unique === '' ? undefined : unique === '-' ? data.toString('latin1') : unique;
    if (key !== undefined) {
      const existing = fn.byUnique.get(key);
      if (existing !== undefined) {
        this.coalesce(peer, existing, background);
        return;
      }
    }
    const max = fn.maxQueue[priority];
    if (max > 0 && fn.total >= max) {
      state.send(peer.id, ErrorFrames.queueFull);
      return;
    }
    const durable = state.options.durable && background;
    const now = state.now();
    const job = new ServerJob(
      state.nextJobId++,
      fn,
      unique,
      data,
      priority,
      background,
      extras?.when ?? 0,
      durable ? ServerJobState.PENDING : ServerJobState.QUEUED,
      now,
    );
    state.count(fn, Count.CREATED);
    if (extras?.reducer !== undefined) job.extend({ reducer: extras.reducer });
    if (key !== undefined) fn.byUnique.set(key, job);
    if (!background) this.endings.attach(peer, job);
    if (durable) {
      this.durable.persist(peer, job, data);
      return;
    }
    state.jobs.set(job);
    state.send(peer.id, state.handles.jobCreated(job.id));
    this.queue.makeRunnable(job, now);
  }

  /** SUBMIT_JOB_SCHED: a background job at the next UTC minute its fields match. */
  submitScheduled(peer: CorePeer, args: readonly Buffer[]): void {
    const parse = (text: string): number | undefined | null => {
      if (text.trim() === '') return undefined;
      if (!/^\s*\d+\s*$/.test(text)) return null;
      return Number.parseInt(text, 10);
    };
    const fields = [2, 3, 4, 5, 6].map((i) => parse(argAt(args, i).toString('latin1')));
    if (fields.some((f) => f === null)) {
      this.state.send(peer.id, ErrorFrames.badSchedule);
      return;
    }
    const [minute, hour, dayOfMonth, month, weekday] = fields as (number | undefined)[];
    const at = nextScheduledTime(
      this.state.clock.now(),
      { minute, hour, dayOfMonth, month, weekday },
      SCHEDULE_HORIZON_DAYS,
    );
    if (at === undefined) {
      this.state.send(peer.id, ErrorFrames.badSchedule);
      return;
    }
    this.submit(peer, argAt(args, 0), argAt(args, 1), argAt(args, 7), Priority.NORMAL, true, {
      when: Math.floor(at / 1000),
    });
  }

  /** A submission whose key matches a live job: same handle, nothing new. */
  private coalesce(peer: CorePeer, job: ServerJob, background: boolean): void {
    const state = this.state;
    state.count(job.fn, Count.COALESCED);
    if (!background) this.endings.attach(peer, job);
    if (job.state === ServerJobState.PENDING) {
      this.durable.holdFor(peer, job);
      return;
    }
    state.send(peer.id, state.handles.jobCreated(job.id));
  }
}
