import { MysqlBackend } from './mysql-backend.js';
import { PostgresBackend } from './postgres-backend.js';
import { SchedulerError } from './errors.js';
import { SqliteBackend } from './sqlite-backend.js';
import { DEFAULT_SCHEDULER_TABLE, SqlSchedulerStore } from './sql-scheduler-store.js';

/**
 * Opens the store a URL names: `postgres://…` (or `postgresql://`), `mysql://…` (MySQL or
 * MariaDB), or `sqlite:<file>` (single instance only). Creates the table if needed.
 */
export async function openSchedulerStore(
  url: string,
  options: { table?: string; poolSize?: number; now?: () => number } = {},
): Promise<SqlSchedulerStore> {
  const table = options.table ?? DEFAULT_SCHEDULER_TABLE;
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
    await store.open();
  } catch (err) {
    await store.close().catch(() => undefined);
    throw new SchedulerError('STORE_FAILED', `cannot open ${store.description}: ${String(err)}`, {
      cause: err,
    });
  }
  return store;
}
