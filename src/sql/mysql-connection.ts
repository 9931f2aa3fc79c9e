import type { ConnectionOptions } from 'mysql2';

/** Where a MySQL or MariaDB database is (gearmand's `--mysql-*` flags, or a mysql:// URL). */
export interface MysqlConnection {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
}

/** `mysql:host:port/database` for logs and error messages (never the password). */
export function describeMysql(c: MysqlConnection): string {
  return `mysql:${c.host}:${c.port}/${c.database}`;
}

/**
 * mysql2's settings for a connection: a 10 s connect timeout, and BIGINT columns as numbers
 * (strings only beyond 2^53) rather than always as strings.
 */
export function mysqlConnectionOptions(c: MysqlConnection): ConnectionOptions {
  return {
    host: c.host,
    port: c.port,
    user: c.user,
    password: c.password,
    database: c.database,
    connectTimeout: 10_000,
    supportBigNumbers: true,
  };
}
