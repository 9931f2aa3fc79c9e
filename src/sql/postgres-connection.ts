import type { ClientConfig } from 'pg';

/** Where a PostgreSQL database is, as node-postgres takes it. */
export interface PostgresConnection {
  host?: string;
  port?: number;
  user?: string;
  password?: string;
  database?: string;
  application_name?: string;
  connectionTimeoutMillis?: number;
}

/** True when `text` is a PostgreSQL URI rather than libpq's keyword/value form. */
function isPostgresUri(text: string): boolean {
  return /^postgres(ql)?:\/\//i.test(text.trim());
}

/**
 * The `keyword=value` pairs of libpq's keyword/value conninfo, in order: values may be quoted
 * (`password='a b\'c'`) or backslash-escaped. A `TypeError` that says where it went wrong.
 */
export function conninfoPairs(conninfo: string): [key: string, value: string][] {
  const text = conninfo.trim();
  const pairs: [string, string][] = [];
  let i = 0;
  const fail = (why: string): never => {
    throw new TypeError(`invalid PostgreSQL conninfo at character ${i + 1}: ${why}`);
  };
  for (let n = 0; i < text.length && n < 1000; n++) {
    while (i < text.length && /\s/.test(text.charAt(i))) i++;
    if (i >= text.length) break;
    const keyStart = i;
    while (i < text.length && /[A-Za-z_]/.test(text.charAt(i))) i++;
    const key = text.slice(keyStart, i);
    if (key === '') fail('expected a keyword');
    while (i < text.length && /\s/.test(text.charAt(i))) i++;
    if (text.charAt(i) !== '=') fail(`expected "=" after "${key}"`);
    i++;
    while (i < text.length && /\s/.test(text.charAt(i))) i++;
    let value = '';
    if (text.charAt(i) === "'") {
      i++;
      let closed = false;
      while (i < text.length) {
        const c = text.charAt(i);
        if (c === '\\' && i + 1 < text.length) {
          value += text.charAt(i + 1);
          i += 2;
        } else if (c === "'") {
          i++;
          closed = true;
          break;
        } else {
          value += c;
          i++;
        }
      }
      if (!closed) fail('unterminated quoted value');
    } else {
      while (i < text.length && !/\s/.test(text.charAt(i))) {
        if (text.charAt(i) === '\\' && i + 1 < text.length) i++;
        value += text.charAt(i);
        i++;
      }
    }
    pairs.push([key, value]);
  }
  return pairs;
}

/**
 * Reads what gearmand's `--libpq-conninfo` accepts: either a URI
 * (`postgres://user:pw@host:5432/db?application_name=x`) or libpq's keyword/value form
 * (`host=127.0.0.1 port=5432 user=postgres dbname=test password='a b\'c'`). Keywords this
 * layer does not use (sslmode, options, …) are ignored here; a URI also goes to node-postgres
 * whole ({@link postgresClientConfig}), which reads them. Anything not given falls back to node-postgres' defaults and the
 * PG* environment variables, as with libpq. A `TypeError` for a malformed conninfo.
 */
export function parseConninfo(conninfo: string): PostgresConnection {
  const text = conninfo.trim();
  if (isPostgresUri(text)) return fromUri(text);
  const out: PostgresConnection = {};
  for (const [key, value] of conninfoPairs(text)) apply(out, key, value);
  return out;
}

function apply(out: PostgresConnection, key: string, value: string): void {
  switch (key) {
    case 'host':
    case 'hostaddr':
      out.host = value;
      break;
    case 'port': {
      const port = Number(value);
      if (!Number.isInteger(port) || port <= 0 || port > 65535)
        throw new TypeError(`invalid PostgreSQL port ${JSON.stringify(value)}`);
      out.port = port;
      break;
    }
    case 'user':
      out.user = value;
      break;
    case 'password':
      out.password = value;
      break;
    case 'dbname':
      out.database = value;
      break;
    case 'application_name':
      out.application_name = value;
      break;
    case 'connect_timeout':
      out.connectionTimeoutMillis = Math.max(0, Number(value) || 0) * 1000;
      break;
    default:
      // sslmode, options, … : accepted and not used, as they do not change where rows go.
      break;
  }
}

function fromUri(uri: string): PostgresConnection {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new TypeError(
      `invalid PostgreSQL URL ${JSON.stringify(uri.replace(/:[^:@/]*@/, ':***@'))}`,
    );
  }
  const out: PostgresConnection = {};
  if (url.hostname) out.host = decodeURIComponent(url.hostname.replace(/^\[|\]$/g, ''));
  if (url.port) apply(out, 'port', url.port);
  if (url.username) out.user = decodeURIComponent(url.username);
  if (url.password) out.password = decodeURIComponent(url.password);
  const db = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (db) out.database = db;
  for (const [key, value] of url.searchParams) apply(out, key, value);
  return out;
}

/** `host:port/database` for logs and error messages (never the password). */
export function describePostgres(
  c: Pick<PostgresConnection, 'host' | 'port' | 'user' | 'database'>,
): string {
  const host = c.host ?? process.env.PGHOST ?? 'localhost';
  const port = c.port ?? (Number(process.env.PGPORT) || 5432);
  const db = c.database ?? process.env.PGDATABASE ?? c.user ?? process.env.PGUSER ?? '';
  return `${host}:${port}/${db}`;
}

/**
 * node-postgres' settings for a conninfo: a 10 s connect timeout (unless the conninfo says
 * otherwise) and TCP keep-alive, so that a database host that vanished is noticed on an idle
 * link. A URI is also handed over whole, for node-postgres to read the parameters
 * {@link parseConninfo} does not (`sslmode`, `options`, …).
 */
export function postgresClientConfig(conninfo: string): ClientConfig {
  return {
    connectionTimeoutMillis: 10_000,
    keepAlive: true,
    ...parseConninfo(conninfo),
    ...(isPostgresUri(conninfo) ? { connectionString: conninfo.trim() } : {}),
  };
}
