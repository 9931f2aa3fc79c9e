/**
 * The one classification of database errors, against errors the real drivers raise from the real
 * databases: a terminated backend, a killed connection, a refused connection or login, values too
 * large, unique violations, deadlocks and serialization failures, refused statements. No mocks:
 * each error comes from a statement that really failed.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { classifySqlError, type SqlEngine, type SqlErrorKind } from '../../src/sql/sql-errors.js';
import { freePort } from '../helpers/processes.js';
import { serviceUrls, skipUnless } from '../helpers/services.js';
import { mysqlServer } from '../storage/databases.js';

/** The error `run` throws (it must throw). */
async function failure(run: () => unknown): Promise<unknown> {
  try {
    await run();
  } catch (err) {
    return err;
  }
  assert.fail('expected the statement to fail');
}

function assertKind(engine: SqlEngine, err: unknown, kind: SqlErrorKind): void {
  assert.equal(classifySqlError(engine, err), kind, `${engine}: ${String(err)}`);
}

function table(): string {
  return `sqlerr_${randomBytes(5).toString('hex')}`;
}

describe('classifySqlError on PostgreSQL', async () => {
  const skip = await skipUnless('sql errors (postgres)', 'postgres');
  const admin = new pg.Client({ connectionString: serviceUrls.postgres });
  const dropped: string[] = [];
  if (!skip) await admin.connect();
  after(async () => {
    if (skip) return;
    for (const t of dropped) await admin.query(`DROP TABLE IF EXISTS ${t}`);
    await admin.end();
  });

  /** A connected client, and the errors it reports while idle. */
  async function client(url = serviceUrls.postgres): Promise<{ c: pg.Client; errors: unknown[] }> {
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
    const errors: unknown[] = [];
    c.on('error', (err) => errors.push(err));
    await c.connect();
    return { c, errors };
  }

  it(
    'a terminated backend is a lost connection, on the idle link and on the next statement',
    { skip },
    async () => {
      const { c, errors } = await client();
      const { rows } = await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      await admin.query('SELECT pg_terminate_backend($1)', [rows[0]?.pid]);
      for (let i = 0; i < 100 && errors.length === 0; i++)
        await new Promise((r) => setTimeout(r, 20));
      assert.ok(errors.length > 0, 'the idle client heard of it');
      for (const err of errors) assertKind('postgres', err, 'connection');
      assert.equal((errors[0] as { code?: string }).code, '57P01');
      assertKind('postgres', await failure(() => c.query('SELECT 1')), 'connection');
      await c.end().catch(() => undefined);
    },
  );

  it(
    'a refused connection is a connection error; a refused login and a missing database are refused',
    { skip },
    async () => {
      const url = new URL(serviceUrls.postgres);
      url.port = String(await freePort());
      assertKind('postgres', await failure(() => client(url.toString())), 'connection');
      const nobody = new URL(serviceUrls.postgres);
      nobody.username = `no_such_user_${randomBytes(3).toString('hex')}`;
      const login = await failure(() => client(nobody.toString()));
      assert.equal((login as { code?: string }).code, '28000');
      assertKind('postgres', login, 'refused');
      const nowhere = new URL(serviceUrls.postgres);
      nowhere.pathname = `/no_such_db_${randomBytes(3).toString('hex')}`;
      assertKind('postgres', await failure(() => client(nowhere.toString())), 'refused');
    },
  );

  it(
    'a value over the 1 GB limit is too large; a string too long for its column is refused',
    { skip },
    async () => {
      // repeat() checks the length before allocating anything.
      const big = await failure(() => admin.query("SELECT repeat('xx', 600000000)"));
      assert.equal((big as { code?: string }).code, '54000');
      assertKind('postgres', big, 'too-large');
      const t = table();
      dropped.push(t);
      await admin.query(`CREATE TABLE ${t} (id INTEGER PRIMARY KEY, name VARCHAR(8))`);
      assertKind(
        'postgres',
        await failure(() => admin.query(`INSERT INTO ${t} VALUES (1, $1)`, ['x'.repeat(9)])),
        'refused',
      );
      assertKind('postgres', await failure(() => admin.query('SELEKT 1')), 'refused');
    },
  );

  it('a duplicate key is unique; a serialization failure is retry', { skip }, async () => {
    const t = table();
    dropped.push(t);
    await admin.query(`CREATE TABLE ${t} (id INTEGER PRIMARY KEY, n INTEGER)`);
    await admin.query(`INSERT INTO ${t} VALUES (1, 0)`);
    assertKind(
      'postgres',
      await failure(() => admin.query(`INSERT INTO ${t} VALUES (1, 0)`)),
      'unique',
    );
    const { c: a } = await client();
    try {
      await a.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      await a.query(`SELECT n FROM ${t} WHERE id = 1`);
      await admin.query(`UPDATE ${t} SET n = n + 1 WHERE id = 1`);
      const conflict = await failure(() => a.query(`UPDATE ${t} SET n = n + 1 WHERE id = 1`));
      assert.equal((conflict as { code?: string }).code, '40001');
      assertKind('postgres', conflict, 'retry');
      await a.query('ROLLBACK');
    } finally {
      await a.end();
    }
  });
});

describe('classifySqlError on MariaDB', async () => {
  const skip = await skipUnless('sql errors (mysql)', 'mysql');
  const connect = (extra: Partial<mysql.ConnectionOptions> = {}): Promise<mysql.Connection> =>
    mysql.createConnection({ ...mysqlServer, connectTimeout: 5000, ...extra });
  const admin = skip ? undefined : await connect();
  const dropped: string[] = [];
  after(async () => {
    for (const t of dropped) await admin?.query(`DROP TABLE IF EXISTS ${t}`);
    await admin?.end();
  });

  it(
    'a killed connection is a lost connection, on the idle link and on the next statement',
    { skip },
    async () => {
      const c = await connect();
      const events: unknown[] = [];
      c.on('error', (err: unknown) => events.push(err));
      const [[row]] = await c.query<mysql.RowDataPacket[]>('SELECT CONNECTION_ID() AS id');
      await admin?.query(`KILL ${Number(row?.id)}`);
      for (let i = 0; i < 100 && events.length === 0; i++)
        await new Promise((r) => setTimeout(r, 20));
      assert.ok(events.length > 0, 'the idle connection heard of it');
      for (const err of events) assertKind('mysql', err, 'connection');
      assertKind('mysql', await failure(() => c.query('SELECT 1')), 'connection');
      c.destroy();
    },
  );

  it(
    'a refused connection is a connection error; a refused login and a missing database are refused',
    { skip },
    async () => {
      assertKind(
        'mysql',
        await failure(async () => connect({ port: await freePort() })),
        'connection',
      );
      const login = await failure(() =>
        connect({ user: `no_such_user_${randomBytes(3).toString('hex')}`, password: 'x' }),
      );
      // mysql2 reports it as ER_ACCESS_DENIED_ERROR or, racing the auth switch, …_NO_PASSWORD_ERROR.
      assert.match(String((login as { code?: string }).code), /^ER_ACCESS_DENIED/);
      assertKind('mysql', login, 'refused');
      assertKind(
        'mysql',
        await failure(() => connect({ database: `no_such_db_${randomBytes(3).toString('hex')}` })),
        'refused',
      );
    },
  );

  it(
    'a statement over max_allowed_packet costs the connection: a connection error',
    { skip },
    async () => {
      const c = await connect();
      c.on('error', () => undefined);
      const [[row]] = await c.query<mysql.RowDataPacket[]>('SELECT @@max_allowed_packet AS max');
      const max = Number(row?.max);
      assert.ok(max <= 64 * 1024 * 1024, `max_allowed_packet ${max} is small enough to exceed`);
      const big = await failure(() =>
        c.query('SELECT LENGTH(?) AS n', [Buffer.alloc(max + 1024, 1)]),
      );
      // The server answers ER_NET_PACKET_TOO_LARGE and closes; the reset may overtake the answer.
      assert.match(
        String((big as { code?: string }).code),
        /^(ER_NET_PACKET_TOO_LARGE|ECONNRESET|EPIPE)$/,
      );
      assertKind('mysql', big, 'connection');
      // The server really did drop it: that is why this is not a "too large, carry on" error.
      assertKind('mysql', await failure(() => c.query('SELECT 1')), 'connection');
      c.destroy();
    },
  );

  it(
    'a duplicate key is unique; a deadlock is retry; a bad statement is refused',
    { skip },
    async () => {
      const t = table();
      dropped.push(t);
      await admin?.query(`CREATE TABLE ${t} (id INT PRIMARY KEY, n INT) ENGINE=InnoDB`);
      await admin?.query(`INSERT INTO ${t} VALUES (1, 0), (2, 0)`);
      assertKind(
        'mysql',
        await failure(() => admin?.query(`INSERT INTO ${t} VALUES (1, 0)`)),
        'unique',
      );
      assertKind('mysql', await failure(() => admin?.query('SELEKT 1')), 'refused');
      const [a, b] = [await connect(), await connect()];
      try {
        await a.query('START TRANSACTION');
        await b.query('START TRANSACTION');
        await a.query(`UPDATE ${t} SET n = 1 WHERE id = 1`);
        await b.query(`UPDATE ${t} SET n = 1 WHERE id = 2`);
        // a now waits for b's row; b asking for a's row closes the cycle, and InnoDB picks one.
        const waiting = a.query(`UPDATE ${t} SET n = 2 WHERE id = 2`).then(
          () => undefined,
          (err: unknown) => err,
        );
        await new Promise((r) => setTimeout(r, 100));
        const fromB = await b.query(`UPDATE ${t} SET n = 2 WHERE id = 1`).then(
          () => undefined,
          (err: unknown) => err,
        );
        const deadlock = fromB ?? (await waiting);
        assert.equal((deadlock as { errno?: number }).errno, 1213);
        assertKind('mysql', deadlock, 'retry');
      } finally {
        await a.query('ROLLBACK').catch(() => undefined);
        await b.query('ROLLBACK').catch(() => undefined);
        await a.end();
        await b.end();
      }
    },
  );
});

/** Runs `sql` on the database in `file`, closing it whatever happens. */
function inDatabase(file: string, sql: string): void {
  const db = new Database(file);
  try {
    db.exec(sql);
  } finally {
    db.close();
  }
}

describe('classifySqlError on SQLite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gearbox-sqlerr-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a file that cannot be opened, is not a database, or cannot be written is a connection error', async () => {
    // A folder where the file should be.
    assertKind('sqlite', await failure(() => inDatabase(dir, 'CREATE TABLE t (a)')), 'connection');
    const junk = join(dir, 'junk.sqlite');
    writeFileSync(
      junk,
      'not a database, only text that is long enough to fill a header '.repeat(4),
    );
    const notADatabase = await failure(() => inDatabase(junk, 'SELECT * FROM sqlite_master'));
    assert.equal((notADatabase as { code?: string }).code, 'SQLITE_NOTADB');
    assertKind('sqlite', notADatabase, 'connection');
    const file = join(dir, 'ro.sqlite');
    const writer = new Database(file);
    writer.exec('CREATE TABLE t (id INTEGER PRIMARY KEY)');
    writer.close();
    const readonly = new Database(file, { readonly: true });
    try {
      assertKind(
        'sqlite',
        await failure(() => readonly.exec('INSERT INTO t VALUES (1)')),
        'connection',
      );
    } finally {
      readonly.close();
    }
  });

  it('a blob over SQLite’s limit is too large; a duplicate key is unique; other refusals are refused', async () => {
    const db = new Database(join(dir, 'q.sqlite'));
    try {
      // zeroblob() checks the length before allocating anything.
      const big = await failure(() => db.prepare('SELECT zeroblob(2000000000)').get());
      assert.equal((big as { code?: string }).code, 'SQLITE_TOOBIG');
      assertKind('sqlite', big, 'too-large');
      db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL, UNIQUE (name))');
      db.exec("INSERT INTO t VALUES (1, 'a')");
      assertKind('sqlite', await failure(() => db.exec("INSERT INTO t VALUES (1, 'b')")), 'unique');
      assertKind('sqlite', await failure(() => db.exec("INSERT INTO t VALUES (2, 'a')")), 'unique');
      assertKind(
        'sqlite',
        await failure(() => db.exec('INSERT INTO t VALUES (3, NULL)')),
        'refused',
      );
      assertKind('sqlite', await failure(() => db.exec('SELEKT 1')), 'refused');
    } finally {
      db.close();
    }
  });
});
