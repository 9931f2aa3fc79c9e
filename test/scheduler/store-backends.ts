/**
 * The three SQL backends the scheduler store runs on, for tests: each with a random table name
 * (other engineers share the databases) and a way to drop it afterwards.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Priority } from '../../src/protocol/packet-types.js';
import type { NewScheduledJob } from '../../src/scheduler/scheduler-store.js';
import { MysqlDatabase } from '../../src/sql/mysql-database.js';
import { PostgresDatabase } from '../../src/sql/postgres-database.js';
import type { SqlDatabase } from '../../src/sql/sql-database.js';
import { SqliteDatabase } from '../../src/sql/sqlite-database.js';
import { parseStoreUrl } from '../../src/sql/store-url.js';
import { serviceUrls, type ServiceName } from '../helpers/services.js';

/** A backend kind under test. */
export interface BackendKind {
  readonly name: 'postgres' | 'mysql' | 'sqlite';
  /** The services the kind needs, for skipUnless. */
  readonly needs: ServiceName[];
  /** Whether several instances may share it. */
  readonly shared: boolean;
  /** A fresh table name and a factory for connections to the same database. */
  setup(): { table: string; connect: () => SqlDatabase; cleanup: () => Promise<void> };
}

/** A valid job with the given fields changed, for tests. */
export function testJob(overrides: Partial<NewScheduledJob> = {}): NewScheduledJob {
  return {
    functionName: 'f',
    payload: Buffer.from('x'),
    timing: { kind: 'after', delayMs: 0 },
    priority: Priority.NORMAL,
    maxAttempts: 3,
    backoffMs: 1000,
    background: false,
    ...overrides,
  };
}

/** A table name no one else uses. */
export function randomTable(): string {
  return `sched_test_${randomBytes(5).toString('hex')}`;
}

/** A kind whose database other instances share: a random table, dropped afterwards. */
/** A pool on the PostgreSQL or MySQL database a URL names. */
export function sqlDatabase(url: string, poolSize?: number): SqlDatabase {
  const location = parseStoreUrl(url);
  if (location.type === 'postgres') return new PostgresDatabase(location.conninfo, poolSize);
  if (location.type === 'mysql') return new MysqlDatabase(location, poolSize);
  throw new TypeError(`not a PostgreSQL or MySQL URL: ${url}`);
}

function sharedKind(name: 'postgres' | 'mysql', connect: () => SqlDatabase): BackendKind {
  return {
    name,
    needs: [name],
    shared: true,
    setup() {
      const table = randomTable();
      return {
        table,
        connect,
        cleanup: async () => {
          const db = connect();
          await db.execute(`DROP TABLE IF EXISTS ${table}`);
          await db.close();
        },
      };
    },
  };
}

export const backendKinds: BackendKind[] = [
  sharedKind('postgres', () => sqlDatabase(serviceUrls.postgres)),
  sharedKind('mysql', () => sqlDatabase(serviceUrls.mysql)),
  {
    name: 'sqlite',
    needs: [],
    shared: false,
    setup() {
      const dir = mkdtempSync(join(tmpdir(), 'gearbox-sched-'));
      const file = join(dir, 'scheduler.sqlite');
      return {
        table: randomTable(),
        connect: () => new SqliteDatabase(file),
        cleanup: () => {
          rmSync(dir, { recursive: true, force: true });
          return Promise.resolve();
        },
      };
    },
  },
];

/**
 * A database for a test that runs the whole service: the URL `gearbox scheduler` takes (SQLite
 * in `dir`), and a backend on the same database, for looking at the rows and dropping the table.
 */
export function serviceDatabase(
  name: BackendKind['name'],
  dir: string,
): { url: string; connect: () => SqlDatabase } {
  if (name === 'sqlite') {
    const file = join(dir, 'jobs.sqlite');
    return { url: `sqlite:${file}`, connect: () => new SqliteDatabase(file) };
  }
  const url = serviceUrls[name];
  return {
    url,
    connect: () => sqlDatabase(url),
  };
}
