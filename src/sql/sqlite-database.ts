import Database from 'better-sqlite3';
import { sqliteDialect } from './dialect.js';
import type { SqlDatabase, SqlExecutor, SqlRow, SqlTransaction } from './sql-database.js';

/** SQLite's bindings take no booleans; everything else passes through. */
function bindable(params: readonly unknown[]): unknown[] {
  return params.map((p) => (typeof p === 'boolean' ? (p ? 1 : 0) : p));
}

/**
 * SQLite through better-sqlite3, for a single instance. Calls are synchronous, so a transaction
 * is simply BEGIN IMMEDIATE … COMMIT around work that does not yield to others: the work awaits
 * only this executor, whose promises are already resolved.
 */
export class SqliteDatabase implements SqlDatabase {
  readonly dialect = sqliteDialect;
  readonly description: string;
  private readonly db: Database.Database;
  private readonly direct: SqlExecutor;
  /** Serialises transactions: the awaits inside one must not interleave with another. */
  private queue: Promise<unknown> = Promise.resolve();

  /** `now` is the database's clock (`gearbox_now_ms()`; for tests on fake time); by default the system's. */
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
      insertIgnore: (table, row) => {
        const info = db
          .prepare(sqliteDialect.insertIgnore(table, Object.keys(row)))
          .run(...bindable(Object.values(row)));
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
  insertIgnore(table: string, row: Readonly<Record<string, unknown>>): Promise<string | null> {
    return this.serial(() => this.direct.insertIgnore(table, row));
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

  close(): Promise<void> {
    return this.serial(() => {
      this.db.close();
      return Promise.resolve();
    });
  }
}
