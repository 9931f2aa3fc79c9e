import { encodePacket, Frames } from '../../protocol/encoder.js';
import { Magic, PacketType } from '../../protocol/packet-types.js';
import { bytes } from './byte-strings.js';
import type { Ability, CorePeer } from './core-peer.js';
import type { CoreState } from './core-state.js';
import { timeoutTimer, type JobEndings } from './job-endings.js';
import { Count } from './job-stats.js';
import type { RunQueue } from './run-queue.js';
import { ServerJobState, type ServerJob } from './server-job.js';
import type { SleepMachine } from './sleep-machine.js';

/** Why a running job went back to its queue. */
export type RequeueReason = typeof Count.REQUEUED_WORKER_LOST | typeof Count.REQUEUED_TIMEOUT;

/**
 * Handing jobs to workers and taking them back: GRAB_* (highest priority first, newest ability
 * first, `-R` rotation), the CAN_DO_TIMEOUT timer of an assignment, and the requeue of a job that
 * lost its worker — at the tail of its list, counted as a retry, or ended after `-j` attempts.
 */
export class Assignment {
  constructor(
    private readonly state: CoreState,
    private readonly sleep: SleepMachine,
    private readonly queue: RunQueue,
    private readonly endings: JobEndings,
  ) {}

  /** GRAB_JOB, GRAB_JOB_UNIQ or GRAB_JOB_ALL: the next job for one of the worker's abilities. */
  grab(peer: CorePeer, type: PacketType): void {
    const state = this.state;
    this.sleep.grabbing(peer);
    this.queue.promoteDue();
    if (state.draining) {
      state.send(peer.id, Frames.NO_JOB);
      return;
    }
    const abilities = peer.abilities;
    for (let i = 0; i < abilities.length; i++) {
      const ability = abilities[i] as Ability;
      const job = this.queue.takeNext(ability.fn);
      if (job === undefined) continue;
      if (state.options.roundRobin && abilities.length > 1) {
        abilities.splice(i, 1);
        abilities.push(ability);
      }
      this.assign(peer, job, ability.timeout);
      state.send(peer.id, this.assignPacket(job, type));
      return;
    }
    state.send(peer.id, Frames.NO_JOB);
  }

  /**
   * A running job lost its worker (`reason`): back to the tail of its list, or freed if it is
   * ignored, or ended with WORK_FAIL once it has had its `-j` attempts.
   */
  requeue(job: ServerJob, reason: RequeueReason): void {
    const state = this.state;
    this.endings.unassign(job);
    job.addRetry();
    if (job.extras !== undefined) {
      job.extras.numerator = undefined;
      job.extras.denominator = undefined;
    }
    if (job.ignored) {
      state.forget(job);
      job.state = ServerJobState.DONE;
      return;
    }
    const limit = state.options.jobRetries;
    if (limit > 0 && job.retries >= limit) {
      state.log('NOTICE', `${state.handleOf(job)} dropped after ${job.retries} attempts`);
      this.endings.forwardFail(job);
      this.endings.finish(job, Count.RETRIES_EXHAUSTED);
      return;
    }
    state.count(job.fn, reason);
    this.queue.enqueue(job, state.now());
    this.sleep.wake(job.fn, 1);
  }

  /** The CAN_DO_TIMEOUT timer of the job `id` fired: requeue it, or fail it (`failOnTimeout`). */
  timedOut(id: number): void {
    const state = this.state;
    const job = state.jobs.get(id);
    if (job === undefined || job.state !== ServerJobState.RUNNING || !job.timerArmed) return;
    job.timerArmed = false;
    if (state.options.failOnTimeout === true) {
      state.log('INFO', `${state.handleOf(job)} timed out on its worker; failed`);
      this.endings.unassign(job);
      this.endings.forwardFail(job);
      this.endings.finish(job, Count.FAILED);
    } else {
      state.log('INFO', `${state.handleOf(job)} timed out on its worker; requeued`);
      this.requeue(job, Count.REQUEUED_TIMEOUT);
    }
  }

  private assign(peer: CorePeer, job: ServerJob, timeout: number): void {
    const state = this.state;
    const now = state.now();
    state.statsOf(job.fn).waitTimes.observe(now - job.since);
    job.state = ServerJobState.RUNNING;
    job.since = now;
    job.worker = peer.id;
    peer.running.add(job);
    job.fn.running++;
    state.running++;
    if (timeout > 0) {
      job.timerArmed = true;
      state.emit({ type: 'timer', key: timeoutTimer(job), at: state.clock.now() + timeout });
    }
  }

  private assignPacket(job: ServerJob, type: PacketType): Buffer {
    const handle = this.state.handles.bytes(job.id);
    if (type === PacketType.GRAB_JOB) {
      return encodePacket(Magic.RES, PacketType.JOB_ASSIGN, [handle, job.fn.nameBytes, job.data]);
    }
    const unique = bytes(job.unique);
    const reducer = job.reducer;
    if (type === PacketType.GRAB_JOB_ALL && reducer !== undefined && reducer !== '') {
      return encodePacket(Magic.RES, PacketType.JOB_ASSIGN_ALL, [
        handle,
        job.fn.nameBytes,
        unique,
        bytes(reducer),
        job.data,
      ]);
    }
    return encodePacket(Magic.RES, PacketType.JOB_ASSIGN_UNIQ, [
      handle,
      job.fn.nameBytes,
      unique,
      job.data,
    ]);
  }
}
