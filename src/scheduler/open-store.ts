import { setTimeout as sleep } from 'node:timers/promises';
import { MysqlBackend } from './mysql-backend.js';
import { PostgresBackend } from './postgres-backend.js';
import { SchedulerError } from './errors.js';
import { SqliteBackend } from './sqlite-backend.js';
import { SCHEDULER_DEFAULTS } from './defaults.js';
import { SqlSchedulerStore } from './sql-scheduler-store.js';

/** Errors that mean "the database is not accepting connections right now", not "wrong setup". */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'PROTOCOL_CONNECTION_LOST',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: starting up or shutting down
  'ER_SERVER_SHUTDOWN',
]);

function databaseUnavailable(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  if ('code' in err && UNAVAILABLE_CODES.has(String(err.code))) return true;
  // node-postgres ends a connection the server dropped during the handshake with no code.
  return err instanceof Error && /Connection terminated/.test(err.message);
}

/** How long opening waits for a database that is not accepting connections (restarting). */
const DEFAULT_OPEN_WAIT_MS = 30_000;

/**
 * Opens the store a URL names: `postgres://…` (or `postgresql://`), `mysql://…` (MySQL or
 * MariaDB), or `sqlite:<file>` (single instance only). Creates the table if needed.
 */
export async function openSchedulerStore(
  url: string,
  options: {
    table?: string;
    poolSize?: number;
    now?: () => number;
    /**
     * How long to keep trying while the database refuses connections (it is restarting),
     * default 30 s; any other error fails at once.
     */
    waitMs?: number;
    /** Told of each failed attempt that will be retried. */
    onRetry?: (error: unknown) => void;
  } = {},
): Promise<SqlSchedulerStore> {
  const table = options.table ?? SCHEDULER_DEFAULTS.table;
  let store: SqlSchedulerStore;
  if (url.startsWith('postgres://') || url.startsWith('postgresql://'))
    store = new SqlSchedulerStore(new PostgresBackend(url, options.poolSize), table);
  else if (url.startsWith('mysql://') || url.startsWith('mariadb://'))
    store = new SqlSchedulerStore(
      new MysqlBackend(url.replace(/^mariadb:/, 'mysql:'), options.poolSize),
      table,
    );
  else if (url.startsWith('sqlite:'))
    store = new SqlSchedulerStore(
      new SqliteBackend(url.slice('sqlite:'.length), options.now),
      table,
    );
  else
    throw new SchedulerError(
      'INVALID_REQUEST',
      `unknown store '${url}': use postgres://…, mysql://… or sqlite:<file>`,
    );
  try {
    // A scheduler started while its database restarts waits for it instead of exiting.
    const giveUpAt = Date.now() + (options.waitMs ?? DEFAULT_OPEN_WAIT_MS);
    for (let pause = 250; ; pause = Math.min(pause * 2, 2_000)) {
      try {
        await store.open();
        break;
      } catch (err) {
        const left = giveUpAt - Date.now();
        if (!databaseUnavailable(err) || left <= 0) throw err;
        options.onRetry?.(err);
        await sleep(Math.min(pause, left));
      }
    }
  } catch (err) {
    await store.close().catch(() => undefined);
    throw new SchedulerError('STORE_FAILED', `cannot open ${store.description}: ${String(err)}`, {
      cause: err,
    });
  }
  return store;
}
