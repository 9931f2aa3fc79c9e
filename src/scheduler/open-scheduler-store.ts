import { setTimeout as sleep } from 'node:timers/promises';
import { backoffDelay, type Backoff } from '../protocol/backoff.js';
import { errorMessage } from '../protocol/errors.js';
import { createSqlDatabase, isSqlLocation, type SqlLocation } from '../sql/create-database.js';
import { classifySqlError } from '../sql/sql-errors.js';
import { parseStoreUrl, type QueueConfig } from '../sql/store-url.js';
import { checkTableName } from '../sql/table-name.js';
import { SchedulerError } from './errors.js';
import { SCHEDULER_DEFAULTS } from './defaults.js';
import { SqlSchedulerStore } from './sql-scheduler-store.js';

/** How long opening waits for a database that is not accepting connections (restarting). */
const DEFAULT_OPEN_WAIT_MS = 30_000;
/** The pauses between attempts to open: 250 ms doubling to 2 s. */
const OPEN_BACKOFF: Backoff = { initialDelay: 250, maxDelay: 2_000, jitter: 0 };

/** Options of {@link openSchedulerStore}. */
export interface OpenSchedulerStoreOptions {
  /** The table; default `gearbox_scheduled_jobs`, or the store URL's `?table=`. */
  readonly table?: string;
  /** Connections in the pool (default 4). */
  readonly poolSize?: number;
  /**
   * How long to keep trying while the database refuses connections (it is restarting),
   * default 30 s; any other error fails at once.
   */
  readonly waitMs?: number;
  /** Told of each failed attempt that will be retried. */
  readonly onRetry?: (error: unknown) => void;
}

/** The database and the table a store URL and `--table` name; INVALID_REQUEST when they are bad. */
function locate(
  url: string,
  tableOption: string | undefined,
): { location: SqlLocation; table: string } {
  let location: QueueConfig;
  let table: string;
  try {
    location = parseStoreUrl(url);
    table = checkTableName(
      tableOption ?? ('table' in location ? location.table : undefined) ?? SCHEDULER_DEFAULTS.table,
    );
  } catch (err) {
    throw new SchedulerError('INVALID_REQUEST', errorMessage(err), { cause: err });
  }
  if (!isSqlLocation(location))
    throw new SchedulerError(
      'INVALID_REQUEST',
      `the scheduler needs a SQL database (postgres://…, host=… dbname=…, mysql://… or sqlite:<file>), not ${location.type}`,
    );
  if (tableOption !== undefined && location.table !== undefined && tableOption !== location.table)
    throw new SchedulerError(
      'INVALID_REQUEST',
      `two tables given: '${location.table}' in the store URL and '${tableOption}'`,
    );
  return { location, table };
}

/**
 * Opens the store a store URL names — the same forms `gearbox server --store` takes, for a SQL
 * database: `postgres://…` (or `postgresql://`), libpq's `host=… dbname=…`, `mysql://…` (MySQL
 * or MariaDB), or `sqlite:<file>` (single instance only). Creates the table if needed.
 */
export async function openSchedulerStore(
  url: string,
  options: OpenSchedulerStoreOptions = {},
): Promise<SqlSchedulerStore> {
  const { location, table } = locate(url, options.table);
  const db = await createSqlDatabase(location, options);
  const store = new SqlSchedulerStore(db, table);
  try {
    // A scheduler started while its database restarts waits for it instead of exiting.
    const giveUpAt = Date.now() + (options.waitMs ?? DEFAULT_OPEN_WAIT_MS);
    for (let attempt = 0; ; attempt++) {
      try {
        await store.open();
        break;
      } catch (err) {
        const left = giveUpAt - Date.now();
        if (classifySqlError(db.dialect.engine, err) !== 'connection' || left <= 0) throw err;
        options.onRetry?.(err);
        await sleep(Math.min(backoffDelay(OPEN_BACKOFF, attempt), left));
      }
    }
  } catch (err) {
    await store.close().catch(() => undefined);
    throw new SchedulerError(
      'STORE_FAILED',
      `cannot open ${store.description}: ${errorMessage(err)}`,
      {
        cause: err,
      },
    );
  }
  return store;
}
