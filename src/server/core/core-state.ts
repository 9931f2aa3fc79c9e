import type { CoreOptions } from './core-options.js';
import { CorePeer, PeerKind } from './core-peer.js';
import { DelayHeap } from './delay-heap.js';
import type { ConnectionId, Effect, LogLevel, ServerClock } from './effects.js';
import { FunctionQueue } from './function-queue.js';
import { HandleCodec } from './handle-codec.js';
import { acceptableFunctionName, sameBytes } from './byte-strings.js';
import { FunctionStats, newCounts, type Count } from './job-stats.js';
import { JobTable } from './job-table.js';
import type { ServerJob } from './server-job.js';

/** A durable submission waiting for its commit. */
export interface PendingCommit {
  readonly job: ServerJob;
  /** The connection that submitted it, owed a JOB_CREATED (or the store's error). */
  readonly holder: ConnectionId;
  /** Connections whose submissions coalesced onto it meanwhile, owed the same. */
  coalesced: ConnectionId[] | undefined;
}

/** Armed for the earliest delayed job, so it runs (and wakes a worker) when it comes due. */
export const EPOCH_TIMER = 'epoch';
/**
 * Core time is ms since a base, kept within ±2^30 so that every time kept on a job stays a small
 * integer (a heap number in one job's field would give every job a boxed field). Past REBASE_AT
 * (12.4 days after the start) the base moves forward by REBASE_BY (18.6 hours) and every live
 * job's time with it, an O(jobs) walk about once a day. An age is exact up to 2^31 − 2^26 ms
 * (24 days); an older job's time stops at −2^30, so it reads that old.
 */
const REBASE_AT = 2 ** 30;
const REBASE_BY = 2 ** 26;

/**
 * The core's state in one place: connections, functions, jobs by handle, pending commits, the
 * delay heap, counters, the time base and the buffer of effects that the current call returns.
 * The modules that own one concern each (submission, durable commits, the sleep machine, …) are
 * handed this object; none of them holds the others' maps or calls back into `ServerCore`.
 */
export class CoreState {
  readonly peers = new Map<ConnectionId, CorePeer>();
  readonly functions = new Map<string, FunctionQueue>();
  /** Acknowledged jobs (queued, delayed, running, ignored-but-not-yet-skipped) by handle number. */
  readonly jobs = new JobTable();
  /** PENDING jobs by commit token, which is the job's id (a job is committed once). */
  readonly pending = new Map<number, PendingCommit>();
  readonly delayed = new DelayHeap();
  /** Job counters of every function together, by {@link Count}. */
  readonly totals = newCounts();
  /** Connections by {@link PeerKind}. */
  readonly peerKinds: [number, number, number, number] = [0, 0, 0, 0];
  readonly handles: HandleCodec;
  /** Jobs assigned to workers right now. */
  running = 0;
  /** Set by a graceful shutdown: no job is handed out any more. */
  draining = false;
  nextJobId = 1;
  /** When the core started (clock ms). */
  readonly startedAt: number;
  private base: number;
  private lastFunction: FunctionQueue | undefined;
  private out: Effect[] = [];
  /** The time the `epoch` timer is armed for, or -1. */
  private epochTimerAt = -1;

  constructor(
    readonly options: CoreOptions,
    readonly clock: ServerClock,
  ) {
    this.handles = new HandleCodec(options.handlePrefix);
    this.startedAt = clock.now();
    this.base = this.startedAt;
  }

  // --- time ---------------------------------------------------------------------------------

  /** Now in core time: ms since the time base, a small integer. */
  now(): number {
    let t = this.clock.now() - this.base;
    if (t >= REBASE_AT) {
      const by = (Math.floor((t - REBASE_AT) / REBASE_BY) + 1) * REBASE_BY;
      this.rebase(by);
      t -= by;
    }
    // A clock set far back: ages read as 0 rather than leave the small-integer range.
    return t < -REBASE_AT ? -REBASE_AT : t | 0;
  }

  /** A core time as clock ms. */
  clockTime(t: number): number {
    return t + this.base;
  }

  /** Moves the time base `by` ms forward (once in days: it visits every job). */
  private rebase(by: number): void {
    this.base += by;
    const shift = (job: ServerJob): void => {
      job.since = Math.max(-REBASE_AT, job.since - by);
    };
    for (const job of this.jobs.values()) shift(job);
    for (const entry of this.pending.values()) shift(entry.job);
  }

  // --- effects ------------------------------------------------------------------------------

  send(conn: ConnectionId, data: Buffer): void {
    this.out.push({ type: 'send', conn, data });
  }

  log(level: LogLevel, message: string): void {
    this.out.push({ type: 'log', level, message });
  }

  emit(effect: Effect): void {
    this.out.push(effect);
  }

  /** Arms the timer `key` to fire `delayMs` from now. */
  armTimer(key: string, delayMs: number): void {
    this.out.push({ type: 'timer', key, at: this.clock.now() + delayMs });
  }

  /** Hands out the effects gathered by this call, re-arming the epoch timer if needed. */
  flush(): Effect[] {
    const top = this.delayed.peek();
    const at = top === undefined ? -1 : top.when * 1000;
    if (at !== this.epochTimerAt) {
      if (at < 0) this.out.push({ type: 'clear-timer', key: EPOCH_TIMER });
      else this.out.push({ type: 'timer', key: EPOCH_TIMER, at });
      this.epochTimerAt = at;
    }
    const effects = this.out;
    this.out = [];
    return effects;
  }

  /** The `epoch` timer went off (flush() arms it again for the next delayed job). */
  epochTimerFired(): void {
    this.epochTimerAt = -1;
  }

  // --- connections --------------------------------------------------------------------------

  addPeer(peer: CorePeer): void {
    this.peers.set(peer.id, peer);
    this.peerKinds[peer.kind]++;
  }

  removePeer(peer: CorePeer): void {
    this.peers.delete(peer.id);
    this.peerKinds[peer.kind]--;
  }

  /** Records what a connection showed itself to be (a kind only moves up). */
  becomes(peer: CorePeer, kind: PeerKind): void {
    if (peer.kind >= kind) return;
    this.peerKinds[peer.kind]--;
    this.peerKinds[kind]++;
    peer.kind = kind;
  }

  // --- functions ----------------------------------------------------------------------------

  /** The function of this name (a byte string), created if new. */
  functionFor(name: string): FunctionQueue {
    let fn = this.functions.get(name);
    if (fn === undefined) {
      fn = new FunctionQueue(name);
      this.functions.set(name, fn);
    }
    return fn;
  }

  /** The function a peer names, created if new; undefined for a name it may not create. */
  functionNamed(name: string): FunctionQueue | undefined {
    const fn = this.functions.get(name);
    if (fn !== undefined) return fn;
    return acceptableFunctionName(name) ? this.functionFor(name) : undefined;
  }

  /**
   * The function a packet names (see {@link functionNamed}). Submitters tend to repeat one
   * function, so the last one is checked first by its bytes, which spares a string and a hash
   * lookup per packet.
   */
  functionForBytes(name: Buffer): FunctionQueue | undefined {
    const last = this.lastFunction;
    if (last !== undefined && sameBytes(last.nameBytes, name)) return last;
    const fn = this.functionNamed(name.toString('latin1'));
    if (fn !== undefined) this.lastFunction = fn;
    return fn;
  }

  deleteFunction(fn: FunctionQueue): void {
    this.functions.delete(fn.name);
    if (this.lastFunction === fn) this.lastFunction = undefined;
  }

  // --- jobs ---------------------------------------------------------------------------------

  /** The function's counters and time distributions, made with its first event. */
  statsOf(fn: FunctionQueue): FunctionStats {
    return (fn.stats ??= new FunctionStats());
  }

  /** Counts an event of a job of `fn`, for the function and in the totals. */
  count(fn: FunctionQueue, slot: Count): void {
    this.statsOf(fn).counts[slot]++;
    this.totals[slot]++;
  }

  /** The acknowledged job a handle names. */
  jobByHandle(handle: Buffer): ServerJob | undefined {
    const id = this.handles.parse(handle);
    return id === undefined ? undefined : this.jobs.get(id);
  }

  /** The handle of a job, as a byte string. */
  handleOf(job: ServerJob): string {
    return this.handles.text(job.id);
  }

  removeFromUniqueIndex(job: ServerJob): void {
    const key = job.coalesceKey;
    if (key !== undefined && job.fn.byUnique.get(key) === job) job.fn.byUnique.delete(key);
  }

  /** Removes the job from every index (not from lists, which drop it lazily). */
  forget(job: ServerJob): void {
    this.removeFromUniqueIndex(job);
    this.jobs.delete(job.id);
  }
}
