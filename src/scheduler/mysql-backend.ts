import mysql from 'mysql2/promise';
import {
  retryingTransaction,
  type SqlBackend,
  type SqlDialect,
  type SqlExecutor,
  type SqlRow,
  type SqlTransaction,
  PooledSqlBackend,
} from './sql-backend.js';

const dialect: SqlDialect = {
  name: 'mysql',
  nowMs: `CAST(FLOOR(UNIX_TIMESTAMP(NOW(3)) * 1000) AS SIGNED)`,
  lockRows: 'FOR UPDATE SKIP LOCKED',
  schema: (t) => [
    `CREATE TABLE IF NOT EXISTS ${t} (
      id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
      function_name VARCHAR(512) NOT NULL,
      unique_key VARCHAR(255),
      active_unique VARCHAR(255),
      payload LONGBLOB NOT NULL,
      priority SMALLINT NOT NULL,
      background SMALLINT NOT NULL,
      run_at BIGINT NOT NULL,
      cron_expr VARCHAR(255),
      time_zone VARCHAR(64),
      schedule_id BIGINT,
      tick BIGINT,
      state VARCHAR(10) NOT NULL,
      attempts INT NOT NULL DEFAULT 0,
      max_attempts INT NOT NULL,
      backoff_ms BIGINT NOT NULL,
      claims INT NOT NULL DEFAULT 0,
      lease_until BIGINT,
      lease_owner VARCHAR(128),
      last_error TEXT,
      created_at BIGINT NOT NULL,
      updated_at BIGINT NOT NULL,
      finished_at BIGINT,
      UNIQUE KEY ${t}_active (function_name, active_unique),
      UNIQUE KEY ${t}_tick (schedule_id, tick),
      KEY ${t}_due (state, run_at),
      KEY ${t}_lease (state, lease_until)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
  ],
};

const RETRYABLE = new Set([1213, 1205]); // deadlock, lock wait timeout

function errnoOf(err: unknown): number | undefined {
  return typeof err === 'object' && err !== null && 'errno' in err ? Number(err.errno) : undefined;
}

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
    async insertIgnore(sql, params) {
      const header = (await send(sql.replace('INSERT_IGNORE', 'INSERT IGNORE'), [
        ...params,
      ])) as mysql.ResultSetHeader;
      return header.affectedRows === 1 ? String(header.insertId) : null;
    },
  };
}

/**
 * MySQL or MariaDB through mysql2. Every session runs READ COMMITTED (so SKIP LOCKED takes no gap
 * locks) in UTC; SKIP LOCKED needs MySQL 8.0 or MariaDB 10.6.
 */
export class MysqlBackend extends PooledSqlBackend implements SqlBackend {
  readonly dialect = dialect;
  readonly description: string;
  private readonly pool: mysql.Pool;
  protected readonly pooled: SqlExecutor;

  constructor(url: string, poolSize = 4) {
    super();
    const u = new URL(url);
    this.pool = mysql.createPool({
      host: u.hostname,
      port: Number(u.port || 3306),
      user: decodeURIComponent(u.username),
      password: decodeURIComponent(u.password),
      database: u.pathname.slice(1),
      connectionLimit: poolSize,
      supportBigNumbers: true,
      connectTimeout: 10_000,
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
    this.description = `mysql:${u.pathname.slice(1)}`;
  }

  transaction<T>(work: (tx: SqlTransaction) => Promise<T>): Promise<T> {
    return retryingTransaction(
      async () => {
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
      },
      (err) => RETRYABLE.has(errnoOf(err) ?? 0),
    );
  }

  isUniqueViolation(err: unknown): boolean {
    return errnoOf(err) === 1062;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
