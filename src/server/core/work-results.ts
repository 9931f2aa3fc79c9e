import { encodePacket } from '../../protocol/encoder.js';
import { ErrorFrames } from '../../protocol/error-frames.js';
import { Magic, PacketType } from '../../protocol/packet-types.js';
import { argAt, bytes } from './byte-strings.js';
import type { CorePeer } from './core-peer.js';
import type { CoreState } from './core-state.js';
import type { ConnectionId } from './effects.js';
import type { JobEndings } from './job-endings.js';
import { Count } from './job-stats.js';
import { ServerJobState, type ServerJob } from './server-job.js';

const ZERO = Buffer.from('0');
const ONE = Buffer.from('1');

/** The packets a worker sends about a running job. */
export type WorkResultType =
  | typeof PacketType.WORK_STATUS
  | typeof PacketType.WORK_DATA
  | typeof PacketType.WORK_WARNING
  | typeof PacketType.WORK_COMPLETE
  | typeof PacketType.WORK_FAIL
  | typeof PacketType.WORK_EXCEPTION;

/**
 * What workers report about their jobs (WORK_STATUS, DATA, WARNING, COMPLETE, FAIL, EXCEPTION),
 * forwarded to the attached clients, and what clients ask about jobs (GET_STATUS,
 * GET_STATUS_UNIQUE).
 */
export class WorkResults {
  constructor(
    private readonly state: CoreState,
    private readonly endings: JobEndings,
  ) {}

  /** A WORK_* packet from `peer`, which must be running the job it names. */
  workResult(peer: CorePeer, type: WorkResultType, args: readonly Buffer[]): void {
    const state = this.state;
    const handle = argAt(args, 0);
    if (type === PacketType.WORK_FAIL && handle.length > 63) {
      state.send(peer.id, ErrorFrames.uniqueTooLarge);
      return;
    }
    const job = state.jobByHandle(handle);
    if (job === undefined || job.state !== ServerJobState.RUNNING || job.worker !== peer.id) {
      state.send(
        peer.id,
        type === PacketType.WORK_DATA || type === PacketType.WORK_WARNING
          ? ErrorFrames.workDataNotFound
          : type === PacketType.WORK_EXCEPTION
            ? ErrorFrames.exceptionNotFound
            : ErrorFrames.workResultNotFound,
      );
      return;
    }
    const endings = this.endings;
    switch (type) {
      case PacketType.WORK_STATUS:
        job.extend({
          numerator: argAt(args, 1).toString('latin1'),
          denominator: argAt(args, 2).toString('latin1'),
        });
        endings.forward(job, encodePacket(Magic.RES, type, args));
        return;
      case PacketType.WORK_DATA:
      case PacketType.WORK_WARNING:
        endings.forward(job, encodePacket(Magic.RES, type, args));
        return;
      case PacketType.WORK_COMPLETE:
        endings.forward(job, encodePacket(Magic.RES, type, args));
        endings.finish(job, Count.COMPLETED);
        return;
      case PacketType.WORK_FAIL:
        endings.forward(job, encodePacket(Magic.RES, type, args));
        endings.finish(job, Count.FAILED);
        return;
      case PacketType.WORK_EXCEPTION:
        endings.forwardException(job, args);
        endings.finish(job, Count.EXCEPTIONS);
        return;
    }
  }

  /** GET_STATUS: known, running and the last WORK_STATUS numbers of a job by handle. */
  getStatus(connId: ConnectionId, handle: Buffer): void {
    const job = this.state.jobByHandle(handle);
    const known = job !== undefined && job.state !== ServerJobState.DONE;
    this.state.send(
      connId,
      encodePacket(Magic.RES, PacketType.STATUS_RES, [
        handle,
        known ? ONE : ZERO,
        known && job.state === ServerJobState.RUNNING ? ONE : ZERO,
        known ? numerator(job) : ZERO,
        known ? denominator(job) : ZERO,
      ]),
    );
  }

  /** GET_STATUS_UNIQUE: the same by unique id, with the number of waiting clients. */
  getStatusUnique(connId: ConnectionId, uniqueBytes: Buffer): void {
    const unique = uniqueBytes.toString('latin1');
    let job: ServerJob | undefined;
    if (unique !== '') {
      for (const fn of this.state.functions.values()) {
        // Jobs submitted with `-` are indexed by payload, but gearmand does not find them so.
        job = fn.byUnique.get(unique);
        if (job !== undefined && job.unique === unique) break;
        job = undefined;
      }
    }
    this.state.send(
      connId,
      encodePacket(Magic.RES, PacketType.STATUS_RES_UNIQUE, [
        uniqueBytes,
        job === undefined ? ZERO : ONE,
        job?.state === ServerJobState.RUNNING ? ONE : ZERO,
        job === undefined ? ZERO : numerator(job),
        job === undefined ? ZERO : denominator(job),
        String(job?.clients?.length ?? 0),
      ]),
    );
  }
}

function numerator(job: ServerJob): Buffer {
  const value = job.extras?.numerator;
  return value === undefined ? ZERO : bytes(value);
}

function denominator(job: ServerJob): Buffer {
  const value = job.extras?.denominator;
  return value === undefined ? ZERO : bytes(value);
}
