import Database from 'better-sqlite3';
import type { SqlBackend, SqlDialect, SqlExecutor, SqlRow, SqlTransaction } from './sql-backend.js';

const dialect: SqlDialect = {
  name: 'sqlite',
  // A function of our own, so that tests can run the store on a fake clock.
  nowMs: `gearbox_now_ms()`,
  // One writer at a time (BEGIN IMMEDIATE), so there is nothing to skip.
  lockRows: '',
  schema: (t) => [
    `CREATE TABLE IF NOT EXISTS ${t} (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      function_name TEXT NOT NULL,
      unique_key TEXT,
      active_unique TEXT,
      payload BLOB NOT NULL,
      priority INTEGER NOT NULL,
      background INTEGER NOT NULL,
      run_at INTEGER NOT NULL,
      cron_expr TEXT,
      time_zone TEXT,
      schedule_id INTEGER,
      tick INTEGER,
      state TEXT NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0,
      max_attempts INTEGER NOT NULL,
      backoff_ms INTEGER NOT NULL,
      claims INTEGER NOT NULL DEFAULT 0,
      lease_until INTEGER,
      lease_owner TEXT,
      last_error TEXT,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL,
      finished_at INTEGER,
      UNIQUE (function_name, active_unique),
      UNIQUE (schedule_id, tick))`,
    `CREATE INDEX IF NOT EXISTS ${t}_due ON ${t} (state, run_at)`,
    `CREATE INDEX IF NOT EXISTS ${t}_lease ON ${t} (state, lease_until)`,
  ],
};

/** SQLite's bindings take no booleans; everything else passes through. */
function bindable(params: readonly unknown[]): unknown[] {
  return params.map((p) => (typeof p === 'boolean' ? (p ? 1 : 0) : p));
}

/**
 * SQLite through better-sqlite3, for a single scheduler instance. Calls are synchronous, so a
 * transaction is simply BEGIN IMMEDIATE … COMMIT around work that does not yield to others:
 * the store's transactions await only this executor, whose promises are already resolved.
 */
export class SqliteBackend implements SqlBackend {
  readonly dialect = dialect;
  readonly description: string;
  private readonly db: Database.Database;
  private readonly direct: SqlExecutor;
  /** Serialises transactions: the awaits inside one must not interleave with another. */
  private queue: Promise<unknown> = Promise.resolve();

  /** `now` replaces the clock (for tests on fake time); by default the system's. */
  constructor(file: string, now: () => number = Date.now) {
    this.db = new Database(file);
    this.db.function('gearbox_now_ms', { deterministic: false }, () => Math.floor(now()));
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 5000');
    this.description = `sqlite:${file}`;
    const db = this.db;
    this.direct = {
      query: (sql, params = []) =>
        Promise.resolve(db.prepare(sql).all(...bindable(params)) as SqlRow[]),
      execute: (sql, params = []) =>
        Promise.resolve(db.prepare(sql).run(...bindable(params)).changes),
      insertIgnore: (sql, params) => {
        const info = db
          .prepare(sql.replace('INSERT_IGNORE', 'INSERT OR IGNORE'))
          .run(...bindable(params));
        return Promise.resolve(info.changes === 1 ? String(info.lastInsertRowid) : null);
      },
    };
  }

  query(sql: string, params?: readonly unknown[]): Promise<SqlRow[]> {
    return this.serial(() => this.direct.query(sql, params));
  }
  execute(sql: string, params?: readonly unknown[]): Promise<number> {
    return this.serial(() => this.direct.execute(sql, params));
  }
  insertIgnore(sql: string, params: readonly unknown[]): Promise<string | null> {
    return this.serial(() => this.direct.insertIgnore(sql, params));
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  transaction<T>(work: (tx: SqlTransaction) => Promise<T>): Promise<T> {
    // Statements run in process: there is no round trip to save, so the last one simply runs
    // and the COMMIT follows.
    const direct = this.direct;
    const tx: SqlTransaction = {
      ...direct,
      executeAndCommit: (sql, params) => direct.execute(sql, params),
    };
    return this.serial(async () => {
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const result = await work(tx);
        this.db.exec('COMMIT');
        return result;
      } catch (err) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw err;
      }
    });
  }

  isUniqueViolation(err: unknown): boolean {
    return (
      typeof err === 'object' &&
      err !== null &&
      'code' in err &&
      String(err.code).startsWith('SQLITE_CONSTRAINT')
    );
  }

  close(): Promise<void> {
    return this.serial(() => {
      this.db.close();
      return Promise.resolve();
    });
  }
}
