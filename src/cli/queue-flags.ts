/**
 * gearmand's job-store flags (`-q TYPE` with `--libsqlite3-*`, `--libpq-*`, `--mysql-*`,
 * `--redis-*`) and our `--store URL`, turned into the library's {@link QueueConfig}.
 */
import { DriverMissingError } from '../sql/store-drivers.js';
import { parseStoreUrl, type QueueConfig } from '../sql/store-url.js';
import { defaultSqlitePath } from '../storage/create-store.js';
import { inSection } from './options.js';
import { portNumber } from './option-values.js';
import { UsageError } from './usage-error.js';

/** What `-q mysql` and `-q redis` connect to when their flags do not say. */
const MYSQL_DEFAULTS = { host: 'localhost', port: '3306', user: 'root' } as const;
const REDIS_DEFAULTS = { host: '127.0.0.1', port: '6379' } as const;

/** The flags of one store backend, each kept by its long name until `-q` is known. */
export const QUEUE_FLAGS = inSection('job store', [
  {
    name: 'queue-type',
    short: 'q',
    value: 'TYPE',
    help: 'job store: builtin (memory only), libsqlite3, libpq (postgres), mysql, redis',
    default: 'libsqlite3, in the file named below',
  },
  {
    name: 'store',
    value: 'URL',
    help: 'job store as a URL, instead of -q: sqlite:///path, postgres://…, mysql://…/db, redis://host[/prefix], builtin:',
  },
  {
    name: 'libsqlite3-db',
    value: 'FILE',
    help: 'SQLite database file (needed with -q libsqlite3; alone, it means -q libsqlite3)',
  },
  {
    name: 'libsqlite3-table',
    value: 'TABLE',
    help: 'SQLite table',
    default: 'gearman_queue',
  },
  {
    name: 'store-queue-on-shutdown',
    help: 'accepted; Gearbox always writes background jobs as they are submitted',
  },
  {
    name: 'libpq-conninfo',
    value: 'CONNINFO',
    help: 'PostgreSQL connection string (-q libpq); PG* variables fill the gaps',
  },
  { name: 'libpq-table', value: 'TABLE', help: 'PostgreSQL table', default: 'queue' },
  {
    name: 'mysql-host',
    value: 'HOST',
    help: 'MySQL/MariaDB host (-q mysql)',
    default: MYSQL_DEFAULTS.host,
  },
  { name: 'mysql-port', value: 'PORT', help: 'MySQL port', default: MYSQL_DEFAULTS.port },
  { name: 'mysql-user', value: 'USER', help: 'MySQL user', default: MYSQL_DEFAULTS.user },
  { name: 'mysql-password', value: 'PASSWORD', help: 'MySQL password', default: 'none' },
  { name: 'mysql-db', value: 'DB', help: 'MySQL database (needed with -q mysql)' },
  { name: 'mysql-table', value: 'TABLE', help: 'MySQL table', default: 'gearman_queue' },
  {
    name: 'redis-server',
    value: 'HOST',
    help: 'Redis host (-q redis)',
    default: REDIS_DEFAULTS.host,
  },
  { name: 'redis-port', value: 'PORT', help: 'Redis port', default: REDIS_DEFAULTS.port },
  { name: 'redis-password', value: 'PASSWORD', help: 'Redis password', default: 'none' },
  { name: 'redis-prefix', value: 'PREFIX', help: 'Redis key prefix', default: '_gear_' },
]);

/** The store flags of one command line: `-q`, `--store`, and the backend flags by name. */
export interface QueueFlags {
  readonly queueType?: string;
  readonly storeUrl?: string;
  readonly options: ReadonlyMap<string, string>;
}

function required(options: ReadonlyMap<string, string>, flag: string, type: string): string {
  const value = options.get(flag);
  if (value === undefined || value === '')
    throw new UsageError('MISSING_VALUE', `-q ${type} needs --${flag}`);
  return value;
}

/** Turns a `--store` URL into a queue config (the storage layer's parser, errors as ours). */
export function queueFromUrl(url: string): QueueConfig {
  try {
    return parseStoreUrl(url);
  } catch (err) {
    throw new UsageError('BAD_VALUE', `--store: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * The flag that chose the store, for messages: `-q TYPE`, `--store` (not its URL, which may hold
 * a password), `--libsqlite3-db`, or `undefined` for the default store.
 */
export function storeFlag(flags: QueueFlags): string | undefined {
  if (flags.storeUrl !== undefined) return '--store';
  if (flags.queueType !== undefined) return `-q ${flags.queueType}`;
  return flags.options.has('libsqlite3-db') ? '--libsqlite3-db' : undefined;
}

/**
 * The message for a store whose driver is not installed, naming the flag that asked for that
 * store; for the default store (no flag), how to run without one.
 */
export function driverMissingMessage(err: DriverMissingError, flag: string | undefined): string {
  return flag === undefined
    ? `${err.message} (SQLite is the default store; -q builtin keeps jobs in memory only)`
    : `${flag}: ${err.message}`;
}

/**
 * The queue config the flags ask for. Without `-q` or `--store`: SQLite at the storage layer's
 * default path (or at `--libsqlite3-db`, which alone means SQLite, as in gearmand).
 */
export function queueFromFlags(flags: QueueFlags): QueueConfig {
  if (flags.storeUrl !== undefined && flags.queueType !== undefined)
    throw new UsageError('BAD_VALUE', 'give either -q/--queue-type or --store, not both');
  if (flags.storeUrl !== undefined) return queueFromUrl(flags.storeUrl);
  const o = flags.options;
  if (flags.queueType === undefined) {
    const table = o.get('libsqlite3-table');
    return {
      type: 'sqlite',
      file: o.get('libsqlite3-db') ?? defaultSqlitePath(),
      ...(table ? { table } : {}),
    };
  }
  const type = flags.queueType.toLowerCase();
  switch (type) {
    case 'builtin':
    case 'memory':
      return { type: 'builtin' };
    case 'libsqlite3':
    case 'sqlite':
    case 'sqlite3': {
      const table = o.get('libsqlite3-table');
      return {
        type: 'sqlite',
        file: required(o, 'libsqlite3-db', type),
        ...(table ? { table } : {}),
      };
    }
    case 'libpq':
    case 'postgres':
    case 'postgresql': {
      const table = o.get('libpq-table');
      return {
        type: 'postgres',
        conninfo: o.get('libpq-conninfo') ?? '',
        ...(table ? { table } : {}),
      };
    }
    case 'mysql':
    case 'mariadb': {
      const table = o.get('mysql-table');
      return {
        type: 'mysql',
        host: o.get('mysql-host') ?? MYSQL_DEFAULTS.host,
        port: portNumber('--mysql-port', o.get('mysql-port') ?? MYSQL_DEFAULTS.port),
        user: o.get('mysql-user') ?? MYSQL_DEFAULTS.user,
        password: o.get('mysql-password') ?? '',
        database: required(o, 'mysql-db', type),
        ...(table ? { table } : {}),
      };
    }
    case 'redis': {
      const password = o.get('redis-password');
      const prefix = o.get('redis-prefix');
      return {
        type: 'redis',
        host: o.get('redis-server') ?? REDIS_DEFAULTS.host,
        port: portNumber('--redis-port', o.get('redis-port') ?? REDIS_DEFAULTS.port),
        ...(password ? { password } : {}),
        ...(prefix ? { prefix } : {}),
      };
    }
    default:
      throw new UsageError(
        'BAD_VALUE',
        `-q: unknown queue type '${flags.queueType}' (builtin, libsqlite3, libpq, mysql, redis)`,
      );
  }
}
