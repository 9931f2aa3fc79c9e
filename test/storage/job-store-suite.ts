/**
 * The one test suite every JobStore backend passes, run against the real database by
 * test/storage/<backend>-store.test.ts. Each test gets a fresh table (or key prefix) and drops it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { Priority } from '../../src/protocol/packet-types.js';
import type { BatchingStore } from '../../src/storage/batching-store.js';
import { GENERATED_KEY_PREFIX, type StoredJob } from '../../src/storage/job-store.js';
import { StoreError, type StoreLogger } from '../../src/storage/store-error.js';

/** A store under test, created on the table its `StoreTable` owns. */
export type TestStore = BatchingStore;

/** One fresh table (or prefix) in a real database, and how to make stores on it. */
export interface StoreTable {
  /** A new, unopened store on this table. */
  create(log?: StoreLogger): TestStore;
  /** Drops the table (or deletes the keys). */
  drop(): Promise<void>;
}

/** What a backend can do, and how to reach it. */
export interface BackendUnderTest {
  readonly name: string;
  /** False when the backend does not keep insertion order on replay (Redis). */
  readonly ordered: boolean;
  /** False when the backend refuses epoch jobs (Redis, as in gearmand). */
  readonly epoch: boolean;
  /** Makes a fresh table. */
  table(): Promise<StoreTable>;
  /** Kills the store's database connection from the database side, if the backend has one. */
  readonly killConnection?: (store: TestStore) => Promise<void>;
}

let counter = 0;

/** A job with sensible defaults for the fields a test does not care about. */
export function job(overrides: Partial<StoredJob> = {}): StoredJob {
  counter++;
  return {
    functionName: 'fn',
    uniqueKey: `u${counter}`,
    generatedKey: false,
    priority: Priority.NORMAL,
    data: Buffer.from(`payload ${counter}`),
    whenToRun: 0,
    ...overrides,
  };
}

/** Everything the store replays, in replay order. */
export async function replayAll(store: TestStore): Promise<StoredJob[]> {
  const jobs: StoredJob[] = [];
  for await (const j of store.replay()) jobs.push(j);
  return jobs;
}

function byKey(jobs: readonly StoredJob[]): Map<string, StoredJob> {
  return new Map(jobs.map((j) => [`${j.functionName}/${j.uniqueKey}`, j]));
}

function comparable(j: StoredJob): unknown {
  return {
    functionName: j.functionName,
    uniqueKey: j.uniqueKey,
    generatedKey: j.generatedKey,
    priority: j.priority,
    data: j.data.toString('hex'),
    whenToRun: j.whenToRun,
    reducer: j.reducer,
  };
}

/** Waits until `condition()` holds, polling; fails after `timeoutMs`. */
export async function eventually(
  what: string,
  condition: () => Promise<boolean> | boolean,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; attempt < 10_000; attempt++) {
    if (await condition()) return;
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting for ${what}`);
}

/** Registers the shared suite for one backend. `skip` comes from `skipUnless`. */
export function jobStoreSuite(backend: BackendUnderTest, skip: false | string): void {
  describe(`JobStore contract: ${backend.name}`, { skip }, () => {
    const tables: StoreTable[] = [];
    const open: TestStore[] = [];

    async function fresh(log?: StoreLogger): Promise<{ table: StoreTable; store: TestStore }> {
      const table = await backend.table();
      tables.push(table);
      const store = table.create(log);
      open.push(store);
      await store.open();
      return { table, store };
    }

    async function reopen(table: StoreTable): Promise<TestStore> {
      const store = table.create();
      open.push(store);
      await store.open();
      return store;
    }

    after(async () => {
      for (const s of open) await s.close().catch(() => {});
      for (const t of tables) await t.drop().catch(() => {});
    });

    it('keeps every field, binary data with NUL bytes and 1 MB payloads, across a reopen', async () => {
      const { table, store } = await fresh();
      const jobs = [
        job({ priority: Priority.HIGH, data: Buffer.from([0, 1, 0, 255, 0]) }),
        job({ priority: Priority.NORMAL, data: Buffer.alloc(0) }),
        job({ priority: Priority.LOW, data: randomBytes(1024 * 1024) }),
        job({
          functionName: 'fn-with-dash',
          uniqueKey: 'uniq-with-dash-2',
          data: Buffer.from('\0'),
        }),
        job({ functionName: 'ünïcode', uniqueKey: 'ключ', reducer: 'my-reducer' }),
        ...(backend.epoch ? [job({ whenToRun: 2_000_000_000 })] : []),
      ];
      await Promise.all(jobs.map((j) => store.add(j)));
      await store.close();
      const again = await reopen(table);
      const replayed = byKey(await replayAll(again));
      assert.equal(replayed.size, jobs.length);
      for (const j of jobs) {
        const got = replayed.get(`${j.functionName}/${j.uniqueKey}`);
        assert.ok(got, `${j.functionName}/${j.uniqueKey} replayed`);
        assert.deepEqual(comparable(got), comparable(j));
      }
    });

    it('gives back an empty unique id as a generated key', async () => {
      const { table, store } = await fresh();
      const anonymous = job({
        uniqueKey: `${GENERATED_KEY_PREFIX}${randomBytes(16).toString('hex')}`,
        generatedKey: true,
      });
      const named = job();
      await Promise.all([store.add(anonymous), store.add(named)]);
      const replayed = byKey(await replayAll(await reopen(table)));
      assert.equal(replayed.get(`fn/${anonymous.uniqueKey}`)?.generatedKey, true);
      assert.equal(replayed.get(`fn/${named.uniqueKey}`)?.generatedKey, false);
      await store.remove(anonymous);
      assert.equal(byKey(await replayAll(store)).has(`fn/${anonymous.uniqueKey}`), false);
    });

    it('removes rows, and a missing row is not an error', async () => {
      const { store } = await fresh();
      const [a, b, c] = [job(), job(), job()];
      await Promise.all([store.add(a), store.add(b), store.add(c)]);
      await store.remove(b);
      await store.remove({ functionName: 'fn', uniqueKey: 'never-added' });
      assert.deepEqual(
        [...byKey(await replayAll(store)).keys()].sort(),
        [`fn/${a.uniqueKey}`, `fn/${c.uniqueKey}`].sort(),
      );
    });

    it('applies one turn in call order: add then remove leaves no row, remove then add leaves one', async () => {
      const { store } = await fresh();
      const gone = job();
      const kept = job();
      await store.add(kept);
      await Promise.all([
        store.add(gone),
        store.remove(gone),
        store.remove(kept),
        store.add({ ...kept, data: Buffer.from('second') }),
      ]);
      const rows = await replayAll(store);
      assert.equal(rows.length, 1);
      assert.equal(rows[0]?.uniqueKey, kept.uniqueKey);
      assert.equal(rows[0]?.data.toString(), 'second');
    });

    it('replaces a row with the same function and unique', async () => {
      const { store } = await fresh();
      const first = job({ priority: Priority.LOW });
      await store.add(first);
      await store.add({ ...first, priority: Priority.HIGH, data: Buffer.from('new') });
      const rows = await replayAll(store);
      assert.equal(rows.length, 1);
      assert.equal(rows[0]?.priority, Priority.HIGH);
      assert.equal(rows[0]?.data.toString(), 'new');
      // The same unique under another function is another row.
      await store.add({ ...first, functionName: 'other' });
      assert.equal((await replayAll(store)).length, 2);
    });

    it(
      'replays in submission order',
      { skip: !backend.ordered && 'unordered backend' },
      async () => {
        const { store } = await fresh();
        const jobs: StoredJob[] = [];
        for (let i = 0; i < 30; i++) {
          const j = job({ uniqueKey: `order-${String(29 - i).padStart(2, '0')}` });
          jobs.push(j);
          // Some in the same turn, some in later turns.
          if (i % 7 === 0) await store.add(j);
          else void store.add(j);
        }
        await store.remove({ functionName: 'fn', uniqueKey: 'flush-barrier' });
        assert.deepEqual(
          (await replayAll(store)).map((j) => j.uniqueKey),
          jobs.map((j) => j.uniqueKey),
        );
      },
    );

    it('commits all the adds of one event-loop turn in one transaction', async () => {
      const { store } = await fresh();
      const before = store.commits;
      const jobs = Array.from({ length: 2000 }, () => job());
      await Promise.all(jobs.map((j) => store.add(j)));
      assert.equal(store.commits - before, 1);
      assert.equal((await replayAll(store)).length, 2000);
      // Removals of one turn too.
      await Promise.all(jobs.slice(0, 1000).map((j) => store.remove(j)));
      assert.equal(store.commits - before, 2);
      assert.equal((await replayAll(store)).length, 1000);
    });

    it('commits adds made while a commit is in flight in the next transaction', async () => {
      const { store } = await fresh();
      const before = store.commits;
      const first = store.add(job());
      await new Promise((r) => setImmediate(r));
      const later = Array.from({ length: 50 }, () => store.add(job()));
      await Promise.all([first, ...later]);
      assert.ok(store.commits - before <= 2, `${store.commits - before} commits`);
    });

    it('flushes on close', async () => {
      const { table, store } = await fresh();
      const jobs = Array.from({ length: 100 }, () => job());
      const acks = jobs.map((j) => store.add(j));
      const removal = store.remove(jobs[0] ?? job());
      await store.close();
      await Promise.all([...acks, removal]);
      await assert.rejects(store.add(job()), (err: unknown) => {
        assert.ok(err instanceof StoreError);
        assert.equal(err.code, 'STORE_CLOSED');
        return true;
      });
      assert.equal((await replayAll(await reopen(table))).length, 99);
    });

    if (!backend.epoch) {
      it('refuses epoch jobs with a clear error, as gearmand does', async () => {
        const { store } = await fresh();
        await assert.rejects(store.add(job({ whenToRun: 2_000_000_000 })), (err: unknown) => {
          assert.ok(err instanceof StoreError);
          assert.equal(err.code, 'EPOCH_NOT_SUPPORTED');
          assert.match(err.message, /epoch|run time/i);
          return true;
        });
        await store.add(job());
        assert.equal((await replayAll(store)).length, 1);
      });
    }

    const kill = backend.killConnection;
    if (kill) {
      it('refuses adds while the connection is gone, reconnects, and applies queued removals', async () => {
        const lines: string[] = [];
        const { table, store } = await fresh((level, message) => lines.push(`${level} ${message}`));
        const done = job();
        const kept = job();
        await Promise.all([store.add(done), store.add(kept)]);
        await kill(store);
        // The first add after the kill may be the one that discovers it; any add is refused from then on.
        let refusal: unknown;
        const acceptedMeanwhile: StoredJob[] = [];
        await eventually('an add to be refused', async () => {
          const probe = job();
          try {
            await store.add(probe);
            acceptedMeanwhile.push(probe);
            return false;
          } catch (err) {
            refusal = err;
            return true;
          }
        });
        assert.ok(refusal instanceof StoreError);
        assert.equal(refusal.code, 'STORE_UNAVAILABLE');
        assert.ok(refusal.message.includes(store.description), refusal.message);
        const removal = store.remove(done);
        const afterwards = job();
        await eventually('adds to succeed again', async () => {
          try {
            await store.add(afterwards);
            return true;
          } catch (err) {
            assert.ok(err instanceof StoreError, String(err));
            return false;
          }
        });
        await removal;
        assert.ok(
          lines.some((l) => /connection lost/.test(l)),
          lines.join('\n'),
        );
        assert.ok(
          lines.some((l) => /reconnected/.test(l)),
          lines.join('\n'),
        );
        await store.close();
        const keys = [...byKey(await replayAll(await reopen(table))).keys()].sort();
        const expected = [afterwards, kept, ...acceptedMeanwhile].map((j) => `fn/${j.uniqueKey}`);
        assert.deepEqual(keys, expected.sort());
      });
    }

    it('keeps many concurrent adds and removes from several turns consistent', async () => {
      const { table, store } = await fresh();
      const jobs = Array.from({ length: 3000 }, () => job({ data: randomBytes(64) }));
      const ops: Promise<void>[] = [];
      for (let i = 0; i < jobs.length; i += 300) {
        for (const j of jobs.slice(i, i + 300)) ops.push(store.add(j));
        await new Promise((r) => setImmediate(r));
      }
      for (let i = 0; i < jobs.length; i += 2) ops.push(store.remove(jobs[i] ?? job()));
      await Promise.all(ops);
      await store.close();
      const replayed = byKey(await replayAll(await reopen(table)));
      assert.equal(replayed.size, 1500);
      for (let i = 1; i < jobs.length; i += 2) {
        const j = jobs[i];
        assert.ok(j);
        assert.equal(
          replayed.get(`fn/${j.uniqueKey}`)?.data.toString('hex'),
          j.data.toString('hex'),
        );
      }
    });
  });
}
