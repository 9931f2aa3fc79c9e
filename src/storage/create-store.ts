import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { loadStoreDriver } from '../sql/store-drivers.js';
import type { QueueConfig } from '../sql/store-url.js';
import type { BatchingStore } from './batching-store.js';
import type { StoreLogger } from './store-error.js';

/**
 * The file of the durable default queue, used by `gearbox server` without queue flags:
 * `$GEARBOX_DATA_DIR/queue.sqlite` when that variable is set, else
 * `$XDG_STATE_HOME/gearbox/queue.sqlite`, else `~/.local/state/gearbox/queue.sqlite` (the XDG
 * place for state that should survive restarts but is not configuration).
 */
export function defaultSqlitePath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.GEARBOX_DATA_DIR) return resolve(env.GEARBOX_DATA_DIR, 'queue.sqlite');
  const state =
    env.XDG_STATE_HOME && isAbsolute(env.XDG_STATE_HOME)
      ? env.XDG_STATE_HOME
      : join(homedir(), '.local', 'state');
  return join(state, 'gearbox', 'queue.sqlite');
}

/**
 * The store a queue configuration names, not yet opened (call `open()`, then `replay()`), or
 * `undefined` for `builtin` (memory only, nothing to store). Only the named backend's module and
 * database driver are loaded: together they take a fifth of a second to load. Rejects with a
 * `DriverMissingError` when the driver package is not installed (it is an optional peer).
 */
export async function createStore(
  config: QueueConfig,
  log?: StoreLogger,
): Promise<BatchingStore | undefined> {
  if (config.type === 'builtin') return undefined;
  await loadStoreDriver(config.type);
  switch (config.type) {
    case 'sqlite': {
      const { SqliteStore } = await import('./sqlite-store.js');
      return new SqliteStore({ file: config.file, table: config.table, log });
    }
    case 'postgres': {
      const { PostgresStore } = await import('./postgres-store.js');
      return new PostgresStore({ conninfo: config.conninfo, table: config.table, log });
    }
    case 'mysql': {
      const { MysqlStore } = await import('./mysql-store.js');
      return new MysqlStore({ ...config, log });
    }
    case 'redis': {
      const { RedisStore } = await import('./redis-store.js');
      return new RedisStore({ ...config, log });
    }
  }
}
