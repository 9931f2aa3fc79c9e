import {
  isGeneratedUniqueKey,
  type JobStore,
  type Settled,
  type StoredJob,
  type StoredJobKey,
} from './job-store.js';
import {
  describeError,
  silentLogger,
  StoreError,
  type StoreErrorCode,
  type StoreLogger,
} from './store-error.js';

/** One transaction's worth of work, with at most one operation per key. */
export interface Batch {
  /** Rows to insert, or to replace when the key exists. */
  readonly upserts: readonly StoredJob[];
  /** Rows to delete; a missing row is not an error. */
  readonly deletes: readonly StoredJobKey[];
}

/** How long to wait between reconnection attempts. */
export interface ReconnectPolicy {
  /** The first delay, in milliseconds. */
  readonly initialDelayMs: number;
  /** The longest delay, in milliseconds. */
  readonly maxDelayMs: number;
}

/** Options every backend accepts. */
export interface BatchingStoreOptions {
  readonly log?: StoreLogger;
  readonly reconnect?: Partial<ReconnectPolicy>;
  /**
   * The most operations one transaction takes (default: no limit). Everything queued goes out, in
   * order, but capped transactions keep acknowledgements flowing steadily under heavy load
   * instead of the whole window of in-flight submissions moving in lock-step.
   */
  readonly maxBatch?: number;
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
 * per flush. A backend takes a number of batches at a time (`commitsInFlight`, 1 unless it
 * applies batches strictly in the order given); while that many are in flight, new operations
 * wait and go out together when one finishes, so batches grow with the load. In `down`, `add` is
 * refused at once (the server answers QUEUE_ERROR and never acknowledges a job it could not
 * keep), while removals stay queued and are applied after reconnecting: a lost removal would make
 * a finished job run again after a restart.
 */
type State = 'new' | 'up' | 'down' | 'closed';

function keyOf(key: StoredJobKey): string {
  return `${key.functionName}\u0000${key.uniqueKey}`;
}

/**
 * Reduces operations in call order to their end state: the last operation on a key wins, which
 * is what applying them one by one would leave (an add then a remove leaves no row).
 */
export function coalesce(operations: readonly StoredJobKeyOperation[]): Batch {
  const last = new Map<string, StoredJobKeyOperation>();
  for (const op of operations) {
    const key = op.kind === 'add' ? op.job : op.key;
    const id = keyOf(key);
    // Delete first so the map's order is the order of each key's last operation.
    last.delete(id);
    last.set(id, op);
  }
  const upserts: StoredJob[] = [];
  const deletes: StoredJobKey[] = [];
  for (const op of last.values()) {
    if (op.kind === 'add') upserts.push(op.job);
    else deletes.push(op.key);
  }
  return { upserts, deletes };
}

/** An add or a remove, as `coalesce` and `commitInOrder` see it. */
export type StoredJobKeyOperation =
  | { readonly kind: 'add'; readonly job: StoredJob }
  | { readonly kind: 'remove'; readonly key: StoredJobKey };

/**
 * What `commitInOrder` reports: `undefined` when every operation committed, otherwise one entry
 * per operation, in order — `undefined` for one that committed, its error for one that did not.
 */
export type InOrderOutcome = readonly (Error | undefined)[] | undefined;

/**
 * The part every backend shares: queueing, group commit, isolating a bad job, refusing adds
 * while the database is unreachable, reconnecting with backoff and jitter, keeping removals
 * until they are applied, and flushing on close. A backend supplies the database work.
 */
export abstract class BatchingStore implements JobStore {
  abstract readonly description: string;
  /** Transactions committed so far (for tests and metrics). */
  commits = 0;

  protected readonly log: StoreLogger;
  readonly #policy: ReconnectPolicy & { readonly maxBatch: number };
  #state: State = 'new';
  #pending: Operation[] = [];
  #flushScheduled = false;
  /** Batches handed to the backend and not settled yet (eager ones included). */
  #inFlight = 0;
  /** Turn-ending batches in flight: what `commitsInFlight` limits. */
  #turnsInFlight = 0;
  /** An eager batch went out since the last turn-ending one, so the turn is still to be ended. */
  #turnOpen = false;
  /** Called when the last batch in flight settles. */
  #idleWaiters: (() => void)[] = [];
  #reconnectTimer: NodeJS.Timeout | undefined;
  #reconnectAttempts = 0;
  #reconnecting: Promise<void> | undefined;
  #lastFailure = '';

  protected constructor(options: BatchingStoreOptions = {}) {
    this.log = options.log ?? silentLogger;
    this.#policy = {
      initialDelayMs: options.reconnect?.initialDelayMs ?? 100,
      maxDelayMs: options.reconnect?.maxDelayMs ?? 10_000,
      maxBatch: Math.max(1, options.maxBatch ?? Number.MAX_SAFE_INTEGER),
    };
  }

  /** Connects (a fresh connection each time) and makes sure the table exists. */
  protected abstract connect(): Promise<void>;
  /** Drops the connection, if any; must not throw. */
  protected abstract disconnect(): Promise<void>;
  /**
   * Applies the batch in one transaction; resolves after COMMIT. Every backend has this or
   * `commitInOrder`.
   */
  protected commit?(batch: Batch): Promise<void>;
  /**
   * For a backend that applies what it is given strictly in call order (one writer):
   * applies the operations as they are, uncoalesced, and reports a failure per operation instead
   * of failing them all — it isolates a bad job itself, so its neighbours and later batches keep
   * their order. Rejects when the connection or the transaction is lost. When present it is used
   * instead of `commit`, and the backend counts its own transactions in `commits`.
   *
   * `endsTurn` false marks an eager batch, sent while the caller's event-loop turn is still
   * queueing operations (every EAGER_BATCH of them) so the database starts early: it is applied
   * but not committed; it commits with the next turn-ending batch, and settles then. So a turn's
   * operations still share one transaction. Up to `commitsInFlight` turn-ending batches may be in
   * flight at once; the backend may commit several together.
   */
  protected commitInOrder?(
    operations: readonly StoredJobKeyOperation[],
    endsTurn: boolean,
  ): Promise<InOrderOutcome>;
  /** How many turn-ending batches may be in flight at once; more than 1 only with `commitInOrder`. */
  protected get commitsInFlight(): number {
    return 1;
  }
  /** Every row, as stored (keys verbatim). */
  protected abstract rows(): AsyncIterable<StoredJob>;
  /** True when the error means the connection is gone (rather than this statement failing). */
  protected abstract isConnectionError(err: unknown): boolean;
  /** True when the error means a row was too large for the database. */
  protected isTooLargeError(_err: unknown): boolean {
    return false;
  }
  /** A reason to refuse this job before sending it, or undefined when it may be stored. */
  protected refuse(_job: StoredJob): StoreError | undefined {
    return undefined;
  }

  /** True while the database is reachable. */
  get available(): boolean {
    return this.#state === 'up';
  }

  async open(): Promise<void> {
    if (this.#state !== 'new')
      throw new StoreError('STORE_CLOSED', `${this.description}: open() called twice`);
    try {
      await this.connect();
    } catch (err) {
      await this.disconnect();
      throw new StoreError(
        'STORE_UNAVAILABLE',
        `${this.description}: cannot open the job queue: ${describeError(err)}`,
        { cause: err },
      );
    }
    this.#state = 'up';
    this.log('INFO', `${this.description}: job queue open`);
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
          : this.refuse(job);
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
    for await (const row of this.rows()) {
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
      this.log(
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
    await this.disconnect();
    this.log('INFO', `${this.description}: job queue closed`);
  }

  /**
   * Called by a backend when its connection reports an error while idle, so that adds are
   * refused at once instead of failing one transaction later.
   */
  protected connectionLost(err: unknown): void {
    if (this.#state !== 'up') return;
    this.#lastFailure = describeError(err);
    this.#state = 'down';
    this.log(
      'ERROR',
      `${this.description}: connection lost (${this.#lastFailure}); background submissions are refused until it is back; reconnecting`,
    );
    void this.disconnect();
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

  /** Whether batches go out before the turn ends (in-order backends, transactions not capped). */
  get #eager(): boolean {
    return this.commitInOrder !== undefined && this.#policy.maxBatch === Number.MAX_SAFE_INTEGER;
  }

  /**
   * Ends the turn: hands what is queued to the backend as turn-ending batches, as many as it
   * takes at a time (an empty one when eager batches went out and nothing is left, so that their
   * transaction commits).
   */
  #pump(): void {
    const limit = this.commitInOrder ? Math.max(1, this.commitsInFlight) : 1;
    while (
      (this.#pending.length > 0 || this.#turnOpen) &&
      this.#state === 'up' &&
      this.#turnsInFlight < limit
    ) {
      this.#send(this.#pending.splice(0, this.#policy.maxBatch), true);
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
    if (this.commitInOrder) {
      await this.#applyInOrder(ops, endsTurn, this.commitInOrder.bind(this));
      return;
    }
    try {
      if (!this.commit) throw new Error(`${this.description}: the backend cannot commit`);
      await this.commit(coalesce(ops));
      this.commits++;
      for (const op of ops) op.settled(undefined, op.tag);
      return;
    } catch (err) {
      if (this.isConnectionError(err) || this.#state !== 'up') {
        this.connectionLost(err);
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

  async #applyInOrder(
    ops: Operation[],
    endsTurn: boolean,
    commitInOrder: NonNullable<BatchingStore['commitInOrder']>,
  ): Promise<void> {
    let outcome: InOrderOutcome;
    try {
      outcome = await commitInOrder(ops, endsTurn);
    } catch (err) {
      this.connectionLost(err);
      this.#deferForOutage(ops);
      return;
    }
    const lost = outcome?.find((err) => err !== undefined && this.isConnectionError(err));
    if (lost) {
      // The file or the disk failed under these operations: their outcome is not to be trusted.
      this.connectionLost(lost);
      this.#deferForOutage(ops);
      return;
    }
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i] as Operation;
      const err = outcome?.[i];
      if (err === undefined) op.settled(undefined, op.tag);
      else this.#fail(op, err);
    }
  }

  /** Rejects one operation the database refused, with a clear error, and logs it. */
  #fail(op: Operation, err: unknown): void {
    const code: StoreErrorCode = this.isTooLargeError(err) ? 'JOB_TOO_LARGE' : 'STORE_FAILED';
    const what =
      op.kind === 'add'
        ? `cannot store job ${op.job.functionName}/${op.job.uniqueKey}`
        : `cannot delete job ${op.key.functionName}/${op.key.uniqueKey}`;
    const failure = new StoreError(code, `${this.description}: ${what}: ${describeError(err)}`, {
      cause: err,
    });
    this.log('ERROR', failure.message);
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
    const { initialDelayMs, maxDelayMs } = this.#policy;
    const ceiling = Math.min(
      maxDelayMs,
      initialDelayMs * 2 ** Math.min(this.#reconnectAttempts, 20),
    );
    // Full jitter on the upper half, so many servers do not reconnect in step.
    const delay = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      this.#reconnecting = this.#tryReconnect().finally(() => (this.#reconnecting = undefined));
    }, delay);
  }

  async #tryReconnect(): Promise<void> {
    if (this.#state !== 'down') return;
    this.#reconnectAttempts++;
    try {
      await this.disconnect();
      await this.connect();
    } catch (err) {
      await this.disconnect();
      this.#lastFailure = describeError(err);
      this.log(
        'WARNING',
        `${this.description}: reconnection attempt ${this.#reconnectAttempts} failed (${this.#lastFailure}); retrying`,
      );
      this.#scheduleReconnect();
      return;
    }
    if (this.#state !== 'down') {
      await this.disconnect();
      return;
    }
    this.log(
      'NOTICE',
      `${this.description}: reconnected after ${this.#reconnectAttempts} attempt(s); ${this.#pending.length} queued removal(s) being applied`,
    );
    this.#reconnectAttempts = 0;
    this.#lastFailure = '';
    this.#state = 'up';
    this.#pump();
  }
}
