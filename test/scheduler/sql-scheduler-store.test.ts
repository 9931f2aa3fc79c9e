import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { SchedulerError } from '../../src/scheduler/errors.js';
import type { NewScheduledJob } from '../../src/scheduler/scheduler-store.js';
import type { SqlDatabase } from '../../src/sql/sql-database.js';
import { SqlSchedulerStore } from '../../src/scheduler/sql-scheduler-store.js';
import { skipUnless } from '../helpers/services.js';
import { backendKinds, testJob } from './store-backends.js';

const job = (overrides: Partial<NewScheduledJob> = {}): NewScheduledJob =>
  testJob({
    ...{ functionName: 'send_mail', payload: Buffer.from('hello'), maxAttempts: 3, backoffMs: 10 },
    ...overrides,
  });

for (const kind of backendKinds) {
  describe(`SqlSchedulerStore on ${kind.name}`, async () => {
    const skip = await skipUnless(`scheduler store on ${kind.name}`, ...kind.needs);
    if (skip) {
      it('is skipped', { skip }, () => undefined);
      return;
    }
    const setup = kind.setup();
    let backend: SqlDatabase;
    let store: SqlSchedulerStore;
    // A second instance with its own connections, as another scheduler process would have.
    let backend2: SqlDatabase;
    let other: SqlSchedulerStore;

    before(async () => {
      backend = setup.connect();
      store = new SqlSchedulerStore(backend, setup.table);
      await store.open();
      backend2 = setup.connect();
      other = new SqlSchedulerStore(backend2, setup.table);
      await other.open(); // a second open of an existing table is harmless
    });
    after(async () => {
      await store.close();
      await other.close();
      await setup.cleanup();
    });

    /** Empties the table between tests that count rows. */
    async function clear(): Promise<void> {
      await backend.execute(`DELETE FROM ${setup.table}`);
    }

    it('stores a job and reports its status, with the database clock', async () => {
      const now = await store.now();
      assert.ok(Math.abs(now - Date.now()) < 5_000, 'database clock is near ours');
      const result = await store.schedule(job({ timing: { kind: 'after', delayMs: 60_000 } }));
      assert.equal(result.existing, false);
      assert.ok(result.runAt >= now + 60_000 && result.runAt < now + 65_000);
      const status = await store.status(result.id);
      assert.equal(status?.state, 'pending');
      assert.equal(status?.functionName, 'send_mail');
      assert.equal(status?.runAt, result.runAt);
      assert.equal(status?.attempts, 0);
      assert.equal(await store.status('999999999'), null);
      await assert.rejects(
        store.status('1; DROP TABLE x'),
        (e: unknown) => e instanceof SchedulerError,
      );
    });

    it('bug: a job with a run time past 9999 (or before 1970) was stored; now refused and rolled back', async () => {
      await clear();
      const now = await store.now();
      const latest = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
      for (const timing of [
        { kind: 'at', at: latest + 1 },
        { kind: 'at', at: 8.64e15 + 1 },
        { kind: 'at', at: 1e19 },
        { kind: 'at', at: -1 },
        // A library caller may build a delay the request parser would refuse.
        { kind: 'after', delayMs: latest - now + 1 },
      ] as const)
        await assert.rejects(
          store.schedule(job({ timing })),
          (e: unknown) =>
            e instanceof SchedulerError &&
            e.code === 'INVALID_REQUEST' &&
            /must be between 1970-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z/.test(e.message),
          JSON.stringify(timing),
        );
      const [row] = await backend.query(`SELECT COUNT(*) AS n FROM ${setup.table}`);
      assert.equal(Number(row?.n), 0, 'nothing stored');
      const last = await store.schedule(
        job({ timing: { kind: 'after', delayMs: latest - now - 60_000 } }),
      );
      assert.ok(last.runAt <= latest);
      assert.equal((await store.status(last.id))?.runAt, last.runAt);
    });

    it('never claims a job before its time (database clock)', async () => {
      await clear();
      const now = await store.now();
      const { id } = await store.schedule(job({ timing: { kind: 'at', at: now + 400 } }));
      const early = await store.claim(10, 10_000, 'a');
      assert.equal(early.jobs.length, 0);
      const wake = await store.nextWakeAt();
      assert.equal(wake, now + 400);
      await sleep(450);
      const onTime = await store.claim(10, 10_000, 'a');
      assert.deepEqual(
        onTime.jobs.map((j) => j.id),
        [id],
      );
      assert.ok(onTime.dbNow >= now + 400);
      assert.equal(onTime.jobs[0]?.runAt, now + 400);
      assert.equal(onTime.jobs[0]?.token, 1);
      assert.equal((await store.status(id))?.state, 'running');
    });

    it('keeps binary payloads intact', async () => {
      await clear();
      const payload = Buffer.from([0, 1, 2, 255, 254, 0, 10, 13]);
      await store.schedule(job({ payload }));
      const { jobs } = await store.claim(10, 10_000, 'a');
      assert.deepEqual(jobs[0]?.payload, payload);
    });

    it('keeps at most one pending job per function and unique', async () => {
      await clear();
      const first = await store.schedule(
        job({ unique: 'u1', timing: { kind: 'after', delayMs: 0 } }),
      );
      const again = await other.schedule(
        job({ unique: 'u1', timing: { kind: 'after', delayMs: 5000 } }),
      );
      assert.equal(again.existing, true);
      assert.equal(again.id, first.id);
      assert.equal(again.runAt, first.runAt);
      const otherFunction = await store.schedule(job({ functionName: 'other', unique: 'u1' }));
      assert.notEqual(otherFunction.id, first.id);
      // Once the job is done, the unique is free again.
      const { jobs } = await store.claim(10, 10_000, 'a');
      const mine = jobs.find((j) => j.id === first.id);
      assert.ok(mine);
      assert.deepEqual(await store.complete([mine]), new Set([first.id]));
      const third = await store.schedule(job({ unique: 'u1' }));
      assert.equal(third.existing, false);
      assert.notEqual(third.id, first.id);
    });

    it('hands each due job to exactly one of two concurrent claimers', async () => {
      if (!kind.shared) return;
      await clear();
      for (let i = 0; i < 150; i++) await store.schedule(job({ payload: Buffer.from(String(i)) }));
      const seen = new Map<string, string>();
      const claimLoop = async (s: SqlSchedulerStore, name: string): Promise<void> => {
        for (let round = 0; round < 100; round++) {
          const { jobs } = await s.claim(7, 10_000, name);
          if (jobs.length === 0) return;
          for (const j of jobs) {
            assert.equal(seen.get(j.id), undefined, `job ${j.id} claimed twice`);
            seen.set(j.id, name);
          }
        }
      };
      await Promise.all([claimLoop(store, 'a'), claimLoop(other, 'b'), claimLoop(store, 'c')]);
      assert.equal(seen.size, 150);
      assert.ok(new Set(seen.values()).size >= 2, 'both instances took part');
    });

    it('fences completion: an expired lease cannot complete a job another instance took over', async () => {
      await clear();
      const { id } = await store.schedule(job());
      const first = await store.claim(10, 100, 'a');
      const stale = first.jobs[0];
      assert.ok(stale);
      assert.equal(await store.renew([stale], 100), 1);
      await sleep(150);
      const second = await other.claim(10, 10_000, 'b'); // reaps, then claims
      const fresh = second.jobs[0];
      assert.equal(fresh?.id, id);
      assert.equal(fresh?.token, stale.token + 1);
      assert.equal(await store.renew([stale], 10_000), 0, 'a lost lease cannot be renewed');
      assert.deepEqual(await store.complete([stale]), new Set());
      assert.equal(await store.fail(stale, 'late', 0), 'stale');
      assert.equal(await store.release(stale, 0, 'late'), false);
      assert.equal((await store.status(id))?.state, 'running');
      assert.deepEqual(await other.complete([fresh]), new Set([id]));
      assert.equal((await store.status(id))?.state, 'done');
      assert.deepEqual(await other.complete([fresh]), new Set(), 'done is final');
    });

    it('completes and renews a batch of leases with different tokens, each by its own token', async () => {
      await clear();
      const now = await store.now();
      const ids: string[] = [];
      for (let i = 0; i < 3; i++)
        ids.push((await store.schedule(job({ timing: { kind: 'at', at: now - 10 + i } }))).id);
      // The first job is claimed, lost (its lease expires) and claimed again: token 2.
      const lost = (await store.claim(1, 100, 'a')).jobs[0];
      assert.equal(lost?.id, ids[0]);
      await sleep(150);
      const batch = await other.claim(10, 10_000, 'b'); // reaps, then claims all three
      assert.deepEqual(
        batch.jobs.map((j) => [j.id, j.token]),
        [
          [ids[0], 2],
          [ids[1], 1],
          [ids[2], 1],
        ],
      );
      assert.ok(lost);
      assert.equal(
        await other.renew([...batch.jobs, lost], 10_000),
        3,
        'the lost lease is not renewed',
      );
      const accepted = await other.complete([lost, ...batch.jobs.slice(1)]);
      assert.deepEqual(accepted, new Set([ids[1], ids[2]]), 'the stale token completes nothing');
      assert.equal((await store.status(ids[0] ?? ''))?.state, 'running');
      assert.deepEqual(await other.complete(batch.jobs), new Set([ids[0]]), 'done ones stay done');
      assert.equal((await store.status(ids[0] ?? ''))?.state, 'done');
    });

    it('reaps expired leases on reap() too, and nextWakeAt sees lease expiry', async () => {
      await clear();
      const { id } = await store.schedule(job());
      await store.claim(10, 200, 'a');
      const wake = await store.nextWakeAt();
      const now = await store.now();
      assert.ok(wake !== null && wake > now && wake <= now + 200, 'wakes at lease expiry');
      assert.equal(await store.reap(), 0);
      await sleep(250);
      assert.equal(await store.reap(), 1);
      assert.equal((await store.status(id))?.state, 'pending');
    });

    it('retries failures after the backoff, then the job is dead; dead jobs can be re-run', async () => {
      await clear();
      const { id } = await store.schedule(job({ maxAttempts: 2, unique: 'retry-me' }));
      const a = (await store.claim(10, 10_000, 'a')).jobs[0];
      assert.ok(a);
      assert.equal(await store.fail(a, 'boom 1', 300), 'retry');
      let status = await store.status(id);
      assert.equal(status?.state, 'pending');
      assert.equal(status?.attempts, 1);
      assert.equal(status?.lastError, 'boom 1');
      assert.equal((await store.claim(10, 10_000, 'a')).jobs.length, 0, 'not before the backoff');
      await sleep(350);
      const b = (await store.claim(10, 10_000, 'a')).jobs[0];
      assert.equal(b?.id, id);
      assert.equal(b.attempts, 1);
      assert.equal(await store.fail(b, 'boom 2', 300), 'dead');
      status = await store.status(id);
      assert.equal(status?.state, 'dead');
      assert.equal(status?.attempts, 2);
      assert.equal(status?.lastError, 'boom 2');
      const dead = await store.listDead({ limit: 10 });
      assert.deepEqual(
        dead.map((d) => d.id),
        [id],
      );
      assert.deepEqual(await store.listDead({ limit: 10, functionName: 'nope' }), []);
      // The unique is free while the job is dead; a new job takes it, so a re-run conflicts.
      const blocker = await store.schedule(
        job({ unique: 'retry-me', timing: { kind: 'after', delayMs: 60_000 } }),
      );
      await assert.rejects(
        store.rerun(id),
        (e: unknown) => e instanceof SchedulerError && e.code === 'CONFLICT',
      );
      assert.equal(await store.cancel({ id: blocker.id }), true);
      const rerun = await store.rerun(id);
      assert.equal(rerun.id, id);
      status = await store.status(id);
      assert.equal(status?.state, 'pending');
      assert.equal(status?.attempts, 0);
      const c = (await store.claim(10, 10_000, 'a')).jobs[0];
      assert.equal(c?.id, id);
      await assert.rejects(
        store.rerun(id),
        (e: unknown) => e instanceof SchedulerError && e.code === 'NOT_FOUND',
      );
    });

    it('release puts a job back without counting an attempt', async () => {
      await clear();
      const { id } = await store.schedule(job());
      const a = (await store.claim(10, 10_000, 'a')).jobs[0];
      assert.ok(a);
      assert.equal(await store.release(a, 0, 'job server unreachable'), true);
      const status = await store.status(id);
      assert.equal(status?.state, 'pending');
      assert.equal(status?.attempts, 0);
      const b = (await store.claim(10, 10_000, 'a')).jobs[0];
      assert.equal(b?.token, a.token + 1);
    });

    it('cancels by id and by function and unique', async () => {
      await clear();
      const x = await store.schedule(job({ timing: { kind: 'after', delayMs: 60_000 } }));
      const y = await store.schedule(
        job({ unique: 'k', timing: { kind: 'after', delayMs: 60_000 } }),
      );
      assert.equal(await store.cancel({ id: x.id }), true);
      assert.equal(await store.cancel({ id: x.id }), false);
      assert.equal(await store.cancel({ functionName: 'send_mail', unique: 'k' }), true);
      assert.equal(await store.cancel({ functionName: 'send_mail', unique: 'k' }), false);
      assert.equal((await store.status(y.id))?.state, 'cancelled');
      assert.equal(await store.nextWakeAt(), null);
    });

    it('fires each cron tick once, records the last tick, and moves to the next', async () => {
      await clear();
      const cron = await store.schedule(
        job({
          functionName: 'report',
          timing: { kind: 'cron', expression: '*/5 * * * *', timeZone: 'UTC' },
        }),
      );
      const now = await store.now();
      assert.equal(cron.runAt % 300_000, 0);
      assert.ok(cron.runAt > now && cron.runAt <= now + 300_000);
      assert.equal((await store.status(cron.id))?.state, 'recurring');
      // Pretend the tick came: move it into the past.
      const tick = cron.runAt - 300_000;
      await backend.execute(`UPDATE ${setup.table} SET run_at = ? WHERE id = ?`, [
        tick,
        Number(cron.id),
      ]);
      // SQLite serves one instance only; the others race two instances for the tick.
      const [b1, b2] = kind.shared
        ? await Promise.all([store.claim(10, 10_000, 'a'), other.claim(10, 10_000, 'b')])
        : [await store.claim(10, 10_000, 'a'), await store.claim(10, 10_000, 'a')];
      const runs = [...b1.jobs, ...b2.jobs];
      assert.equal(runs.length, 1, 'one run per tick');
      assert.equal(runs[0]?.functionName, 'report');
      assert.equal(runs[0]?.runAt, tick);
      const runStatus = await store.status(runs[0]?.id ?? '');
      assert.equal(runStatus?.scheduleId, cron.id);
      const schedule = await store.status(cron.id);
      assert.equal(schedule?.runAt, cron.runAt, 'the schedule moved on to the next tick');
      // The same tick again (say, a clock stepped back) does not run twice: unique (schedule, tick).
      await backend.execute(`UPDATE ${setup.table} SET run_at = ? WHERE id = ?`, [
        tick,
        Number(cron.id),
      ]);
      assert.equal((await store.claim(10, 10_000, 'a')).jobs.length, 0);
      // Cancelling the schedule ends it.
      assert.equal(await store.cancel({ id: cron.id }), true);
      assert.equal((await store.status(cron.id))?.state, 'cancelled');
    });

    it('claims oldest first and respects the limit', async () => {
      await clear();
      const now = await store.now();
      const ids: string[] = [];
      for (const offset of [-100, -300, -200]) {
        ids.push((await store.schedule(job({ timing: { kind: 'at', at: now + offset } }))).id);
      }
      const batch = await store.claim(2, 10_000, 'a');
      assert.deepEqual(
        batch.jobs.map((j) => j.id),
        [ids[1], ids[2]],
      );
    });

    it('purges finished rows after the retention time', async () => {
      await clear();
      const { id } = await store.schedule(job());
      const a = (await store.claim(1, 10_000, 'a')).jobs[0];
      assert.ok(a);
      await store.complete([a]);
      assert.equal(await store.purge(60_000), 0);
      await sleep(20);
      assert.equal(await store.purge(1), 1);
      assert.equal(await store.status(id), null);
    });
  });
}
