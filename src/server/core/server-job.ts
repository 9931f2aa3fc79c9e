import type { Priority } from '../../protocol/packet-types.js';
import type { FunctionQueue } from './function-queue.js';

/**
 * Where a job is in its life:
 *
 *   PENDING  a durable background job whose store commit has not settled: known for coalescing,
 *            not runnable, no handle given out yet
 *   DELAYED  an epoch/scheduled job waiting for its time, kept in the time-ordered heap
 *   QUEUED   in its function's priority list, runnable
 *   RUNNING  assigned to a worker
 *   DONE     gone: completed, failed, cancelled and skipped, or dropped
 */
export const ServerJobState = { PENDING: 0, DELAYED: 1, QUEUED: 2, RUNNING: 3, DONE: 4 } as const;
/** One of {@link ServerJobState}. */
export type ServerJobState = (typeof ServerJobState)[keyof typeof ServerJobState];

/** Payloads up to this size are kept as latin1 strings: far smaller than a Buffer object each. */
const SMALL_PAYLOAD = 128;
const NO_PAYLOAD = '';

/**
 * The payload as a job keeps it. Received bytes are never reused (socket chunks and the decoder's
 * buffers for split payloads are fresh), so a payload that fills most of its own allocation — a
 * large one, copied once by the decoder — is kept as it is: a second copy would double what a
 * queued 60 MB job costs. A smaller one is copied, so that it does not pin the whole chunk it
 * arrived in.
 */
function keptPayload(data: Buffer): Buffer | string {
  if (data.length <= SMALL_PAYLOAD) return data.toString('latin1');
  return data.length * 2 >= data.buffer.byteLength ? data : Buffer.from(data);
}

/** Fields only some jobs need, kept out of line so an ordinary queued job stays small. */
interface JobExtras {
  /** The reducer of a reduce job. */
  reducer?: string;
  /** The last WORK_STATUS numerator and denominator (byte strings). */
  numerator?: string;
  denominator?: string;
}

// Bit layout of ServerJob.bits: a million queued jobs make every field count. The retries
// counter takes the bits above the flags; it saturates well below 2^30, so the number stays a
// small integer (no heap number per job).
const STATE_MASK = 0b111;
const PRIORITY_SHIFT = 3;
const PRIORITY_MASK = 0b11 << PRIORITY_SHIFT;
const BACKGROUND = 1 << 5;
const IGNORED = 1 << 6;
const TIMER_ARMED = 1 << 7;
const RETRIES_SHIFT = 8;
const RETRY = 1 << RETRIES_SHIFT;
const MAX_RETRIES = (1 << 21) - 1;

/**
 * One job as the server keeps it. Byte strings (function, unique, reducer) hold one character
 * per byte, exactly as they arrived. The object is kept compact (flags and the retry count packed
 * in one number, rare fields out of line) because a million of them may sit in a queue.
 */
export class ServerJob {
  /** The next job in the same priority list (an intrusive singly linked list). */
  next: ServerJob | undefined = undefined;
  private bits: number;
  /**
   * When the job entered its present state, in the core's time (ms since its time base, a small
   * integer; see CoreState.now): submitted (pending, delayed), queued (a requeue restarts it) or
   * assigned (running). The view's ages and the wait and run time distributions come from it.
   */
  since: number;
  /** The worker connection running the job. */
  worker: number | undefined = undefined;
  /** Attached foreground clients, one entry per submission (gearmand sends each one a copy). */
  clients: number[] | undefined = undefined;
  /** The store row key while the job is in the store; cleared once the row is deleted. */
  storeKey: string | undefined = undefined;
  extras: JobExtras | undefined = undefined;
  private payload: Buffer | string;

  constructor(
    /** The number in the handle `<prefix>:<id>`. */
    readonly id: number,
    readonly fn: FunctionQueue,
    readonly unique: string,
    data: Buffer,
    priority: Priority,
    background: boolean,
    /** Unix seconds before which the job must not run (0 = now). */
    readonly when: number,
    state: ServerJobState,
    /** The core time of the submission (see {@link since}). */
    since: number,
  ) {
    this.bits = state | (priority << PRIORITY_SHIFT) | (background ? BACKGROUND : 0);
    this.payload = keptPayload(data);
    this.since = since;
  }

  get state(): ServerJobState {
    return (this.bits & STATE_MASK) as ServerJobState;
  }

  set state(state: ServerJobState) {
    this.bits = (this.bits & ~STATE_MASK) | state;
  }

  /** Attempts that ended without a result (the worker vanished, gave up or timed out). */
  get retries(): number {
    return this.bits >>> RETRIES_SHIFT;
  }

  /** Counts one more lost attempt (saturating). */
  addRetry(): void {
    if (this.bits >>> RETRIES_SHIFT < MAX_RETRIES) this.bits += RETRY;
  }

  get priority(): Priority {
    return ((this.bits & PRIORITY_MASK) >> PRIORITY_SHIFT) as Priority;
  }

  get background(): boolean {
    return (this.bits & BACKGROUND) !== 0;
  }

  /** Set when the job was abandoned by all its foreground clients or cancelled. */
  get ignored(): boolean {
    return (this.bits & IGNORED) !== 0;
  }

  set ignored(value: boolean) {
    this.bits = value ? this.bits | IGNORED : this.bits & ~IGNORED;
  }

  /** Whether a CAN_DO_TIMEOUT timer is armed for the current assignment. */
  get timerArmed(): boolean {
    return (this.bits & TIMER_ARMED) !== 0;
  }

  set timerArmed(value: boolean) {
    this.bits = value ? this.bits | TIMER_ARMED : this.bits & ~TIMER_ARMED;
  }

  /** The workload bytes (a fresh buffer for small payloads). */
  get data(): Buffer {
    const payload = this.payload;
    return typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload;
  }

  /** The payload's size in bytes (0 once released). */
  get size(): number {
    return this.payload.length;
  }

  /** A copy of the payload's first `max` bytes at most. */
  preview(max: number): Buffer {
    const payload = this.payload;
    return typeof payload === 'string'
      ? Buffer.from(payload.slice(0, max), 'latin1')
      : Buffer.from(payload.subarray(0, max));
  }

  /** The key this job is coalesced under in its function: `-` keys on the payload. */
  get coalesceKey(): string | undefined {
    if (this.unique === '') return undefined;
    if (this.unique !== '-') return this.unique;
    const payload = this.payload;
    return typeof payload === 'string' ? payload : payload.toString('latin1');
  }

  /**
   * Lets the payload go, for a job that will never be handed to a worker again (ignored or
   * cancelled) but stays listed until a grab skips it. Take it out of the coalescing index first:
   * a `-` job's key is its payload.
   */
  releasePayload(): void {
    this.payload = NO_PAYLOAD;
  }

  get reducer(): string | undefined {
    return this.extras?.reducer;
  }

  /** Sets fields that only some jobs carry. */
  extend(extras: JobExtras): void {
    this.extras = { ...this.extras, ...extras };
  }
}
