import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import type { BatchingStore } from './batching-store.js';
import type { QueueConfig } from './queue-config.js';
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
 * database driver are loaded: together they take a fifth of a second to load.
 */
export async function createStore(
  config: QueueConfig,
  log?: StoreLogger,
): Promise<BatchingStore | undefined> {
  switch (config.type) {
    case 'builtin':
      return undefined;
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

function badUrl(url: string, why: string): never {
  throw new TypeError(`invalid --store URL ${JSON.stringify(redactPassword(url))}: ${why}`);
}

function redactPassword(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^:/@]*:)[^@/]*@/i, '$1***@');
}

function port(url: string, text: string, fallback: number): number {
  if (text === '') return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0 || n > 65535) badUrl(url, `bad port ${text}`);
  return n;
}

/**
 * Reads a `--store` URL:
 * - `sqlite:///abs/path.sqlite`, `sqlite:relative/path.sqlite` (relative to the current folder),
 *   optional `?table=T`;
 * - `postgres://user:pw@host:port/db?table=T` (also `postgresql://`; other query parameters go
 *   to the connection, e.g. `application_name`);
 * - `mysql://user:pw@host:port/db?table=T` (also `mariadb://`);
 * - `redis://[:password@]host:port[/prefix]`.
 * Throws a TypeError that says what is wrong.
 */
export function parseStoreUrl(url: string): QueueConfig {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  if (!scheme) badUrl(url, 'expected sqlite:, postgres://, mysql:// or redis://');
  if (scheme === 'builtin' || scheme === 'memory') return { type: 'builtin' };
  if (scheme === 'sqlite' || scheme === 'sqlite3') return parseSqlite(url);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    badUrl(url, 'not a URL');
  }
  const table = parsed.searchParams.get('table') ?? undefined;
  const user = decodeURIComponent(parsed.username);
  const password = decodeURIComponent(parsed.password);
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  const path = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  switch (scheme) {
    case 'postgres':
    case 'postgresql': {
      if (!host) badUrl(url, 'no host');
      parsed.searchParams.delete('table');
      const conninfo = `${parsed.protocol}//${parsed.username}${parsed.password ? `:${parsed.password}` : ''}${parsed.username ? '@' : ''}${parsed.host}${parsed.pathname}${parsed.search}`;
      return table ? { type: 'postgres', conninfo, table } : { type: 'postgres', conninfo };
    }
    case 'mysql':
    case 'mariadb': {
      if (!host) badUrl(url, 'no host');
      if (!path) badUrl(url, 'no database (mysql://user@host:3306/DATABASE)');
      return {
        type: 'mysql',
        host,
        port: port(url, parsed.port, 3306),
        user: user || 'root',
        password,
        database: path,
        ...(table ? { table } : {}),
      };
    }
    case 'redis': {
      if (!host) badUrl(url, 'no host');
      return {
        type: 'redis',
        host,
        port: port(url, parsed.port, 6379),
        ...(password ? { password } : {}),
        ...(path ? { prefix: path } : {}),
      };
    }
    default:
      return badUrl(url, `unknown store type "${scheme}" (sqlite, postgres, mysql, redis)`);
  }
}

function parseSqlite(url: string): QueueConfig {
  const [withoutQuery = '', query = ''] = url.split('?', 2);
  const table = new URLSearchParams(query).get('table') ?? undefined;
  let path = withoutQuery.replace(/^sqlite3?:/i, '');
  if (path.startsWith('//')) {
    // sqlite:///abs/path: an empty authority, then the absolute path.
    path = path.slice(2);
    if (!path.startsWith('/')) badUrl(url, 'use sqlite:///absolute/path or sqlite:relative/path');
  }
  path = decodeURIComponent(path);
  if (path === '' || path === '/') badUrl(url, 'no file name');
  const file = isAbsolute(path) ? path : resolve(path);
  return table ? { type: 'sqlite', file, table } : { type: 'sqlite', file };
}
