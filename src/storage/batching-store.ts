import { backoffDelay, type Backoff } from '../protocol/backoff.js';
import {
  isGeneratedUniqueKey,
  type JobStore,
  type Settled,
  type StoredJob,
  type StoredJobKey,
} from './job-store.js';
import { coalesce, type InOrderBackend, type StoreBackend } from './store-backend.js';
import {
  describeError,
  silentLogger,
  StoreError,
  type StoreErrorCode,
  type StoreLogger,
} from './store-error.js';

/** How long to wait between reconnection attempts. */
export interface ReconnectPolicy {
  /** The first delay, in milliseconds. */
  readonly initialDelayMs: number;
  /** The longest delay, in milliseconds. */
  readonly maxDelayMs: number;
}

/** Options every store accepts. */
export interface BatchingStoreOptions {
  readonly log?: StoreLogger;
  readonly reconnect?: Partial<ReconnectPolicy>;
}

type Operation =
  | {
      readonly kind: 'add';
      readonly job: StoredJob;
      readonly settled: Settled;
      readonly tag: number;
    }
  | {
      readonly kind: 'remove';
      readonly key: StoredJobKey;
      readonly settled: Settled;
      readonly tag: number;
    };

const ignore: Settled = () => {};

/**
 * With an in-order backend, every this many queued operations go out at once instead of at the
 * end of the event-loop turn, so the database works on them (uncommitted) while the server is
 * still reading the rest of a burst of submissions.
 */
const EAGER_BATCH = 256;

/*
 * Connection states:
 *
 *   new ──open()──▶ up ──connection lost──▶ down ──reconnected──▶ up
 *                    │                        │
 *                    └──────close()───────────┴──▶ closed
 *
 * In `up`, operations queue and are flushed once per event-loop turn (setImmediate), one batch
 * per flush. A backend takes a number of batches at a time (`turnsInFlight`, 1 unless it
 * applies batches strictly in the order given); while that many are in flight, new operations
 * wait and go out together when one finishes, so batches grow with the load. In `down`, `add` is
 * refused at once (the server answers QUEUE_ERROR and never acknowledges a job it could not
 * keep), while removals stay queued and are applied after reconnecting: a lost removal would make
 * a finished job run again after a restart.
 */
type State = 'new' | 'up' | 'down' | 'closed';

/**
 * A job store over a backend (composition: the backend does the database work, this object the
 * rest): queueing, group commit, isolating a bad job, refusing adds while the database is
 * unreachable, reconnecting with backoff and jitter, keeping removals until they are applied, and
 * flushing on close. Each `…Store` class is this over its database's backend.
 */
export class BatchingStore<B extends StoreBackend = StoreBackend> implements JobStore {
  readonly description: string;
  readonly #log: StoreLogger;
  readonly #reconnect: Backoff;
  /** Whether batches go out before the turn ends (in-order backends). */
  readonly #eager: boolean;
  /** How many turn-ending batches may be in flight at once. */
  readonly #turnLimit: number;
  #commits = 0;
  #state: State = 'new';
  #pending: Operation[] = [];
  #flushScheduled = false;
  /** Batches handed to the backend and not settled yet (eager ones included). */
  #inFlight = 0;
  /** Turn-ending batches in flight: what `#turnLimit` limits. */
  #turnsInFlight = 0;
  /** An eager batch went out since the last turn-ending one, so the turn is still to be ended. */
  #turnOpen = false;
  /** Called when the last batch in flight settles. */
  #idleWaiters: (() => void)[] = [];
  #reconnectTimer: NodeJS.Timeout | undefined;
  #reconnectAttempts = 0;
  #reconnecting: Promise<void> | undefined;
  #lastFailure = '';
  readonly #lost = (err: unknown): void => this.#connectionLost(err);

  constructor(
    /** The database work: for tests and figures (connection ids, limits). */
    readonly backend: B,
    options: BatchingStoreOptions = {},
  ) {
    this.description = backend.description;
    this.#log = options.log ?? silentLogger;
    this.#reconnect = {
      initialDelay: options.reconnect?.initialDelayMs ?? 100,
      maxDelay: options.reconnect?.maxDelayMs ?? 10_000,
      // Full jitter on the upper half, so many servers do not reconnect in step.
      jitter: 0.5,
    };
    this.#eager = backend.order === 'in-order';
    this.#turnLimit = backend.order === 'in-order' ? Math.max(1, backend.turnsInFlight) : 1;
  }

  /** Transactions committed so far (for tests and metrics). */
  get commits(): number {
    return this.#commits;
  }

  /** True while the database is reachable. */
  get available(): boolean {
    return this.#state === 'up';
  }

  async open(): Promise<void> {
    if (this.#state !== 'new')
      throw new StoreError('STORE_CLOSED', `${this.description}: open() called twice`);
    try {
      await this.backend.connect(this.#lost);
    } catch (err) {
      await this.backend.disconnect();
      throw new StoreError(
        'STORE_UNAVAILABLE',
        `${this.description}: cannot open the job queue: ${describeError(err)}`,
        { cause: err },
      );
    }
    this.#state = 'up';
    this.#log('INFO', `${this.description}: job queue open`);
  }

  add(job: StoredJob): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.addThen(job, (err) => (err ? reject(err) : resolve()), 0);
    });
  }

  addThen(job: StoredJob, settled: Settled, tag: number): void {
    const refusal =
      this.#state === 'new' || this.#state === 'closed'
        ? new StoreError('STORE_CLOSED', `${this.description}: the job queue is not open`)
        : this.#state === 'down'
          ? this.#unavailable()
          : this.backend.refuse(job);
    // Never called back before returning: the caller may still be setting up for the answer.
    if (refusal) queueMicrotask(() => settled(refusal, tag));
    else this.#enqueue({ kind: 'add', job, settled, tag });
  }

  remove(key: StoredJobKey): Promise<void> {
    if (this.#state === 'new' || this.#state === 'closed')
      return Promise.reject(
        new StoreError('STORE_CLOSED', `${this.description}: the job queue is not open`),
      );
    return new Promise<void>((resolve, reject) => {
      this.#enqueue({
        kind: 'remove',
        key,
        settled: (err) => (err ? reject(err) : resolve()),
        tag: 0,
      });
    });
  }

  async *replay(): AsyncIterable<StoredJob> {
    if (this.#state !== 'up')
      throw this.#state === 'down'
        ? this.#unavailable()
        : new StoreError('STORE_CLOSED', `${this.description}: the job queue is not open`);
    for await (const row of this.backend.rows()) {
      yield isGeneratedUniqueKey(row.uniqueKey) ? { ...row, generatedKey: true } : row;
    }
  }

  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    if (this.#state === 'new') {
      this.#state = 'closed';
      return;
    }
    // Flush everything queued so far; a flush may leave work queued when the link went down.
    for (let round = 0; round < 100 && (this.#inFlight > 0 || this.#pending.length > 0); round++) {
      if (this.#state === 'down' && this.#inFlight === 0) break;
      this.#pump();
      await this.#idle();
    }
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    const leftover = this.#pending.splice(0);
    this.#state = 'closed';
    if (leftover.length > 0) {
      this.#log(
        'ERROR',
        `${this.description}: closing while the database is unreachable; ${leftover.length} queued removal(s) not applied — those jobs will run again after a restart`,
      );
      const err = new StoreError(
        'STORE_UNAVAILABLE',
        `${this.description}: closed before the database came back`,
      );
      for (const op of leftover) op.settled(err, op.tag);
    }
    await this.#reconnecting?.catch(() => {});
    await this.backend.disconnect();
    this.#log('INFO', `${this.description}: job queue closed`);
  }

  #connectionLost(err: unknown): void {
    if (this.#state !== 'up') return;
    this.#lastFailure = describeError(err);
    this.#state = 'down';
    this.#log(
      'ERROR',
      `${this.description}: connection lost (${this.#lastFailure}); background submissions are refused until it is back; reconnecting`,
    );
    void this.backend.disconnect();
    this.#scheduleReconnect();
  }

  #unavailable(): StoreError {
    return new StoreError(
      'STORE_UNAVAILABLE',
      `${this.description} is unreachable (${this.#lastFailure || 'connection lost'}); job not queued`,
    );
  }

  #enqueue(op: Operation): void {
    this.#pending.push(op);
    if (this.#state !== 'up') return;
    if (this.#eager && this.#pending.length >= EAGER_BATCH) {
      this.#send(this.#pending.splice(0, EAGER_BATCH), false);
    }
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      this.#pump();
    });
  }

  /**
   * Ends the turn: hands what is queued to the backend as turn-ending batches, as many as it
   * takes at a time (an empty one when eager batches went out and nothing is left, so that their
   * transaction commits).
   */
  #pump(): void {
    while (
      (this.#pending.length > 0 || this.#turnOpen) &&
      this.#state === 'up' &&
      this.#turnsInFlight < this.#turnLimit
    ) {
      this.#send(this.#pending.splice(0), true);
    }
  }

  #send(ops: Operation[], endsTurn: boolean): void {
    this.#inFlight++;
    if (endsTurn) this.#turnsInFlight++;
    this.#turnOpen = !endsTurn;
    void this.#apply(ops, endsTurn).finally(() => {
      this.#inFlight--;
      if (endsTurn) this.#turnsInFlight--;
      this.#pump();
      if (this.#inFlight === 0) for (const wake of this.#idleWaiters.splice(0)) wake();
    });
  }

  /** Resolves when no batch is in flight. */
  #idle(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  async #apply(ops: Operation[], endsTurn = true): Promise<void> {
    if (this.#state !== 'up') {
      this.#deferForOutage(ops);
      return;
    }
    const backend: StoreBackend = this.backend;
    if (backend.order === 'in-order') {
      await this.#applyInOrder(backend, ops, endsTurn);
      return;
    }
    try {
      await backend.commit(coalesce(ops));
      this.#commits++;
      for (const op of ops) op.settled(undefined, op.tag);
      return;
    } catch (err) {
      if (backend.classify(err) === 'connection' || this.#state !== 'up') {
        this.#connectionLost(err);
        this.#deferForOutage(ops);
        return;
      }
      if (ops.length > 1) {
        // One bad job (too large, too long a name) must not fail its neighbours: redo one by one.
        for (const op of ops) await this.#apply([op]);
        return;
      }
      const [op] = ops;
      if (op) this.#fail(op, err);
    }
  }

  async #applyInOrder(backend: InOrderBackend, ops: Operation[], endsTurn: boolean): Promise<void> {
    let failures: readonly (Error | undefined)[] | undefined;
    try {
      const result = await backend.commitInOrder(ops, endsTurn);
      this.#commits += result.transactions;
      failures = result.failures;
    } catch (err) {
      this.#connectionLost(err);
      this.#deferForOutage(ops);
      return;
    }
    const lost = failures?.find(
      (err) => err !== undefined && backend.classify(err) === 'connection',
    );
    if (lost) {
      // The file or the disk failed under these operations: their outcome is not to be trusted.
      this.#connectionLost(lost);
      this.#deferForOutage(ops);
      return;
    }
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i] as Operation;
      const err = failures?.[i];
      if (err === undefined) op.settled(undefined, op.tag);
      else this.#fail(op, err);
    }
  }

  /** Rejects one operation the database refused, with a clear error, and logs it. */
  #fail(op: Operation, err: unknown): void {
    const code: StoreErrorCode =
      this.backend.classify(err) === 'too-large' ? 'JOB_TOO_LARGE' : 'STORE_FAILED';
    const what =
      op.kind === 'add'
        ? `cannot store job ${op.job.functionName}/${op.job.uniqueKey}`
        : `cannot delete job ${op.key.functionName}/${op.key.uniqueKey}`;
    const failure = new StoreError(code, `${this.description}: ${what}: ${describeError(err)}`, {
      cause: err,
    });
    this.#log('ERROR', failure.message);
    op.settled(failure, op.tag);
  }

  /**
   * The transaction's outcome is unknown (the link broke before COMMIT's answer): refuse the adds
   * — the server reports QUEUE_ERROR — and queue a removal of each, so a row that did make it
   * does not come back as a job nobody acknowledged. Removals wait for the reconnection.
   */
  #deferForOutage(ops: Operation[]): void {
    const requeue: Operation[] = [];
    for (const op of ops) {
      if (op.kind === 'add') {
        op.settled(this.#unavailable(), op.tag);
        requeue.push({ kind: 'remove', key: op.job, settled: ignore, tag: 0 });
      } else {
        requeue.push(op);
      }
    }
    this.#pending.unshift(...requeue);
  }

  #scheduleReconnect(): void {
    if (this.#state !== 'down' || this.#reconnectTimer) return;
    const delay = backoffDelay(this.#reconnect, this.#reconnectAttempts);
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      this.#reconnecting = this.#tryReconnect().finally(() => (this.#reconnecting = undefined));
    }, delay);
  }

  async #tryReconnect(): Promise<void> {
    if (this.#state !== 'down') return;
    this.#reconnectAttempts++;
    try {
      await this.backend.disconnect();
      await this.backend.connect(this.#lost);
    } catch (err) {
      await this.backend.disconnect();
      this.#lastFailure = describeError(err);
      this.#log(
        'WARNING',
        `${this.description}: reconnection attempt ${this.#reconnectAttempts} failed (${this.#lastFailure}); retrying`,
      );
      this.#scheduleReconnect();
      return;
    }
    if (this.#state !== 'down') {
      await this.backend.disconnect();
      return;
    }
    this.#log(
      'NOTICE',
      `${this.description}: reconnected after ${this.#reconnectAttempts} attempt(s); ${this.#pending.length} queued removal(s) being applied`,
    );
    this.#reconnectAttempts = 0;
    this.#lastFailure = '';
    this.#state = 'up';
    this.#pump();
  }
}
