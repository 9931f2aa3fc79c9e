import { errorFrame } from '../../protocol/error-frames.js';
import type { StoredJob } from '../../protocol/stored-job.js';
import { byteStringToText, textToByteString } from './byte-strings.js';
import type { CorePeer } from './core-peer.js';
import type { CoreState, PendingCommit } from './core-state.js';
import type { JobEndings } from './job-endings.js';
import type { RunQueue } from './run-queue.js';
import { Count } from './job-stats.js';
import { ServerJob, ServerJobState } from './server-job.js';
import { StoreKeys } from './store-keys.js';
import { REFUSAL_SUMMARY_MS, StoreRefusals } from './store-refusals.js';

/** Sums up the store's refusals during an outage (see StoreRefusals). */
export const REFUSALS_TIMER = 'store-refusals';

/**
 * Durable background jobs: with a store, a background submission is PENDING until the store has
 * committed it (`persist`, then `persistDone`), and its submitter's output is held so that the
 * JOB_CREATED keeps its place among the replies. Submissions that coalesce onto a pending job are
 * held on the same commit. A refused commit drops the job and answers `ERROR QUEUE_ERROR`. At
 * start, the stored jobs are replayed.
 */
export class DurableCommits {
  private readonly refusals = new StoreRefusals();

  constructor(
    private readonly state: CoreState,
    private readonly keys: StoreKeys,
    private readonly queue: RunQueue,
    private readonly endings: JobEndings,
  ) {}

  /**
   * Commits a new background job. `data` is the submitted payload as it arrived — a view of
   * received bytes, which the I/O layer never reuses — so the store copies it once more without
   * the job making it a Buffer again.
   */
  persist(peer: CorePeer, job: ServerJob, data: Buffer): void {
    const state = this.state;
    const token = job.id;
    job.fn.pending++;
    const generated = StoreKeys.generated(job.unique);
    const key = generated ? this.keys.generate(job.unique === '-') : job.unique;
    state.pending.set(token, { job, holder: peer.id, coalesced: undefined });
    const reducer = job.reducer;
    // One object shape whether or not there is a reducer (a spread would make two).
    const stored: StoredJob = {
      functionName: job.fn.textName,
      uniqueKey: byteStringToText(key),
      generatedKey: generated,
      priority: job.priority,
      data,
      whenToRun: job.when,
      reducer: reducer === undefined ? undefined : byteStringToText(reducer),
    };
    // The store key must be what unpersist sends later, in the store's own (text) form.
    job.storeKey = stored.uniqueKey;
    state.emit({ type: 'persist', token, job: stored });
    state.emit({ type: 'hold', conn: peer.id, token });
  }

  /** A submission coalesced onto a PENDING job: it is answered when that commit settles. */
  holdFor(peer: CorePeer, job: ServerJob): void {
    const entry = this.state.pending.get(job.id);
    if (entry) (entry.coalesced ??= []).push(peer.id);
    this.state.emit({ type: 'hold', conn: peer.id, token: job.id });
  }

  /**
   * The store settled the commit of `token`: the job becomes runnable and its submitters get
   * JOB_CREATED; on `error` they get `ERROR QUEUE_ERROR <error>` and the job is dropped.
   */
  settled(token: number, error: string | undefined): void {
    const state = this.state;
    const entry = state.pending.get(token);
    if (entry === undefined) return;
    state.pending.delete(token);
    const job = entry.job;
    job.fn.pending--;
    if (error !== undefined) {
      const first = this.refusals.refused(`${job.fn.textName}/${job.storeKey ?? ''}`, error);
      if (first !== undefined) {
        state.log('ERROR', first);
        state.armTimer(REFUSALS_TIMER, REFUSAL_SUMMARY_MS);
      }
      job.storeKey = undefined;
      state.forget(job);
      this.answerHolders(entry, errorFrame('QUEUE_ERROR', error));
      this.endings.detachAll(job);
      job.state = ServerJobState.DONE;
      return;
    }
    if (this.refusals.active) {
      const back = this.refusals.committed();
      if (back !== undefined) state.log('NOTICE', back);
    }
    state.jobs.set(job);
    this.answerHolders(entry, state.handles.jobCreated(job.id));
    this.queue.makeRunnable(job, state.now());
  }

  /** Replays a stored job at start: queued (or delayed) with a fresh handle, no effects. */
  restore(stored: StoredJob): void {
    const state = this.state;
    const fn = state.functionFor(textToByteString(stored.functionName));
    const now = state.now();
    const job = new ServerJob(
      state.nextJobId++,
      fn,
      StoreKeys.uniqueOf(stored),
      stored.data,
      stored.priority,
      true,
      stored.whenToRun,
      ServerJobState.QUEUED,
      now,
    );
    job.storeKey = stored.uniqueKey;
    if (stored.reducer !== undefined) job.extend({ reducer: textToByteString(stored.reducer) });
    const coalesceKey = job.coalesceKey;
    if (coalesceKey !== undefined) fn.byUnique.set(coalesceKey, job);
    state.jobs.set(job);
    state.count(fn, Count.CREATED);
    // Nobody sleeps on a job replayed at start; the epoch timer is armed by the next flush().
    this.queue.makeRunnable(job, now, false);
  }

  /** The refusals timer: sums up the refusals since the last line, while they go on. */
  refusalsTimer(): void {
    const { line, again } = this.refusals.summary();
    if (line !== undefined) this.state.log('ERROR', line);
    if (again) this.state.armTimer(REFUSALS_TIMER, REFUSAL_SUMMARY_MS);
  }

  /** Sends the outcome of a commit to every connection that submitted the job, still there. */
  private answerHolders(entry: PendingCommit, reply: Buffer): void {
    const peers = this.state.peers;
    if (peers.has(entry.holder)) this.state.send(entry.holder, reply);
    for (const holder of entry.coalesced ?? []) {
      if (peers.has(holder)) this.state.send(holder, reply);
    }
  }
}
