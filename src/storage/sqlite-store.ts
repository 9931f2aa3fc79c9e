import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { BatchingStore, type Batch, type BatchingStoreOptions } from './batching-store.js';
import type { StoredJob } from './job-store.js';
import { checkTableName, rowToJob } from './row.js';
import { StoreError } from './store-error.js';

/** Where and how the SQLite queue lives. */
export interface SqliteStoreOptions extends BatchingStoreOptions {
  /** The database file; its folder is created if missing. */
  readonly file: string;
  /** The table (gearmand's `--libsqlite3-table`), default `gearman_queue`. */
  readonly table?: string;
}

// SQLite's default SQLITE_MAX_LENGTH: no string or blob may be longer than this.
const SQLITE_MAX_LENGTH = 1_000_000_000;

interface SqliteRow {
  row_id: number;
  unique_key: unknown;
  function_name: unknown;
  priority: unknown;
  data: unknown;
  when_to_run: unknown;
  reducer: unknown;
}

/**
 * gearmand's `libsqlite3` queue: the same table (`unique_key TEXT, function_name TEXT,
 * priority INTEGER, data BLOB, when_to_run INTEGER, PRIMARY KEY(unique_key,function_name)`), so
 * gearmand's file can be taken over, plus one nullable `reducer` column of ours that gearmand
 * ignores (it names its columns). WAL journal with `synchronous=FULL`: a committed transaction
 * survives power loss, and WAL makes that one fsync of the log per transaction — with group
 * commit, one fsync per event-loop turn rather than per job.
 */
export class SqliteStore extends BatchingStore {
  readonly description: string;
  readonly #file: string;
  readonly #table: string;
  #db: Database.Database | undefined;
  #transaction: ((batch: Batch) => void) | undefined;

  constructor(options: SqliteStoreOptions) {
    super(options);
    this.#file = options.file;
    this.#table = checkTableName(options.table ?? 'gearman_queue');
    this.description = `sqlite:${this.#file} (table ${this.#table})`;
  }

  protected connect(): Promise<void> {
    if (this.#file !== ':memory:') mkdirSync(dirname(this.#file), { recursive: true });
    const db = new Database(this.#file);
    this.#db = db;
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('busy_timeout = 5000');
    const t = this.#table;
    db.exec(
      `CREATE TABLE IF NOT EXISTS ${t} (unique_key TEXT, function_name TEXT, priority INTEGER, data BLOB, when_to_run INTEGER, PRIMARY KEY(unique_key,function_name))`,
    );
    const columns = new Set(
      (db.pragma(`table_info(${t})`) as { name: string }[]).map((c) => c.name.toLowerCase()),
    );
    // Tables of gearmand before 0.x had no when_to_run; gearmand adds it the same way.
    if (!columns.has('when_to_run')) db.exec(`ALTER TABLE ${t} ADD COLUMN when_to_run INTEGER`);
    if (!columns.has('reducer')) db.exec(`ALTER TABLE ${t} ADD COLUMN reducer TEXT`);
    const insert = db.prepare(
      `INSERT OR REPLACE INTO ${t} (unique_key, function_name, priority, data, when_to_run, reducer) VALUES (?, ?, ?, ?, ?, ?)`,
    );
    const remove = db.prepare(`DELETE FROM ${t} WHERE unique_key = ? AND function_name = ?`);
    this.#transaction = db.transaction((batch: Batch) => {
      for (const key of batch.deletes) remove.run(key.uniqueKey, key.functionName);
      for (const job of batch.upserts) {
        insert.run(
          job.uniqueKey,
          job.functionName,
          job.priority,
          job.data,
          job.whenToRun,
          job.reducer ?? null,
        );
      }
    });
    return Promise.resolve();
  }

  protected disconnect(): Promise<void> {
    const db = this.#db;
    this.#db = undefined;
    this.#transaction = undefined;
    try {
      if (db?.open) db.close();
    } catch {
      // Closing a broken handle: nothing more to do.
    }
    return Promise.resolve();
  }

  protected commit(batch: Batch): Promise<void> {
    const transaction = this.#transaction;
    if (!transaction) return Promise.reject(new Error('database closed'));
    // The executor's throw becomes the rejection, keeping SQLite's error (and its code).
    return new Promise<void>((resolve) => {
      transaction(batch);
      resolve();
    });
  }

  protected async *rows(): AsyncIterable<StoredJob> {
    const db = this.#db;
    if (!db) throw new Error('database closed');
    // rowid order is insertion order (a replaced row gets a new rowid), so replay keeps FIFO.
    // Chunks by rowid rather than one open iterator: better-sqlite3 refuses other statements on
    // the connection while an iterator is open, and commits may run between chunks.
    const select = db.prepare(
      `SELECT rowid AS row_id, unique_key, function_name, priority, data, when_to_run, reducer FROM ${this.#table} WHERE rowid > ? ORDER BY rowid LIMIT 5000`,
    );
    let after = -Infinity;
    for (let chunk = 0; chunk < Number.MAX_SAFE_INTEGER; chunk++) {
      const rows = select.all(after) as SqliteRow[];
      const last = rows[rows.length - 1];
      if (!last) return;
      after = last.row_id;
      for (const row of rows) {
        yield rowToJob(
          row.function_name,
          row.unique_key,
          row.priority,
          row.data,
          row.when_to_run,
          row.reducer,
        );
      }
      // Let the event loop run between chunks so a long replay does not starve the server.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  protected isConnectionError(err: unknown): boolean {
    const code = (err as { code?: unknown }).code;
    return (
      typeof code === 'string' && /^SQLITE_(IOERR|FULL|CANTOPEN|NOTADB|CORRUPT|READONLY)/.test(code)
    );
  }

  protected override isTooLargeError(err: unknown): boolean {
    return (err as { code?: unknown }).code === 'SQLITE_TOOBIG';
  }

  protected override refuse(job: StoredJob): StoreError | undefined {
    if (job.data.length < SQLITE_MAX_LENGTH) return undefined;
    return new StoreError(
      'JOB_TOO_LARGE',
      `${this.description}: job ${job.functionName}/${job.uniqueKey} is ${job.data.length} bytes; SQLite stores at most ${SQLITE_MAX_LENGTH - 1}`,
    );
  }
}
