import type { SqlDatabase } from './sql-database.js';
import { loadStoreDriver } from './store-drivers.js';
import type { QueueConfig } from './store-url.js';

/** A store location that names a SQL database. */
export type SqlLocation = Extract<QueueConfig, { readonly type: 'sqlite' | 'postgres' | 'mysql' }>;

/** True when the location is a SQL database (not Redis, not memory). */
export function isSqlLocation(location: QueueConfig): location is SqlLocation {
  return location.type === 'sqlite' || location.type === 'postgres' || location.type === 'mysql';
}

/**
 * The database a location names, with a pool of `poolSize` connections (made as they are
 * needed, so nothing is connected yet). Only that database's driver is loaded; a
 * `DriverMissingError` when it is not installed.
 */
export async function createSqlDatabase(
  location: SqlLocation,
  options: { readonly poolSize?: number } = {},
): Promise<SqlDatabase> {
  await loadStoreDriver(location.type);
  switch (location.type) {
    case 'postgres': {
      const { PostgresDatabase } = await import('./postgres-database.js');
      return new PostgresDatabase(location.conninfo, options.poolSize);
    }
    case 'mysql': {
      const { MysqlDatabase } = await import('./mysql-database.js');
      return new MysqlDatabase(location, options.poolSize);
    }
    case 'sqlite': {
      const { SqliteDatabase } = await import('./sqlite-database.js');
      return new SqliteDatabase(location.file);
    }
  }
}
