import {
  isGeneratedUniqueKey,
  type JobStore,
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
      readonly resolve: () => void;
      readonly reject: (err: Error) => void;
    }
  | {
      readonly kind: 'remove';
      readonly key: StoredJobKey;
      readonly resolve: () => void;
      readonly reject: (err: Error) => void;
    };

/*
 * Connection states:
 *
 *   new ──open()──▶ up ──connection lost──▶ down ──reconnected──▶ up
 *                    │                        │
 *                    └──────close()───────────┴──▶ closed
 *
 * In `up`, operations queue and are flushed once per event-loop turn (setImmediate), one
 * transaction per flush; while a flush is in flight, new operations wait for the next one, so
 * batches grow with the load. In `down`, `add` is refused at once (the server answers
 * QUEUE_ERROR and never acknowledges a job it could not keep), while removals stay queued and are
 * applied after reconnecting: a lost removal would make a finished job run again after a restart.
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

/** An add or a remove, as `coalesce` sees it. */
export type StoredJobKeyOperation =
  | { readonly kind: 'add'; readonly job: StoredJob }
  | { readonly kind: 'remove'; readonly key: StoredJobKey };

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
  #flushing: Promise<void> | undefined;
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
  /** Applies the batch in one transaction; resolves after COMMIT. */
  protected abstract commit(batch: Batch): Promise<void>;
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
    if (this.#state === 'new' || this.#state === 'closed')
      return Promise.reject(
        new StoreError('STORE_CLOSED', `${this.description}: the job queue is not open`),
      );
    if (this.#state === 'down') return Promise.reject(this.#unavailable());
    const refusal = this.refuse(job);
    if (refusal) return Promise.reject(refusal);
    return new Promise<void>((resolve, reject) => {
      this.#enqueue({ kind: 'add', job, resolve, reject });
    });
  }

  remove(key: StoredJobKey): Promise<void> {
    if (this.#state === 'new' || this.#state === 'closed')
      return Promise.reject(
        new StoreError('STORE_CLOSED', `${this.description}: the job queue is not open`),
      );
    return new Promise<void>((resolve, reject) => {
      this.#enqueue({ kind: 'remove', key, resolve, reject });
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
    for (let round = 0; round < 100 && (this.#flushing || this.#pending.length > 0); round++) {
      if (this.#state === 'down') break;
      await (this.#flushing ?? this.#flush());
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
      for (const op of leftover) op.reject(err);
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
    if (this.#flushScheduled || this.#flushing || this.#state !== 'up') return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      if (!this.#flushing) void this.#flush();
    });
  }

  #flush(): Promise<void> {
    const run = async (): Promise<void> => {
      try {
        while (this.#pending.length > 0 && this.#state === 'up') {
          await this.#apply(this.#pending.splice(0, this.#policy.maxBatch));
        }
      } finally {
        this.#flushing = undefined;
      }
    };
    this.#flushing = run();
    return this.#flushing;
  }

  async #apply(ops: Operation[]): Promise<void> {
    if (this.#state !== 'up') {
      this.#deferForOutage(ops);
      return;
    }
    try {
      await this.commit(coalesce(ops));
      this.commits++;
      for (const op of ops) op.resolve();
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
      if (!op) return;
      const code: StoreErrorCode = this.isTooLargeError(err) ? 'JOB_TOO_LARGE' : 'STORE_FAILED';
      const what =
        op.kind === 'add'
          ? `cannot store job ${op.job.functionName}/${op.job.uniqueKey}`
          : `cannot delete job ${op.key.functionName}/${op.key.uniqueKey}`;
      const failure = new StoreError(code, `${this.description}: ${what}: ${describeError(err)}`, {
        cause: err,
      });
      this.log('ERROR', failure.message);
      op.reject(failure);
    }
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
        op.reject(this.#unavailable());
        requeue.push({ kind: 'remove', key: op.job, resolve: () => {}, reject: () => {} });
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
    if (this.#pending.length > 0 && !this.#flushing) void this.#flush();
  }
}
