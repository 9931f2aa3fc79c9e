import mysql from 'mysql2/promise';
import {
  retryingTransaction,
  type SqlBackend,
  type SqlDialect,
  type SqlExecutor,
  type SqlRow,
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

interface Queryable {
  query(options: { sql: string; timeout: number }, params: unknown[]): Promise<[unknown, unknown]>;
}

/** The longest any statement may take before it fails. */
const QUERY_TIMEOUT_MS = 30_000;

function executor(db: Queryable): SqlExecutor {
  return {
    async query(sql, params = []) {
      const [rows] = await db.query({ sql, timeout: QUERY_TIMEOUT_MS }, [...params]);
      return rows as SqlRow[];
    },
    async execute(sql, params = []) {
      const [result] = await db.query({ sql, timeout: QUERY_TIMEOUT_MS }, [...params]);
      return (result as mysql.ResultSetHeader).affectedRows;
    },
    async insertIgnore(sql, params) {
      const [result] = await db.query(
        { sql: sql.replace('INSERT_IGNORE', 'INSERT IGNORE'), timeout: QUERY_TIMEOUT_MS },
        [...params],
      );
      const header = result as mysql.ResultSetHeader;
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
    this.pooled = executor(this.pool);
    this.description = `mysql:${u.pathname.slice(1)}`;
  }

  transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return retryingTransaction(
      async () => {
        const conn = await this.pool.getConnection();
        try {
          await conn.query('START TRANSACTION');
          const result = await work(executor(conn));
          await conn.query('COMMIT');
          conn.release();
          return result;
        } catch (err) {
          const rolledBack = await conn.query('ROLLBACK').then(
            () => true,
            () => false,
          );
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
