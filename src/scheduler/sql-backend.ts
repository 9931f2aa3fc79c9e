import { setTimeout as sleep } from 'node:timers/promises';

/** A result row, column name to value, as the driver returns it. */
export type SqlRow = Record<string, unknown>;

/** Runs statements on one connection (inside a transaction) or on the pool. */
export interface SqlExecutor {
  /** Runs a statement with `?` placeholders and returns its rows. */
  query(sql: string, params?: readonly unknown[]): Promise<SqlRow[]>;
  /** Runs a statement and returns the number of rows it changed. */
  execute(sql: string, params?: readonly unknown[]): Promise<number>;
  /**
   * Runs an INSERT that may be skipped by a unique key (`INSERT_IGNORE` in the SQL is replaced by
   * the dialect's form); resolves to the new row's `id`, or null when it was skipped.
   */
  insertIgnore(sql: string, params: readonly unknown[]): Promise<string | null>;
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

/** The SQL the dialects spell differently. */
export interface SqlDialect {
  readonly name: 'postgres' | 'mysql' | 'sqlite';
  /** An expression for the database's clock in Unix milliseconds. */
  readonly nowMs: string;
  /** Appended to a claim's SELECT: `FOR UPDATE SKIP LOCKED`, or nothing on SQLite. */
  readonly lockRows: string;
  /** The CREATE TABLE / CREATE INDEX statements for `table`. */
  schema(table: string): string[];
}

/**
 * A database as the SQL store needs it: a pool, transactions that retry on deadlock or
 * serialization failure, and (PostgreSQL) notifications.
 */
export interface SqlBackend extends SqlExecutor {
  readonly dialect: SqlDialect;
  readonly description: string;
  /**
   * Runs `work` in one transaction on one connection and commits; rolls back if it throws. The
   * transaction begins with its first statement (a transaction that runs none costs nothing).
   */
  transaction<T>(work: (tx: SqlTransaction) => Promise<T>): Promise<T>;
  /** True for a unique-key violation. */
  isUniqueViolation(err: unknown): boolean;
  /** Sends `payload` on `channel` when the current transaction commits (PostgreSQL only). */
  notifySql?(channel: string): string;
  /** Listens on `channel`; resolves to a function that stops. PostgreSQL only. */
  listen?(channel: string, listener: (payload: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/**
 * The pool-level statements of a networked backend: each one runs on any pooled connection,
 * through the executor the subclass builds over its driver's pool.
 */
export abstract class PooledSqlBackend implements SqlExecutor {
  protected abstract readonly pooled: SqlExecutor;

  query(sql: string, params?: readonly unknown[]): Promise<SqlRow[]> {
    return this.pooled.query(sql, params);
  }
  execute(sql: string, params?: readonly unknown[]): Promise<number> {
    return this.pooled.execute(sql, params);
  }
  insertIgnore(sql: string, params: readonly unknown[]): Promise<string | null> {
    return this.pooled.insertIgnore(sql, params);
  }
}

/** A table name that is safe to splice into SQL. */
export function checkTableName(table: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(table))
    throw new Error(`invalid table name '${table}': use letters, digits and _ (at most 63)`);
  return table;
}

/** Deadlocks and serialization failures are retried this many times in all. */
const MAX_TRANSACTION_ATTEMPTS = 8;

/**
 * Runs one transaction attempt after another while `retryable` says the failure was a deadlock
 * or serialization failure, with a short random pause so the two sides do not collide again.
 */
export async function retryingTransaction<T>(
  attempt: () => Promise<T>,
  retryable: (err: unknown) => boolean,
): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (err) {
      if (n >= MAX_TRANSACTION_ATTEMPTS || !retryable(err)) throw err;
      await sleep(Math.random() * 10 * n);
    }
  }
}
