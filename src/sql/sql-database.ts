import { setTimeout as sleep } from 'node:timers/promises';
import type { SqlDialect } from './dialect.js';
import { classifySqlError, type SqlEngine } from './sql-errors.js';

/** A result row, column name to value, as the driver returns it. */
export type SqlRow = Record<string, unknown>;

/** Runs statements on one connection (inside a transaction) or on the pool. */
export interface SqlExecutor {
  /** Runs a statement with `?` placeholders and returns its rows. */
  query(sql: string, params?: readonly unknown[]): Promise<SqlRow[]>;
  /** Runs a statement and returns the number of rows it changed. */
  execute(sql: string, params?: readonly unknown[]): Promise<number>;
  /**
   * Inserts `row` (column to value) unless a unique key already has it
   * ({@link SqlDialect.insertIgnore}); resolves to the new row's `id`, or null when it was skipped.
   */
  insertIgnore(table: string, row: Readonly<Record<string, unknown>>): Promise<string | null>;
}

/** The statements of one transaction. */
export interface SqlTransaction extends SqlExecutor {
  /**
   * Runs the transaction's last statement and commits it, in one round trip where the driver
   * allows: MySQL sends the statement and COMMIT together, and a transaction of this one
   * statement only is sent as one autocommitted statement. Nothing may run after it. Resolves
   * to the number of rows changed.
   */
  executeAndCommit(sql: string, params?: readonly unknown[]): Promise<number>;
}

/** PostgreSQL's LISTEN/NOTIFY. */
export interface SqlNotifications {
  /** A statement that sends its one parameter on `channel` when the transaction commits. */
  notifySql(channel: string): string;
  /** Listens on `channel`; resolves to a function that stops. */
  listen(channel: string, listener: (payload: string) => void): Promise<() => Promise<void>>;
}

/**
 * A database: a pool of connections (one connection on SQLite), transactions that retry on
 * deadlock or serialization failure, and, where the database has them, notifications. The
 * statements run on any pooled connection.
 */
export interface SqlDatabase extends SqlExecutor {
  readonly dialect: SqlDialect;
  /** Where it is, for logs: `postgres:host:port/db`, `mysql:host:port/db`, `sqlite:<file>`. */
  readonly description: string;
  /** LISTEN/NOTIFY, on PostgreSQL only. */
  readonly notifications?: SqlNotifications;
  /**
   * Runs `work` in one transaction on one connection and commits; rolls back if it throws. The
   * transaction begins with its first statement (a transaction that runs none costs nothing).
   */
  transaction<T>(work: (tx: SqlTransaction) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** Deadlocks and serialization failures are retried this many times in all. */
const MAX_TRANSACTION_ATTEMPTS = 8;

/**
 * Runs one transaction attempt after another while the failure is a deadlock or a
 * serialization failure (`retry` in {@link classifySqlError}), with a short random pause that
 * grows with each attempt, so the two sides do not collide again.
 */
export async function retryingTransaction<T>(
  engine: SqlEngine,
  attempt: () => Promise<T>,
): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (err) {
      if (n >= MAX_TRANSACTION_ATTEMPTS || classifySqlError(engine, err) !== 'retry') throw err;
      await sleep(Math.random() * 10 * n);
    }
  }
}
