/**
 * The test databases as the storage tests and the storage benchmark address them: MariaDB's
 * connection options and PostgreSQL's libpq conninfo from the service URLs, and one-off SQL.
 */
import mysql from 'mysql2/promise';
import pg from 'pg';
import { serviceUrls } from '../helpers/services.js';

const mysqlUrl = new URL(serviceUrls.mysql);

/** MariaDB / MySQL connection options of the test database. */
export const mysqlServer = {
  host: mysqlUrl.hostname,
  port: Number(mysqlUrl.port || 3306),
  user: decodeURIComponent(mysqlUrl.username) || 'root',
  password: decodeURIComponent(mysqlUrl.password),
  database: mysqlUrl.pathname.slice(1),
};

const pgUrl = new URL(serviceUrls.postgres);

/** The test PostgreSQL database in libpq's keyword/value form (what gearmand takes). */
export const pgConninfo = `host=${pgUrl.hostname} port=${pgUrl.port || 5432} user=${decodeURIComponent(pgUrl.username) || 'postgres'} dbname=${pgUrl.pathname.slice(1)}`;

/** Runs one statement on the test PostgreSQL database. */
export async function pgQuery(text: string, values: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: serviceUrls.postgres });
  await client.connect();
  try {
    return await client.query(text, values);
  } finally {
    await client.end();
  }
}

/** Runs one statement on the test MariaDB database; resolves to its rows (or result header). */
export async function mysqlQuery(text: string, values: unknown[] = []): Promise<unknown> {
  const connection = await mysql.createConnection(mysqlServer);
  try {
    const [rows] = await connection.query(text, values);
    return rows;
  } finally {
    await connection.end();
  }
}
