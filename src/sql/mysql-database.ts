import mysql from 'mysql2/promise';
import { mysqlDialect } from './dialect.js';
import { describeMysql, mysqlConnectionOptions, type MysqlConnection } from './mysql-connection.js';
import {
  retryingTransaction,
  type SqlDatabase,
  type SqlExecutor,
  type SqlRow,
  type SqlTransaction,
} from './sql-database.js';

/** The callback API of the connection the pool's `connection` event passes. */
interface CallbackConnection {
  query(sql: string, callback: (err: unknown) => void): unknown;
}

/** The longest any statement may take before it fails. */
const QUERY_TIMEOUT_MS = 30_000;

/** Statements over a function that sends one SQL text and returns the driver's result. */
function executor(send: (sql: string, params: unknown[]) => Promise<unknown>): SqlExecutor {
  return {
    async query(sql, params = []) {
      return (await send(sql, [...params])) as SqlRow[];
    },
    async execute(sql, params = []) {
      return ((await send(sql, [...params])) as mysql.ResultSetHeader).affectedRows;
    },
    async insertIgnore(table, row) {
      const sql = mysqlDialect.insertIgnore(table, Object.keys(row));
      const header = (await send(sql, Object.values(row))) as mysql.ResultSetHeader;
      return header.affectedRows === 1 ? String(header.insertId) : null;
    },
  };
}

/**
 * MySQL or MariaDB through mysql2. Every session runs READ COMMITTED (so SKIP LOCKED takes no gap
 * locks) in UTC; SKIP LOCKED needs MySQL 8.0 or MariaDB 10.6.
 */
export class MysqlDatabase implements SqlDatabase {
  readonly dialect = mysqlDialect;
  readonly description: string;
  private readonly pool: mysql.Pool;
  private readonly pooled: SqlExecutor;
  // The statements outside a transaction, each on any pooled connection.
  readonly query: SqlExecutor['query'] = (sql, params) => this.pooled.query(sql, params);
  readonly execute: SqlExecutor['execute'] = (sql, params) => this.pooled.execute(sql, params);
  readonly insertIgnore: SqlExecutor['insertIgnore'] = (t, row) => this.pooled.insertIgnore(t, row);

  constructor(connection: MysqlConnection, poolSize = 4) {
    this.pool = mysql.createPool({
      ...mysqlConnectionOptions(connection),
      connectionLimit: poolSize,
      enableKeepAlive: true,
      bigNumberStrings: false,
      // Transactions send START TRANSACTION with their first statement and COMMIT with their
      // last (two round trips fewer each). Every value is still escaped by the driver.
      multipleStatements: true,
    });
    // The pool hands out the underlying callback connection here (its typing says otherwise).
    // The statements are queued on it ahead of any of ours; a failure surfaces as the
    // connection's error on our first statement.
    this.pool.on('connection', (conn) => {
      const raw = conn as unknown as CallbackConnection;
      raw.query('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED', () => undefined);
      raw.query("SET time_zone = '+00:00'", () => undefined);
      // Waits are rare (claims skip locked rows); when one happens, give up sooner than the
      // default 50 s and let the caller retry.
      raw.query('SET SESSION innodb_lock_wait_timeout = 10', () => undefined);
    });
    this.pooled = executor(
      async (sql, params) => (await this.pool.query({ sql, timeout: QUERY_TIMEOUT_MS }, params))[0],
    );
    this.description = describeMysql(connection);
  }

  transaction<T>(work: (tx: SqlTransaction) => Promise<T>): Promise<T> {
    return retryingTransaction('mysql', async () => {
      const conn = await this.pool.getConnection();
      // START TRANSACTION travels with the first statement and COMMIT with executeAndCommit's,
      // as one multi-statement text each: a claim holds its rows locked across one round trip
      // to this process instead of two, and a one-statement transaction is one round trip.
      let state = 'idle' as 'idle' | 'open' | 'committed';
      const send = async (sql: string, params: unknown[], commit: boolean): Promise<unknown> => {
        if (state === 'committed') throw new Error('a statement after the transaction committed');
        const parts = state === 'idle' ? ['START TRANSACTION', sql] : [sql];
        const index = parts.length - 1;
        if (commit) parts.push('COMMIT');
        state = 'open';
        const [results] = await conn.query(
          { sql: parts.join(';\n'), timeout: QUERY_TIMEOUT_MS },
          params,
        );
        if (commit) state = 'committed';
        return parts.length === 1 ? results : (results as unknown[])[index];
      };
      const statements = executor((sql, params) => send(sql, params, false));
      const tx: SqlTransaction = {
        ...statements,
        async executeAndCommit(sql, params = []) {
          const header = (await send(sql, [...params], true)) as mysql.ResultSetHeader;
          return header.affectedRows;
        },
      };
      try {
        const result = await work(tx);
        if (state === 'open') await conn.query('COMMIT');
        conn.release();
        return result;
      } catch (err) {
        const rolledBack =
          state !== 'open' ||
          (await conn.query('ROLLBACK').then(
            () => true,
            () => false,
          ));
        if (rolledBack) conn.release();
        else conn.destroy();
        throw err;
      }
    });
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
