import { isAbsolute, resolve } from 'node:path';
import { errorMessage } from '../protocol/errors.js';
import { conninfoPairs, parseConninfo } from './postgres-connection.js';

/**
 * Which durable store to use, as parsed from gearmand's `-q …` flags or a `--store` URL.
 * `builtin` keeps jobs in memory only (gearmand's default; `gearbox server`'s is `sqlite`).
 */
export type QueueConfig =
  | { readonly type: 'builtin' }
  | { readonly type: 'sqlite'; readonly file: string; readonly table?: string }
  | {
      readonly type: 'postgres';
      /** gearmand's `--libpq-conninfo`: libpq's keyword/value form or a postgres:// URI. */
      readonly conninfo: string;
      readonly table?: string;
    }
  | {
      readonly type: 'mysql';
      readonly host: string;
      readonly port: number;
      readonly user: string;
      readonly password: string;
      readonly database: string;
      readonly table?: string;
    }
  | {
      readonly type: 'redis';
      readonly host: string;
      readonly port: number;
      readonly password?: string;
      readonly prefix?: string;
    };

function badUrl(url: string, why: string): never {
  throw new TypeError(`invalid --store URL ${JSON.stringify(redactPassword(url))}: ${why}`);
}

/** The URL or conninfo with its password replaced by `***`, for error messages. */
function redactPassword(url: string): string {
  return url
    .replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*:)[^@/]*@/i, '$1***@')
    .replace(/(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'?|\S*)/gi, '$1***');
}

function port(url: string, text: string, fallback: number): number {
  if (text === '') return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0 || n > 65535) badUrl(url, `bad port ${text}`);
  return n;
}

/**
 * Reads a store location — what `gearbox server --store` and `gearbox scheduler --store` take,
 * the same forms with the same errors:
 * - `sqlite:///abs/path.sqlite`, `sqlite:relative/path.sqlite` (relative to the current folder),
 *   optional `?table=T`;
 * - `postgres://user:pw@host:port/db?table=T` (also `postgresql://`; other query parameters go
 *   to the connection, e.g. `application_name`, `sslmode`);
 * - libpq's keyword/value conninfo, as gearmand's `--libpq-conninfo` takes it:
 *   `host=db1 port=5432 user=gear dbname=jobs [table=T]`;
 * - `mysql://user:pw@host:port/db?table=T` (also `mariadb://`);
 * - `redis://[:password@]host:port[/prefix]`;
 * - `builtin:` (memory only).
 * Throws a `TypeError` that says what is wrong, without echoing a password.
 */
export function parseStoreUrl(url: string): QueueConfig {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  if (!scheme) {
    if (/^\s*[A-Za-z_]+\s*=/.test(url)) return parseKeywordConninfo(url);
    badUrl(
      url,
      'expected sqlite:, postgres://, mysql://, redis:// or a conninfo (host=… dbname=…)',
    );
  }
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
      checkConninfo(url, conninfo);
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

function checkConninfo(url: string, conninfo: string): void {
  try {
    parseConninfo(conninfo);
  } catch (err) {
    badUrl(url, errorMessage(err));
  }
}

/** libpq's `host=… dbname=…` form; a `table=T` pair names the table, as `?table=T` in a URL. */
function parseKeywordConninfo(url: string): QueueConfig {
  let table: string | undefined;
  try {
    for (const [key, value] of conninfoPairs(url)) if (key === 'table') table = value;
  } catch (err) {
    badUrl(url, errorMessage(err));
  }
  checkConninfo(url, url);
  const conninfo = url.trim();
  return table ? { type: 'postgres', conninfo, table } : { type: 'postgres', conninfo };
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
