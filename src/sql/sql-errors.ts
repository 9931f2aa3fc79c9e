import { errorMessage } from '../protocol/errors.js';

/** The SQL databases Gearbox speaks to. */
export type SqlEngine = 'postgres' | 'mysql' | 'sqlite';

/**
 * What a database error means to the code that ran the statement — the one classification the
 * job stores, the scheduler and (later) the cluster's leases share:
 * - `connection`: the connection is gone, or the database does not accept one right now (it is
 *   restarting, unreachable, shutting down, or the disk under SQLite failed). Reconnect; the
 *   outcome of a statement in flight is unknown.
 * - `too-large`: a value or a statement was larger than the database takes.
 * - `retry`: a deadlock or serialization failure; the transaction was rolled back and may simply
 *   run again.
 * - `unique`: a unique-key violation.
 * - `refused`: the database refused this statement (or this login) for another reason; running
 *   it again would fail again.
 */
export type SqlErrorKind = 'connection' | 'too-large' | 'retry' | 'unique' | 'refused';

/** Socket errors of every driver: the network or the server is not there. */
const NETWORK_CODES = /^(ECONN[A-Z]*|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND)$/;

/** node-postgres reports a lost connection in words, often without a code. */
const POSTGRES_CONNECTION_MESSAGES =
  /Connection terminated|connection error|not queryable|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|timeout expired|Client was closed/i;

/**
 * mysql2's codes for a connection that is gone or cannot be had. `ER_NET_PACKET_TOO_LARGE` is
 * here, not under `too-large`: the server closes the connection after sending it.
 */
const MYSQL_CONNECTION_CODES = new Set([
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_SERVER_SHUTDOWN',
  'ER_CONNECTION_KILLED',
  'ER_NET_PACKET_TOO_LARGE',
  'ER_CON_COUNT_ERROR',
]);

/** ER_LOCK_DEADLOCK, ER_LOCK_WAIT_TIMEOUT. */
const MYSQL_RETRY_ERRNOS = new Set([1213, 1205]);
const MYSQL_DUPLICATE_KEY = 1062;

function field(err: unknown, name: 'code' | 'errno' | 'fatal'): unknown {
  return typeof err === 'object' && err !== null
    ? (err as Record<string, unknown>)[name]
    : undefined;
}

function codeOf(err: unknown): string {
  const code = field(err, 'code');
  return typeof code === 'string' ? code : '';
}

function postgres(err: unknown): SqlErrorKind {
  const code = codeOf(err);
  const message = errorMessage(err);
  // Class 08: connection exception; 57P01–03: the server is shutting down, crashed or starting.
  if (/^08|^57P0[1-3]$/.test(code) || NETWORK_CODES.test(code)) return 'connection';
  if (POSTGRES_CONNECTION_MESSAGES.test(message)) return 'connection';
  if (code === '40001' || code === '40P01') return 'retry';
  if (code === '23505') return 'unique';
  // 54000: program_limit_exceeded (a value over 1 GB, an index row too large).
  if (code === '54000' || /invalid memory alloc request size|out of memory/i.test(message))
    return 'too-large';
  return 'refused';
}

function mysql(err: unknown): SqlErrorKind {
  const code = codeOf(err);
  // mysql2 marks every error after which the connection cannot be used as fatal.
  if (field(err, 'fatal') === true) return 'connection';
  if (MYSQL_CONNECTION_CODES.has(code) || NETWORK_CODES.test(code)) return 'connection';
  if (/closed state|connection lost|not connected/i.test(errorMessage(err))) return 'connection';
  const errno = Number(field(err, 'errno'));
  if (MYSQL_RETRY_ERRNOS.has(errno)) return 'retry';
  if (errno === MYSQL_DUPLICATE_KEY) return 'unique';
  return 'refused';
}

function sqlite(err: unknown): SqlErrorKind {
  const code = codeOf(err);
  // The file or the disk failed: what was written is not to be trusted until it is reopened.
  if (/^SQLITE_(IOERR|FULL|CANTOPEN|NOTADB|CORRUPT|READONLY)/.test(code)) return 'connection';
  if (code === 'SQLITE_TOOBIG') return 'too-large';
  if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY')
    return 'unique';
  return 'refused';
}

const classifiers: Record<SqlEngine, (err: unknown) => SqlErrorKind> = { postgres, mysql, sqlite };

/** What an error from `engine`'s driver (pg, mysql2, better-sqlite3) means; see {@link SqlErrorKind}. */
export function classifySqlError(engine: SqlEngine, err: unknown): SqlErrorKind {
  return classifiers[engine](err);
}
