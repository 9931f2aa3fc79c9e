import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../src/storage/sqlite-store.js';
import { StoreError } from '../../src/storage/store-error.js';
import { job, jobStoreSuite, replayAll, type StoreTable } from './job-store-suite.js';

const dir = mkdtempSync(join(tmpdir(), 'gearbox-sqlite-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

jobStoreSuite(
  {
    name: 'sqlite',
    ordered: true,
    epoch: true,
    table(): Promise<StoreTable> {
      const file = join(dir, `queue-${++files}.sqlite`);
      return Promise.resolve({
        create: (log) => new SqliteStore({ file, log }),
        drop: () => Promise.resolve(rmSync(file, { force: true })),
      });
    },
  },
  false,
);

describe('SqliteStore specifics', () => {
  it('creates gearmand’s table layout, in WAL mode, in a folder it creates', async () => {
    const file = join(dir, 'nested', 'deeper', 'q.sqlite');
    const store = new SqliteStore({ file, table: 'my_queue' });
    await store.open();
    await store.close();
    const db = new Database(file, { readonly: true });
    const columns = db.pragma('table_info(my_queue)') as {
      name: string;
      type: string;
      pk: number;
    }[];
    db.close();
    assert.deepEqual(
      columns.map((c) => [c.name, c.type, c.pk]),
      [
        ['unique_key', 'TEXT', 1],
        ['function_name', 'TEXT', 2],
        ['priority', 'INTEGER', 0],
        ['data', 'BLOB', 0],
        ['when_to_run', 'INTEGER', 0],
        ['reducer', 'TEXT', 0],
      ],
    );
    const wal = new Database(file);
    assert.equal(wal.pragma('journal_mode', { simple: true }), 'wal');
    wal.close();
  });

  it('adds when_to_run to an old table and replays its rows as due now', async () => {
    const file = join(dir, 'old.sqlite');
    const db = new Database(file);
    db.exec(
      'CREATE TABLE gearman_queue (unique_key TEXT, function_name TEXT, priority INTEGER, data BLOB, PRIMARY KEY(unique_key,function_name))',
    );
    db.prepare('INSERT INTO gearman_queue VALUES (?, ?, ?, ?)').run(
      'u1',
      'old',
      2,
      Buffer.from('x\0y'),
    );
    db.close();
    const store = new SqliteStore({ file });
    await store.open();
    const rows = await replayAll(store);
    assert.equal(rows.length, 1);
    assert.equal(rows[0]?.functionName, 'old');
    assert.equal(rows[0]?.priority, 2);
    assert.equal(rows[0]?.whenToRun, 0);
    assert.equal(rows[0]?.data.toString('latin1'), 'x\0y');
    await store.add(job({ whenToRun: 1234 }));
    await store.close();
  });

  it('refuses a bad table name with a TypeError', () => {
    assert.throws(
      () => new SqliteStore({ file: join(dir, 'x.sqlite'), table: 'drop table x;' }),
      TypeError,
    );
  });

  it('says clearly when the file cannot be opened', async () => {
    // A path below a regular file can never be a folder.
    const blocker = join(dir, 'gearbox-cannot-be-here');
    writeFileSync(blocker, 'not a folder');
    const store = new SqliteStore({ file: join(blocker, 'q.sqlite') });
    await assert.rejects(store.open(), (err: unknown) => {
      assert.ok(err instanceof StoreError);
      assert.equal(err.code, 'STORE_UNAVAILABLE');
      assert.match(err.message, /gearbox-cannot-be-here/);
      return true;
    });
  });

  it('refuses only the row SQLite rejects; its neighbours, in earlier and later batches, keep their order', async () => {
    const file = join(dir, 'poisoned.sqlite');
    const setup = new SqliteStore({ file });
    await setup.open();
    await setup.close();
    // A real per-row failure inside SQLite: a trigger that aborts one key's insert.
    const db = new Database(file);
    db.exec(
      "CREATE TRIGGER poison BEFORE INSERT ON gearman_queue WHEN NEW.unique_key = 'poison' BEGIN SELECT RAISE(ABORT, 'poisoned row'); END",
    );
    db.close();
    const store = new SqliteStore({ file });
    await store.open();
    const keys = ['a', 'b', 'poison', 'c', 'd', 'e'];
    const outcomes: Promise<string>[] = [];
    for (const [i, key] of keys.entries()) {
      outcomes.push(
        store.add(job({ uniqueKey: key })).then(
          () => 'stored',
          (err: unknown) => (err instanceof StoreError ? err.code : String(err)),
        ),
      );
      // Several turns, so several batches are in flight at once.
      if (i % 2 === 1) await new Promise((resolve) => setImmediate(resolve));
    }
    assert.deepEqual(await Promise.all(outcomes), [
      'stored',
      'stored',
      'STORE_FAILED',
      'stored',
      'stored',
      'stored',
    ]);
    assert.deepEqual(
      (await replayAll(store)).map((j) => j.uniqueKey),
      ['a', 'b', 'c', 'd', 'e'],
    );
    await store.close();
  });

  it('keeps call order across many batches in flight, adds and removes mixed', async () => {
    const file = join(dir, 'pipelined.sqlite');
    const store = new SqliteStore({ file });
    await store.open();
    const acks: Promise<void>[] = [];
    const expected: string[] = [];
    for (let turn = 0; turn < 40; turn++) {
      for (let i = 0; i < 25; i++) {
        const key = `t${turn}-${i}`;
        acks.push(store.add(job({ uniqueKey: key })));
        expected.push(key);
      }
      // Remove one added in an earlier turn, and re-add one (a re-added row moves to the end).
      if (turn > 0) {
        const gone = `t${turn - 1}-3`;
        acks.push(store.remove({ functionName: 'fn', uniqueKey: gone }));
        expected.splice(expected.indexOf(gone), 1);
        const again = `t${turn - 1}-7`;
        acks.push(store.add(job({ uniqueKey: again })));
        expected.splice(expected.indexOf(again), 1);
        expected.push(again);
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(acks);
    await store.close();
    const reopened = new SqliteStore({ file });
    await reopened.open();
    assert.deepEqual(
      (await replayAll(reopened)).map((j) => j.uniqueKey),
      expected,
    );
    await reopened.close();
  });

  it('answers every turn while the writer lags behind (bug: a finished turn waited forever for the next turn’s eager batches)', async () => {
    // The writer thread used to keep a finished turn's transaction open when the next turn's
    // first eager batch was already queued; with every turn-ending batch in flight, nothing
    // committed again. Several stores, several turns each, so the writer does fall behind.
    for (let round = 0; round < 6; round++) {
      const store = new SqliteStore({ file: join(dir, `lagging-${round}.sqlite`) });
      await store.open();
      const acks: Promise<void>[] = [];
      const jobs = Array.from({ length: 3000 }, () => job());
      for (let i = 0; i < jobs.length; i += 300) {
        for (const j of jobs.slice(i, i + 300)) acks.push(store.add(j));
        await new Promise((resolve) => setImmediate(resolve));
      }
      for (let i = 0; i < jobs.length; i += 2) acks.push(store.remove(jobs[i] ?? job()));
      let settled = 0;
      for (const ack of acks) void ack.then(() => settled++);
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<'stuck'>((resolve) => {
        timer = setTimeout(() => resolve('stuck'), 20_000);
      });
      const outcome = await Promise.race([Promise.all(acks).then(() => 'done' as const), deadline]);
      clearTimeout(timer);
      assert.equal(outcome, 'done', `round ${round}: ${settled} of ${acks.length} settled`);
      assert.equal((await replayAll(store)).length, 1500);
      await store.close();
    }
  });
});
