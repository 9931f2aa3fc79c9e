import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { DispatchOutcome } from '../../src/scheduler/dispatcher.js';
import { Scheduler, type SchedulerEvent } from '../../src/scheduler/scheduler.js';
import type { SchedulerStore } from '../../src/scheduler/scheduler-store.js';
import { SqliteDatabase } from '../../src/sql/sqlite-database.js';
import { SqlSchedulerStore } from '../../src/scheduler/sql-scheduler-store.js';
import { FakeClock, settle } from './fake-clock.js';
import { InProcessDispatcher } from './in-process-dispatcher.js';
import { testJob } from './store-backends.js';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

const job = testJob;

/** Counts the store's claim transactions, to show the instance does not poll needlessly. */
function counting(store: SchedulerStore): { store: SchedulerStore; claims: () => number } {
  let claims = 0;
  const proxy = new Proxy(store, {
    get(target, key, receiver) {
      const value: unknown = Reflect.get(target, key, receiver);
      if (key === 'claim' && typeof value === 'function')
        return (...args: unknown[]) => {
          claims++;
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      return typeof value === 'function'
        ? (value as (...a: unknown[]) => unknown).bind(target)
        : value;
    },
  });
  return { store: proxy, claims: () => claims };
}

describe('Scheduler on fake time (SQLite store)', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function setUp(
    options: {
      handler?: ConstructorParameters<typeof InProcessDispatcher>[1];
      pollIntervalMs?: number;
      leaseMs?: number;
    } = {},
  ) {
    const clock = new FakeClock(T0);
    const raw = new SqlSchedulerStore(new SqliteDatabase(':memory:', () => clock.now()), 'jobs');
    await raw.open();
    const { store, claims } = counting(raw);
    const dispatcher = new InProcessDispatcher(() => clock.now(), options.handler);
    const events: SchedulerEvent[] = [];
    const scheduler = new Scheduler({
      store,
      dispatcher,
      clock,
      pollIntervalMs: options.pollIntervalMs ?? 60_000,
      leaseMs: options.leaseMs ?? 30_000,
      random: () => 0.5,
      onEvent: (e) => events.push(e),
    });
    cleanups.push(async () => {
      await scheduler.stop(100);
      await raw.close();
    });
    return { clock, store: raw, claims, dispatcher, scheduler, events };
  }

  it('arms a timer for the next due job and dispatches it on the millisecond, without polling', async () => {
    const { clock, scheduler, dispatcher, claims } = await setUp();
    await scheduler.start();
    const { id } = await scheduler.schedule(job({ timing: { kind: 'after', delayMs: 10_000 } }));
    await clock.advance(9_999);
    assert.equal(dispatcher.records.length, 0, 'not early');
    await clock.advance(1);
    assert.equal(dispatcher.records.length, 1);
    assert.equal(dispatcher.records[0]?.at, T0 + 10_000);
    assert.equal(dispatcher.records[0]?.request.unique, `gbs:${id}`);
    assert.ok(claims() <= 4, `claimed ${claims()} times in 10 s`);
    await settle();
    assert.equal((await scheduler['store'].status(id))?.state, 'done');
  });

  it('re-arms for a job scheduled earlier than the armed timer', async () => {
    const { clock, scheduler, dispatcher } = await setUp();
    await scheduler.start();
    await scheduler.schedule(
      job({ payload: Buffer.from('late'), timing: { kind: 'after', delayMs: 50_000 } }),
    );
    await clock.advance(100);
    await scheduler.schedule(
      job({ payload: Buffer.from('soon'), timing: { kind: 'after', delayMs: 1_000 } }),
    );
    await clock.advance(1_000);
    assert.deepEqual(
      dispatcher.records.map((r) => [r.request.payload.toString(), r.at]),
      [['soon', T0 + 1_100]],
    );
    await clock.advance(49_000);
    assert.deepEqual(
      dispatcher.records.map((r) => [r.request.payload.toString(), r.at]),
      [
        ['soon', T0 + 1_100],
        ['late', T0 + 50_000],
      ],
    );
  });

  it('finds jobs it was not told about by the safety-net poll', async () => {
    const { clock, scheduler, store, dispatcher } = await setUp({ pollIntervalMs: 5_000 });
    await scheduler.start();
    await clock.advance(10);
    // Inserted behind the instance's back, as another instance without NOTIFY would.
    await store.schedule(job({ timing: { kind: 'after', delayMs: 2_000 } }));
    await clock.advance(4_980);
    assert.equal(dispatcher.records.length, 0);
    await clock.advance(20);
    assert.equal(dispatcher.records.length, 1);
    assert.equal(dispatcher.records[0]?.at, T0 + 5_000);
  });

  it('retries a failing job with exponential backoff, then marks it dead', async () => {
    const { clock, scheduler, store, dispatcher, events } = await setUp({
      handler: () => ({ status: 'failed', reason: 'worker said no' }),
    });
    await scheduler.start();
    const { id } = await scheduler.schedule(job({ maxAttempts: 3, backoffMs: 1_000 }));
    await clock.advance(60_000);
    // random() = 0.5: delays of 0.75 × 1 s, then 0.75 × 2 s.
    assert.deepEqual(
      dispatcher.records.map((r) => r.at - T0),
      [0, 750, 750 + 1_500],
    );
    const status = await store.status(id);
    assert.equal(status?.state, 'dead');
    assert.equal(status?.attempts, 3);
    assert.equal(status?.lastError, 'worker said no');
    assert.deepEqual(
      events.filter((e) => e.type === 'failed').map((e) => (e.type === 'failed' ? e.outcome : '')),
      ['retry', 'retry', 'dead'],
    );
    // Re-run: dispatched again at once, and the same unique id scheme for the new run.
    await scheduler.rerun(id);
    await clock.advance(0);
    assert.equal(dispatcher.records.length, 4);
  });

  it('puts a job back without counting an attempt when the outcome is unknown', async () => {
    let calls = 0;
    const { clock, scheduler, store, dispatcher } = await setUp({
      handler: (): DispatchOutcome =>
        ++calls <= 2 ? { status: 'unknown', reason: 'connection lost' } : { status: 'complete' },
    });
    await scheduler.start();
    const { id } = await scheduler.schedule(job({ maxAttempts: 1 }));
    await clock.advance(5_000);
    assert.deepEqual(
      dispatcher.records.map((r) => r.at - T0),
      [0, 1_000, 2_000],
    );
    // The same run keeps the same Gearman unique id, so a job still running coalesces.
    assert.equal(new Set(dispatcher.records.map((r) => r.request.unique)).size, 1);
    const status = await store.status(id);
    assert.equal(status?.state, 'done');
    assert.equal(status?.attempts, 0);
  });

  it('renews the lease of a dispatch that runs longer than the lease', async () => {
    let finish: (o: DispatchOutcome) => void = () => undefined;
    const { clock, scheduler, store, dispatcher, events } = await setUp({
      leaseMs: 3_000,
      pollIntervalMs: 1_000,
      handler: () => new Promise<DispatchOutcome>((resolve) => (finish = resolve)),
    });
    await scheduler.start();
    const { id } = await scheduler.schedule(job());
    await clock.advance(20_000);
    assert.equal(dispatcher.records.length, 1, 'not taken over while its lease is renewed');
    assert.equal((await store.status(id))?.state, 'running');
    finish({ status: 'complete' });
    await settle();
    assert.equal((await store.status(id))?.state, 'done');
    const completed = events.find((e) => e.type === 'completed');
    assert.ok(completed?.type === 'completed' && completed.accepted);
  });

  it('bug: stop() waited 10 s for a dispatch that never finishes and kept its claim; now it releases the job at once', async () => {
    const { clock, scheduler, store, events } = await setUp({
      handler: () => new Promise<DispatchOutcome>(() => undefined), // no worker: no answer, ever
    });
    await scheduler.start();
    const { id } = await scheduler.schedule(job());
    await clock.advance(0);
    assert.equal(scheduler.inFlightCount, 1);
    const started = Date.now();
    await scheduler.stop(); // the default grace
    assert.ok(Date.now() - started < 3_000, `stopped in ${Date.now() - started} ms`);
    assert.equal(scheduler.inFlightCount, 0);
    const status = await store.status(id);
    assert.equal(status?.state, 'pending', 'released, not left to its lease');
    assert.equal(status?.attempts, 0, 'no attempt counted');
    assert.equal(status?.runAt, T0, 'due at once for the next instance');
    const released = events.find((e) => e.type === 'released');
    assert.ok(released?.type === 'released' && /stopped/.test(released.reason));
    // The next claim (another instance, or the next start) takes it at once.
    const next = await store.claim(10, 30_000, 'next');
    assert.deepEqual(
      next.jobs.map((j) => j.id),
      [id],
    );
  });

  it('lets a dispatch that finishes within the grace record its outcome on stop', async () => {
    const { clock, scheduler, store } = await setUp({
      handler: () =>
        new Promise<DispatchOutcome>((resolve) =>
          setTimeout(() => resolve({ status: 'complete' }), 50),
        ),
    });
    await scheduler.start();
    const { id } = await scheduler.schedule(job());
    await clock.advance(0);
    await scheduler.stop(5_000);
    assert.equal((await store.status(id))?.state, 'done');
  });

  it('on stop, releases only its own claim: a job another instance took over stays with it', async () => {
    const clock = new FakeClock(T0);
    const backend = new SqliteDatabase(':memory:', () => clock.now());
    const store = new SqlSchedulerStore(backend, 'jobs');
    await store.open();
    const dispatcher = new InProcessDispatcher(
      () => clock.now(),
      () => new Promise<DispatchOutcome>(() => undefined),
    );
    const scheduler = new Scheduler({ store, dispatcher, clock });
    cleanups.push(() => store.close());
    await scheduler.start();
    const { id } = await scheduler.schedule(job());
    await clock.advance(0);
    // This instance stalled past its lease; another one reaped the job and claimed it.
    await backend.execute(`UPDATE jobs SET lease_until = ? WHERE id = ?`, [T0 - 1, Number(id)]);
    const taken = await store.claim(10, 30_000, 'other');
    assert.equal(taken.jobs[0]?.token, 2);
    await scheduler.stop(0);
    const [row] = await backend.query(`SELECT state, lease_owner, claims FROM jobs WHERE id = ?`, [
      Number(id),
    ]);
    assert.deepEqual(
      { state: row?.state, owner: row?.lease_owner, claims: Number(row?.claims) },
      { state: 'running', owner: 'other', claims: 2 },
    );
    // And the other instance's outcome is the one that counts.
    assert.deepEqual([...(await store.complete(taken.jobs))], [id]);
  });

  it('dispatches a cron schedule at each tick', async () => {
    const { clock, scheduler, dispatcher } = await setUp();
    await scheduler.start();
    await scheduler.schedule(
      job({ timing: { kind: 'cron', expression: '*/2 * * * *', timeZone: 'UTC' } }),
    );
    await clock.advance(6 * 60_000 + 1);
    assert.deepEqual(
      dispatcher.records.map((r) => (r.at - T0) / 60_000),
      [2, 4, 6],
    );
    assert.equal(new Set(dispatcher.records.map((r) => r.request.unique)).size, 3);
  });

  it('keeps no more dispatches in flight than allowed, and drains the rest later', async () => {
    const finishers: (() => void)[] = [];
    const clock = new FakeClock(T0);
    const store = new SqlSchedulerStore(new SqliteDatabase(':memory:', () => clock.now()), 'jobs');
    await store.open();
    const dispatcher = new InProcessDispatcher(
      () => clock.now(),
      () =>
        new Promise<DispatchOutcome>((resolve) =>
          finishers.push(() => resolve({ status: 'complete' })),
        ),
    );
    const scheduler = new Scheduler({ store, dispatcher, clock, maxInFlight: 3, batchSize: 2 });
    cleanups.push(async () => {
      await scheduler.stop(100);
      await store.close();
    });
    for (let i = 0; i < 7; i++) await store.schedule(job());
    await scheduler.start();
    await clock.advance(0);
    assert.equal(scheduler.inFlightCount, 3);
    for (let round = 0; round < 10 && finishers.length > 0; round++) {
      for (const finish of finishers.splice(0)) finish();
      await clock.advance(0);
      assert.ok(scheduler.inFlightCount <= 3);
    }
    assert.equal(dispatcher.records.length, 7);
  });
});
