import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { classifySqlError, type SqlErrorKind } from '../sql/sql-errors.js';
import { checkTableName } from '../sql/table-name.js';
import { BatchingStore, type BatchingStoreOptions } from './batching-store.js';
import type { StoredJob } from './job-store.js';
import { QUEUE_COLUMNS, rowToJob } from './row.js';
import { packOperations } from './sqlite-batch.js';
import type { InOrderBackend, InOrderResult, StoredJobKeyOperation } from './store-backend.js';
import { silentLogger, StoreError, type StoreLogger } from './store-error.js';

/** Where and how the SQLite queue lives. */
export interface SqliteStoreOptions extends BatchingStoreOptions {
  /** The database file; its folder is created if missing. */
  readonly file: string;
  /** The table (gearmand's `--libsqlite3-table`), default `gearman_queue`. */
  readonly table?: string;
}

// SQLite's default SQLITE_MAX_LENGTH: no string or blob may be longer than this.
const SQLITE_MAX_LENGTH = 1_000_000_000;
const THREAD_GONE = 'SQLite thread stopped';
/**
 * Turns whose batches may be at the writer thread before the first is answered. The thread
 * takes turns that have queued up meanwhile into one transaction, so the server keeps filling
 * the next turn while a commit waits for its fsync instead of waiting in lock-step.
 */
const BATCHES_IN_FLIGHT = 8;

/** rowid, unique_key, function_name, priority, data, when_to_run, reducer. */
type SqliteRow = [number, unknown, unknown, unknown, unknown, unknown, unknown];

interface ThreadError {
  readonly message: string;
  readonly code?: string;
}

interface ThreadReply {
  readonly id?: number;
  readonly ready?: boolean;
  readonly warning?: string;
  readonly error?: ThreadError;
  readonly transactions?: number;
  readonly failures?: readonly [number, ThreadError][];
}

interface Waiter {
  resolve(result: InOrderResult): void;
  reject(err: Error): void;
}

function threadError(error: ThreadError): Error {
  return Object.assign(new Error(error.message), error.code ? { code: error.code } : {});
}

/** The thread's answer to a batch as `commitInOrder` reports it. */
function resultOf(reply: ThreadReply): InOrderResult {
  const transactions = reply.transactions ?? 0;
  if (!reply.failures) return { failures: undefined, transactions };
  const failures: (Error | undefined)[] = [];
  for (const [index, error] of reply.failures) failures[index] = threadError(error);
  return { failures, transactions };
}

/**
 * gearmand's `libsqlite3` queue: the same table (`unique_key TEXT, function_name TEXT,
 * priority INTEGER, data BLOB, when_to_run INTEGER, PRIMARY KEY(unique_key,function_name))`, so
 * gearmand's file can be taken over, plus one nullable `reducer` column of ours that gearmand
 * ignores (it names its columns). WAL journal with `synchronous=FULL`: a committed transaction
 * survives power loss, and WAL makes that one fsync of the log per transaction — with group
 * commit, one fsync per batch rather than per job. The writes run on a worker thread, so the
 * fsync wait overlaps with the server's work, and batches travel there packed in one transferred
 * buffer each (sqlite-batch.ts); replay reads on the calling thread.
 */
export class SqliteBackend implements InOrderBackend {
  readonly order = 'in-order';
  readonly turnsInFlight = BATCHES_IN_FLIGHT;
  readonly description: string;
  readonly #file: string;
  readonly #table: string;
  readonly #log: StoreLogger;
  #thread: Worker | undefined;
  #nextId = 1;
  readonly #waiting = new Map<number, Waiter>();

  constructor(options: SqliteStoreOptions) {
    this.#file = options.file;
    this.#log = options.log ?? silentLogger;
    this.#table = checkTableName(options.table ?? 'gearman_queue');
    this.description = `sqlite:${this.#file} (table ${this.#table})`;
  }

  async connect(lost: (err: unknown) => void): Promise<void> {
    const thread = new Worker(new URL('./sqlite-thread.js', import.meta.url), {
      workerData: { file: this.#file, table: this.#table },
    });
    try {
      await new Promise<void>((resolve, reject) => {
        thread.once('message', (reply: ThreadReply) => {
          if (reply.ready) resolve();
          else reject(threadError(reply.error ?? { message: 'SQLite thread failed to open' }));
        });
        thread.once('error', reject);
        thread.once('exit', (code) =>
          reject(new Error(`${THREAD_GONE} while opening (exit ${code})`)),
        );
      });
    } catch (err) {
      // A thread that could not open the file has nothing to close.
      await thread.terminate();
      throw err;
    }
    this.#thread = thread;
    thread.on('message', (reply: ThreadReply) => {
      if (reply.warning !== undefined)
        this.#log('WARNING', `${this.description}: ${reply.warning}`);
      if (reply.id === undefined) return;
      const waiter = this.#waiting.get(reply.id);
      this.#waiting.delete(reply.id);
      if (reply.error) waiter?.reject(threadError(reply.error));
      else waiter?.resolve(resultOf(reply));
    });
    const gone = (err: Error): void => {
      for (const waiter of this.#waiting.values()) waiter.reject(err);
      this.#waiting.clear();
      if (thread === this.#thread) {
        this.#thread = undefined;
        lost(err);
      }
    };
    thread.on('error', (err) => gone(err));
    thread.on('exit', (code) => gone(new Error(`${THREAD_GONE} (exit ${code})`)));
  }

  #send(message: object, transfer?: ArrayBuffer[]): Promise<InOrderResult> {
    const thread = this.#thread;
    if (!thread) return Promise.reject(new Error(`${THREAD_GONE}: not open`));
    const id = this.#nextId++;
    return new Promise<InOrderResult>((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      thread.postMessage({ id, ...message }, transfer);
    });
  }

  async disconnect(): Promise<void> {
    const thread = this.#thread;
    if (!thread) return;
    try {
      // Let it finish what it has and close the file cleanly.
      await Promise.race([
        this.#send({ close: true }),
        new Promise((resolve) => setTimeout(resolve, 5000).unref()),
      ]);
    } catch {
      // Already failing: terminate below.
    }
    this.#thread = undefined;
    await thread.terminate();
  }

  commitInOrder(
    operations: readonly StoredJobKeyOperation[],
    endsTurn: boolean,
  ): Promise<InOrderResult> {
    if (operations.length === 0) return this.#send({ endsTurn });
    const packed = packOperations(operations);
    return this.#send({ packed, endsTurn }, [packed.buffer]);
  }

  async *rows(): AsyncIterable<StoredJob> {
    // A reader of its own: in WAL mode it sees every committed row while the thread writes.
    const db = new Database(this.#file, { readonly: true, fileMustExist: true });
    try {
      // rowid order is insertion order (a replaced row gets a new rowid), so replay keeps FIFO.
      // Chunks by rowid rather than one open iterator, so the event loop runs between them.
      // Rows as arrays (no per-row object with named keys): a third faster on a big queue.
      const select = db
        .prepare(
          `SELECT rowid, ${QUEUE_COLUMNS.join(', ')} FROM ${this.#table} WHERE rowid > ? ORDER BY rowid LIMIT 5000`,
        )
        .raw(true);
      let after = -Infinity;
      for (let chunk = 0; chunk < Number.MAX_SAFE_INTEGER; chunk++) {
        const rows = select.all(after) as SqliteRow[];
        const last = rows[rows.length - 1];
        if (!last) return;
        after = last[0];
        for (const [, unique, fn, priority, data, when, reducer] of rows) {
          yield rowToJob(fn, unique, priority, data, when, reducer);
        }
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } finally {
      db.close();
    }
  }

  classify(err: unknown): SqlErrorKind {
    return classifySqlError('sqlite', err);
  }

  refuse(job: StoredJob): StoreError | undefined {
    if (job.data.length < SQLITE_MAX_LENGTH) return undefined;
    return new StoreError(
      'JOB_TOO_LARGE',
      `${this.description}: job ${job.functionName}/${job.uniqueKey} is ${job.data.length} bytes; SQLite stores at most ${SQLITE_MAX_LENGTH - 1}`,
    );
  }
}

/** The SQLite queue: {@link BatchingStore} over a {@link SqliteBackend}. */
export class SqliteStore extends BatchingStore<SqliteBackend> {
  constructor(options: SqliteStoreOptions) {
    super(new SqliteBackend(options), options);
  }
}
