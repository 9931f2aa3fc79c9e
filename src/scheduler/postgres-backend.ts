import pg from 'pg';
import { SchedulerError } from './errors.js';
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
  name: 'postgres',
  nowMs: `(floor(extract(epoch from clock_timestamp()) * 1000)::bigint)`,
  lockRows: 'FOR UPDATE SKIP LOCKED',
  schema: (t) => [
    `CREATE TABLE IF NOT EXISTS ${t} (
      id BIGSERIAL PRIMARY KEY,
      function_name VARCHAR(512) NOT NULL,
      unique_key VARCHAR(255),
      active_unique VARCHAR(255),
      payload BYTEA NOT NULL,
      priority SMALLINT NOT NULL,
      background SMALLINT NOT NULL,
      run_at BIGINT NOT NULL,
      cron_expr VARCHAR(255),
      time_zone VARCHAR(64),
      schedule_id BIGINT,
      tick BIGINT,
      state VARCHAR(10) NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0,
      max_attempts INTEGER NOT NULL,
      backoff_ms BIGINT NOT NULL,
      claims INTEGER NOT NULL DEFAULT 0,
      lease_until BIGINT,
      lease_owner VARCHAR(128),
      last_error TEXT,
      created_at BIGINT NOT NULL,
      updated_at BIGINT NOT NULL,
      finished_at BIGINT,
      UNIQUE (function_name, active_unique),
      UNIQUE (schedule_id, tick))`,
    `CREATE INDEX IF NOT EXISTS ${t}_due ON ${t} (state, run_at)`,
    `CREATE INDEX IF NOT EXISTS ${t}_lease ON ${t} (state, lease_until)`,
  ],
};

/** `?` placeholders to PostgreSQL's `$n` (our SQL has no `?` inside string literals). */
function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

/** The longest any statement may take before it fails. */
const QUERY_TIMEOUT_MS = 30_000;
/** Our transactions are a few statements; one idle this long belongs to a stuck instance. */
const IDLE_IN_TRANSACTION_MS = 10_000;
const RETRYABLE = new Set(['40001', '40P01']);

function codeOf(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : undefined;
}

function executor(run: (sql: string, params: unknown[]) => Promise<pg.QueryResult>): SqlExecutor {
  return {
    async query(sql, params = []) {
      return (await run(numbered(sql), [...params])).rows as SqlRow[];
    },
    async execute(sql, params = []) {
      return (await run(numbered(sql), [...params])).rowCount ?? 0;
    },
    async insertIgnore(sql, params) {
      const text =
        numbered(sql.replace('INSERT_IGNORE', 'INSERT')) + ' ON CONFLICT DO NOTHING RETURNING id';
      const rows = (await run(text, [...params])).rows as SqlRow[];
      return rows[0] ? String(rows[0].id) : null;
    },
  };
}

/** PostgreSQL through node-postgres: a pool, plus one dedicated client for LISTEN. */
export class PostgresBackend extends PooledSqlBackend implements SqlBackend {
  readonly dialect = dialect;
  readonly description: string;
  private readonly pool: pg.Pool;
  protected readonly pooled: SqlExecutor;

  constructor(
    private readonly connectionString: string,
    poolSize = 4,
  ) {
    super();
    // Bounded waits: a database that stops answering must not hold dispatch slots forever
    // (the jobs' leases then expire and any instance takes them over).
    this.pool = new pg.Pool({
      connectionString,
      max: poolSize,
      connectionTimeoutMillis: 10_000,
      query_timeout: QUERY_TIMEOUT_MS,
      // A paused or cut-off instance must not hold row locks inside an open transaction for
      // long: the server ends such a session, rolling back, after this long.
      idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_MS,
      keepAlive: true,
    });
    // An idle client's error (database restarted) must not crash the process; the pool drops it.
    this.pool.on('error', () => undefined);
    this.pooled = executor((sql, params) => this.pool.query(sql, params));
    this.description = `postgres:${new URL(connectionString).pathname.slice(1)}`;
  }

  transaction<T>(work: (tx: SqlTransaction) => Promise<T>): Promise<T> {
    return retryingTransaction(
      async () => {
        const client = await this.pool.connect();
        let broken = false;
        // While a client is checked out the pool does not listen for its errors: a connection
        // the server ends between two statements (database restart, pg_terminate_backend)
        // would emit 'error' with no listener and crash the process. The statement in progress,
        // or the next one, fails instead, and the client is discarded on release.
        const onLost = (): void => {
          broken = true;
        };
        client.on('error', onLost);
        // BEGIN is sent with the first statement, so a transaction whose only statement is
        // executeAndCommit runs as one autocommitted statement: one round trip instead of three.
        let state = 'idle' as 'idle' | 'open' | 'committed';
        const statements = executor(async (sql, params) => {
          if (state === 'committed') throw new Error('a statement after the transaction committed');
          if (state === 'idle') {
            await client.query('BEGIN');
            state = 'open';
          }
          return client.query(sql, params);
        });
        const tx: SqlTransaction = {
          ...statements,
          async executeAndCommit(sql, params = []) {
            if (state === 'idle') {
              state = 'committed';
              return (await client.query(numbered(sql), [...params])).rowCount ?? 0;
            }
            const changed = await statements.execute(sql, params);
            await client.query('COMMIT');
            state = 'committed';
            return changed;
          },
        };
        try {
          const result = await work(tx);
          if (state === 'open') await client.query('COMMIT');
          return result;
        } catch (err) {
          if (state === 'open')
            await client.query('ROLLBACK').catch(() => {
              broken = true;
            });
          throw err;
        } finally {
          client.off('error', onLost);
          client.release(broken);
        }
      },
      (err) => RETRYABLE.has(codeOf(err) ?? ''),
    );
  }

  isUniqueViolation(err: unknown): boolean {
    return codeOf(err) === '23505';
  }

  notifySql(channel: string): string {
    return `SELECT pg_notify('${channel}', ?)`;
  }

  async listen(channel: string, listener: (payload: string) => void): Promise<() => Promise<void>> {
    // A dedicated connection, re-established after the database restarts; a missed
    // notification costs only lateness, which the safety-net poll bounds.
    let client: pg.Client | null = null;
    let stopped = false;
    let retry: NodeJS.Timeout | undefined;
    const connect = async (initial = false): Promise<void> => {
      const c = new pg.Client({
        connectionString: this.connectionString,
        connectionTimeoutMillis: 10_000,
        keepAlive: true,
      });
      c.on('notification', (msg) => {
        if (msg.channel === channel && msg.payload !== undefined) listener(msg.payload);
      });
      c.on('error', () => {
        if (client === c) client = null;
        void c.end().catch(() => undefined);
        if (!stopped) retry = setTimeout(() => void connect().catch(() => undefined), 1000);
      });
      try {
        await c.connect();
        await c.query(`LISTEN ${channel}`);
        if (stopped) await c.end();
        else client = c;
      } catch (err) {
        void c.end().catch(() => undefined);
        if (initial || stopped) throw err;
        retry = setTimeout(() => void connect().catch(() => undefined), 1000);
      }
    };
    await connect(true);
    if (!client)
      throw new SchedulerError(
        'STORE_FAILED',
        `cannot LISTEN on ${channel} in ${this.description}`,
      );
    return async () => {
      stopped = true;
      clearTimeout(retry);
      const c = client;
      client = null;
      await c?.end().catch(() => undefined);
    };
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
