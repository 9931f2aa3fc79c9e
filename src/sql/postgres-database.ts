import pg from 'pg';
import { postgresDialect } from './dialect.js';
import { describePostgres, postgresClientConfig } from './postgres-connection.js';
import {
  retryingTransaction,
  type SqlDatabase,
  type SqlExecutor,
  type SqlNotifications,
  type SqlRow,
  type SqlTransaction,
} from './sql-database.js';

/** The longest any statement may take before it fails. */
const QUERY_TIMEOUT_MS = 30_000;
/** Our transactions are a few statements; one idle this long belongs to a stuck instance. */
const IDLE_IN_TRANSACTION_MS = 10_000;
/** How soon a LISTEN connection that dropped is tried again. */
const RELISTEN_MS = 1000;

function executor(run: (sql: string, params: unknown[]) => Promise<pg.QueryResult>): SqlExecutor {
  return {
    async query(sql, params = []) {
      return (await run(postgresDialect.placeholders(sql), [...params])).rows as SqlRow[];
    },
    async execute(sql, params = []) {
      return (await run(postgresDialect.placeholders(sql), [...params])).rowCount ?? 0;
    },
    async insertIgnore(table, row) {
      const sql = postgresDialect.insertIgnore(table, Object.keys(row));
      const rows = (await run(postgresDialect.placeholders(sql), Object.values(row)))
        .rows as SqlRow[];
      return rows[0] ? String(rows[0].id) : null;
    },
  };
}

/** PostgreSQL through node-postgres: a pool, plus one dedicated client per LISTEN. */
export class PostgresDatabase implements SqlDatabase {
  readonly dialect = postgresDialect;
  readonly description: string;
  readonly notifications: SqlNotifications;
  private readonly config: pg.ClientConfig;
  private readonly pool: pg.Pool;
  private readonly pooled: SqlExecutor;
  // The statements outside a transaction, each on any pooled connection.
  readonly query: SqlExecutor['query'] = (sql, params) => this.pooled.query(sql, params);
  readonly execute: SqlExecutor['execute'] = (sql, params) => this.pooled.execute(sql, params);
  readonly insertIgnore: SqlExecutor['insertIgnore'] = (t, row) => this.pooled.insertIgnore(t, row);

  /** `conninfo`: a postgres:// URI or libpq's keyword/value form. */
  constructor(conninfo: string, poolSize = 4) {
    this.config = postgresClientConfig(conninfo);
    // Bounded waits: a database that stops answering must not hold dispatch slots forever
    // (the jobs' leases then expire and any instance takes them over).
    this.pool = new pg.Pool({
      ...this.config,
      max: poolSize,
      query_timeout: QUERY_TIMEOUT_MS,
      // A paused or cut-off instance must not hold row locks inside an open transaction for
      // long: the server ends such a session, rolling back, after this long.
      idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_MS,
    });
    // An idle client's error (database restarted) must not crash the process; the pool drops it.
    this.pool.on('error', () => undefined);
    this.pooled = executor((sql, params) => this.pool.query(sql, params));
    this.description = `postgres:${describePostgres(this.config)}`;
    this.notifications = {
      notifySql: (channel) => `SELECT pg_notify('${channel}', ?)`,
      listen: (channel, listener) => this.listen(channel, listener),
    };
  }

  transaction<T>(work: (tx: SqlTransaction) => Promise<T>): Promise<T> {
    return retryingTransaction('postgres', async () => {
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
            return (
              (await client.query(postgresDialect.placeholders(sql), [...params])).rowCount ?? 0
            );
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
    });
  }

  private async listen(
    channel: string,
    listener: (payload: string) => void,
  ): Promise<() => Promise<void>> {
    // A dedicated connection, re-established after the database restarts; a missed
    // notification costs only lateness, which the safety-net poll bounds.
    let client: pg.Client | null = null;
    let stopped = false;
    let retry: NodeJS.Timeout | undefined;
    const again = (): void => {
      retry = setTimeout(() => void connect().catch(() => undefined), RELISTEN_MS);
    };
    const connect = async (initial = false): Promise<void> => {
      const c = new pg.Client(this.config);
      c.on('notification', (msg) => {
        if (msg.channel === channel && msg.payload !== undefined) listener(msg.payload);
      });
      c.on('error', () => {
        if (client === c) client = null;
        void c.end().catch(() => undefined);
        if (!stopped) again();
      });
      try {
        await c.connect();
        await c.query(`LISTEN ${channel}`);
        if (stopped) await c.end();
        else client = c;
      } catch (err) {
        void c.end().catch(() => undefined);
        if (initial || stopped) throw err;
        again();
      }
    };
    await connect(true);
    if (!client) throw new Error(`cannot LISTEN on ${channel} in ${this.description}`);
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
