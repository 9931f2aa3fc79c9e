/**
 * The dialects' capabilities are true of the real databases (what a dialect says it can do runs
 * there, and what it says it cannot is refused), and the statements they build do what they say.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  mysqlDialect,
  postgresDialect,
  sqliteDialect,
  type TableSpec,
} from '../../src/sql/dialect.js';
import { backendKinds } from '../scheduler/store-backends.js';
import { skipUnless } from '../helpers/services.js';

const spec: TableSpec = {
  columns: [
    ['id', 'id'],
    ['name', { varchar: 32 }, 'NOT NULL'],
    ['n', 'int', 'NOT NULL DEFAULT 0'],
    ['payload', 'blob'],
  ],
  unique: [{ name: 'name', columns: ['name'] }],
  indexes: [{ name: 'n', columns: ['n'] }],
};

describe('dialect statements', () => {
  it('spell placeholders, row locks, insert-ignore and upsert as each database does', () => {
    assert.equal(postgresDialect.placeholders('a = ? AND b IN (?, ?)'), 'a = $1 AND b IN ($2, $3)');
    assert.equal(mysqlDialect.placeholders('a = ?'), 'a = ?');
    assert.deepEqual(
      [postgresDialect, mysqlDialect, sqliteDialect].map((d) => [
        d.forUpdate(),
        d.forUpdate({ skipLocked: true }),
      ]),
      [
        ['FOR UPDATE', 'FOR UPDATE SKIP LOCKED'],
        ['FOR UPDATE', 'FOR UPDATE SKIP LOCKED'],
        ['', ''],
      ],
    );
    assert.equal(
      postgresDialect.insertIgnore('t', ['a', 'b']),
      'INSERT INTO t (a, b) VALUES (?, ?) ON CONFLICT DO NOTHING RETURNING id',
    );
    assert.equal(mysqlDialect.insertIgnore('t', ['a']), 'INSERT IGNORE INTO t (a) VALUES (?)');
    assert.equal(sqliteDialect.insertIgnore('t', ['a']), 'INSERT OR IGNORE INTO t (a) VALUES (?)');
    const columns = ['k', 'v', 'w'];
    assert.equal(
      postgresDialect.upsert('t', columns, ['k'], 'VALUES (?, ?, ?)'),
      'INSERT INTO t (k, v, w) VALUES (?, ?, ?) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v, w = EXCLUDED.w',
    );
    assert.equal(
      mysqlDialect.upsert('t', columns, ['k'], 'VALUES (?, ?, ?)'),
      'INSERT INTO t (k, v, w) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE v = VALUES(v), w = VALUES(w)',
    );
    assert.equal(
      sqliteDialect.upsert('t', columns, ['k'], 'VALUES (?, ?, ?)'),
      'INSERT OR REPLACE INTO t (k, v, w) VALUES (?, ?, ?)',
    );
  });

  it('declare keys in the table where CREATE INDEX IF NOT EXISTS is missing (MySQL)', () => {
    const [mysqlCreate, ...mysqlRest] = mysqlDialect.createTable('t', spec);
    assert.deepEqual(mysqlRest, []);
    assert.match(
      mysqlCreate ?? '',
      /UNIQUE KEY t_name \(name\),\s+KEY t_n \(n\)\s+\) ENGINE=InnoDB/,
    );
    const [create, ...indexes] = postgresDialect.createTable('t', spec);
    assert.match(create ?? '', /id BIGSERIAL PRIMARY KEY,\s+name VARCHAR\(32\) NOT NULL,/);
    assert.deepEqual(indexes, ['CREATE INDEX IF NOT EXISTS t_n ON t (n)']);
  });
});

for (const kind of backendKinds) {
  describe(`${kind.name} dialect on the real database`, async () => {
    const skip = await skipUnless(`dialect on ${kind.name}`, ...kind.needs);

    it('what it says it can do runs, what it says it cannot is refused', { skip }, async () => {
      const { table: t, connect, cleanup } = kind.setup();
      const db = connect();
      const other = connect();
      const { dialect } = db;
      try {
        for (const statement of dialect.createTable(t, spec)) await db.execute(statement);
        // Again: every statement is IF NOT EXISTS.
        for (const statement of dialect.createTable(t, spec)) await db.execute(statement);
        const now = Number((await db.query(`SELECT ${dialect.nowMs} AS now`))[0]?.now);
        assert.ok(Math.abs(now - Date.now()) < 60_000, `database clock ${now}`);

        const id = await db.insertIgnore(t, { name: 'a', n: 1 });
        assert.match(String(id), /^\d+$/);
        assert.equal(await db.insertIgnore(t, { name: 'a', n: 2 }), null);
        await db.execute(dialect.upsert(t, ['id', 'name', 'n'], ['id'], 'VALUES (?, ?, ?)'), [
          Number(id),
          'a',
          5,
        ]);
        const rows = await db.query(`SELECT id, name, n FROM ${t}`);
        assert.deepEqual(
          rows.map((r) => [Number(r.id), r.name, Number(r.n)]),
          [[Number(id), 'a', 5]],
        );

        const returning = db
          .query(`UPDATE ${t} SET n = n + 1 WHERE name = ? RETURNING id`, ['a'])
          .then((r) => r.length);
        if (dialect.updateReturning) assert.equal(await returning, 1);
        else await assert.rejects(returning);

        const cte = db.query(
          `WITH moved AS (UPDATE ${t} SET n = n + 1 WHERE name = ? RETURNING id) SELECT COUNT(*) AS c FROM moved`,
          ['a'],
        );
        if (dialect.writableCte) assert.equal(Number((await cte)[0]?.c), 1);
        else await assert.rejects(cte);

        if (dialect.skipLocked) {
          // A row one transaction holds is passed over by another, without waiting.
          await db.transaction(async (tx) => {
            assert.equal((await tx.query(`SELECT id FROM ${t} ${dialect.forUpdate()}`)).length, 1);
            const seen = await other.transaction((tx2) =>
              tx2.query(`SELECT id FROM ${t} ${dialect.forUpdate({ skipLocked: true })}`),
            );
            assert.deepEqual(seen, []);
          });
        } else {
          assert.equal(dialect.forUpdate({ skipLocked: true }), '');
        }
      } finally {
        await other.close();
        await db.close();
        await cleanup();
      }
    });
  });
}
