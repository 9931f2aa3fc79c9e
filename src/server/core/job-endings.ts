import { encodePacket } from '../../protocol/encoder.js';
import { Magic, PacketType } from '../../protocol/packet-types.js';
import { EMPTY } from './byte-strings.js';
import type { CorePeer } from './core-peer.js';
import type { CoreState } from './core-state.js';
import type { ConnectionId } from './effects.js';
import { Count } from './job-stats.js';
import { ServerJobState, type ServerJob } from './server-job.js';

/**
 * The ends of a job and the clients waiting for them: attaching a foreground submitter,
 * forwarding a worker's packets to the attached clients, taking a job off its worker, and
 * freeing a finished or cancelled job everywhere (its row in the store included).
 */
export class JobEndings {
  constructor(private readonly state: CoreState) {}

  /** A foreground submitter waits for the job: it gets the job's packets from now on. */
  attach(peer: CorePeer, job: ServerJob): void {
    if (job.clients === undefined) job.clients = [peer.id];
    else job.clients.push(peer.id);
    peer.attached.add(job);
  }

  /** A client left: it stops receiving the job's packets; a job nobody waits for is ignored. */
  detach(job: ServerJob, connId: ConnectionId): void {
    const clients = job.clients;
    if (clients === undefined) return;
    const left = clients.filter((c) => c !== connId);
    job.clients = left.length > 0 ? left : undefined;
    if (left.length > 0 || job.background || job.state === ServerJobState.PENDING) return;
    if (job.state === ServerJobState.DONE) return;
    this.ignore(job);
  }

  /** Detaches every client of the job. */
  detachAll(job: ServerJob): void {
    for (const client of job.clients ?? []) this.state.peers.get(client)?.attached.delete(job);
    job.clients = undefined;
  }

  /** Sends the same packet to every attached client (one copy per submission). */
  forward(job: ServerJob, packet: Buffer): void {
    const clients = job.clients;
    if (clients === undefined) return;
    for (const client of clients) this.state.send(client, packet);
  }

  /** WORK_EXCEPTION to clients that opted in, WORK_FAIL to the others. */
  forwardException(job: ServerJob, args: readonly Buffer[]): void {
    const clients = job.clients;
    if (clients === undefined) return;
    let exception: Buffer | undefined;
    let fail: Buffer | undefined;
    for (const client of clients) {
      if (this.state.peers.get(client)?.exceptions === true) {
        exception ??= encodePacket(Magic.RES, PacketType.WORK_EXCEPTION, args);
        this.state.send(client, exception);
      } else {
        fail ??= encodePacket(Magic.RES, PacketType.WORK_FAIL, [args[0] ?? EMPTY]);
        this.state.send(client, fail);
      }
    }
  }

  /** WORK_FAIL to the attached clients, with the job's handle. */
  forwardFail(job: ServerJob): void {
    if (job.clients === undefined) return;
    this.forward(
      job,
      encodePacket(Magic.RES, PacketType.WORK_FAIL, [this.state.handles.bytes(job.id)]),
    );
  }

  /** Takes a running job off its worker. */
  unassign(job: ServerJob): void {
    const state = this.state;
    if (job.worker !== undefined) state.peers.get(job.worker)?.running.delete(job);
    job.worker = undefined;
    job.fn.running--;
    state.running--;
    if (job.timerArmed) {
      job.timerArmed = false;
      state.emit({ type: 'clear-timer', key: timeoutTimer(job) });
    }
  }

  /**
   * The job ended (completed, failed, excepted, retry-exhausted; `outcome` says which): free it
   * everywhere. A job its worker answered counts its run time.
   */
  finish(job: ServerJob, outcome: Count): void {
    const state = this.state;
    if (job.state === ServerJobState.RUNNING && job.worker !== undefined) {
      state.statsOf(job.fn).runTimes.observe(state.now() - job.since);
      this.unassign(job);
    }
    state.count(job.fn, outcome);
    this.detachAll(job);
    this.unpersist(job);
    state.forget(job);
    job.state = ServerJobState.DONE;
  }

  /**
   * Admin `cancel job`: clients get WORK_FAIL and are detached, the row is deleted, and the job
   * is ignored (a queued one is freed when a grab reaches it, a running one's result goes
   * nowhere). False for a job that is unknown or already ignored.
   */
  cancel(job: ServerJob | undefined): boolean {
    if (job === undefined || job.ignored || job.state === ServerJobState.DONE) return false;
    this.forwardFail(job);
    this.detachAll(job);
    this.unpersist(job);
    this.state.count(job.fn, Count.CANCELLED);
    this.ignore(job);
    return true;
  }

  /** Deletes the job's row from the store, once. */
  unpersist(job: ServerJob): void {
    if (job.storeKey === undefined) return;
    this.state.emit({
      type: 'unpersist',
      key: { functionName: job.fn.textName, uniqueKey: job.storeKey },
    });
    job.storeKey = undefined;
  }

  /** The job will never run again: not found by its unique, its payload let go. */
  private ignore(job: ServerJob): void {
    job.ignored = true;
    this.state.removeFromUniqueIndex(job);
    job.releasePayload();
  }
}

/** The key of a job's CAN_DO_TIMEOUT timer. */
export function timeoutTimer(job: ServerJob): string {
  return `${TIMEOUT_TIMER_PREFIX}${job.id}`;
}

/** Timers `timeout:<job id>` are CAN_DO_TIMEOUT assignments. */
export const TIMEOUT_TIMER_PREFIX = 'timeout:';
