/**
 * Issue 9: a `gearbox.schedule` request the service refuses must leave nothing in the store, on
 * every database. Before the fix an `at` between 8.64e15 and 9.22e18 ms was committed and then
 * answered "Invalid time value" (a client that retried made duplicates, and `gearbox.status` on
 * the row failed the same way); larger values came back as raw SQL errors.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '../../src/client/client.js';
import { JobExceptionError } from '../../src/client/errors.js';
import { SchedulerService } from '../../src/scheduler/scheduler-service.js';
import type { SqlDatabase } from '../../src/sql/sql-database.js';
import { Worker } from '../../src/worker/worker.js';
import { startGearbox, type RunningServer } from '../helpers/processes.js';
import { skipUnless } from '../helpers/services.js';
import { randomTable, serviceDatabase } from './store-backends.js';

const LAST_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
const MAX_PAYLOAD = 4 * 1024 * 1024;

for (const store of ['postgres', 'mysql', 'sqlite'] as const) {
  describe(`gearbox.schedule refusals store nothing (${store})`, async () => {
    const skip = await skipUnless(
      `schedule refusals (${store})`,
      ...(store === 'sqlite' ? [] : [store]),
    );
    if (skip) {
      it('is skipped', { skip }, () => undefined);
      return;
    }
    const table = randomTable();
    const dir = mkdtempSync(join(tmpdir(), 'gearbox-sched-refuse-'));
    const database = serviceDatabase(store, dir);
    const storeUrl = database.url;
    const target = `refuse_target_${table}`;
    let jobServer: RunningServer;
    let service: SchedulerService;
    let client: Client;
    let worker: Worker;
    let db: SqlDatabase;
    const runs: Buffer[] = [];

    before(async () => {
      jobServer = await startGearbox();
      const servers = `127.0.0.1:${jobServer.port}`;
      service = await SchedulerService.start({
        servers,
        store: storeUrl,
        table,
        scheduler: { pollIntervalMs: 1_000 },
      });
      db = database.connect();
      worker = new Worker({ servers });
      worker.register(target, (job) => {
        runs.push(job.workload);
        return 'ok';
      });
      await worker.start();
      client = new Client({ servers });
    });

    after(async () => {
      await client?.close();
      await worker?.stop({ timeout: 1000 });
      await service?.stop(1000);
      await jobServer?.stop();
      if (store !== 'sqlite') await db?.execute(`DROP TABLE IF EXISTS ${table}`);
      await db?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    async function rows(): Promise<number> {
      const [row] = await db.query(`SELECT COUNT(*) AS n FROM ${table}`);
      return Number(row?.n);
    }

    async function call(fn: string, body: unknown): Promise<Record<string, unknown>> {
      const result = await client.run(fn, JSON.stringify(body), { timeout: 20_000 });
      return JSON.parse(result.text()) as Record<string, unknown>;
    }

    async function waitFor(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
      for (let i = 0; i < 300; i++) {
        if (await check()) return;
        await sleep(50);
      }
      assert.fail(`timed out waiting for ${what}`);
    }

    it('bug: an out-of-range or impossible time (and other bad fields) was stored, or refused by the database; now refused and nothing is stored', async () => {
      const refused: [Record<string, unknown>, RegExp][] = [
        // The probe's values: committed, then "Invalid time value".
        [{ at: 8.64e15 + 1 }, /'at' must be between/],
        [{ at: 9.2e18 }, /'at' must be between/],
        // Raw SQL errors before (bigint out of range), or a REAL in SQLite.
        [{ at: 1e19 }, /'at' must be between/],
        [{ at: 1e300 }, /'at' must be between/],
        [{ at: LAST_MS + 1 }, /'at' must be between/],
        [{ at: '1969-12-31T23:59:59Z' }, /'at' must be between/],
        // Impossible dates, stored as the next month's before.
        [{ at: '2026-02-30' }, /'at'.*2026-02-30/],
        [{ at: '2026-02-30T10:00:00Z' }, /'at'/],
        [{ at: '2025-02-29T00:00:00Z' }, /'at'/],
        [{ at: '2026-01-01T24:00:00Z' }, /'at'/],
        [{ after: 1e12 }, /'after'/],
        [{ after: 1, unique: 'a\0b' }, /'unique' must not contain NUL/],
        [{ after: 1, unique: 'u'.repeat(256) }, /'unique'/],
        [{ after: 1, unique: 'bad\ud800' }, /'unique'.*Unicode/],
        [{ after: 1, priority: 'urgent' }, /'priority'/],
        [{ after: 1, max_attempts: 1e12 }, /'max_attempts'/],
        [{ after: 1, backoff: 1e300 }, /'backoff'/],
        [{ cron: `0 0 1 1 ${'1,'.repeat(130)}1` }, /'cron'.*255/],
        [{ after: 1, payload_base64: Buffer.alloc(MAX_PAYLOAD + 1).toString('base64') }, /bytes/],
      ];
      const before = await rows();
      for (const [fields, reason] of refused) {
        const body = { function: target, ...fields };
        await assert.rejects(
          call('gearbox.schedule', body),
          (err: unknown) => err instanceof JobExceptionError && reason.test(err.data.toString()),
          JSON.stringify(body).slice(0, 200),
        );
        assert.equal(
          await rows(),
          before,
          `nothing stored for ${JSON.stringify(fields).slice(0, 200)}`,
        );
      }
      const badName = { function: `${'f'.repeat(513)}`, after: 1 };
      await assert.rejects(call('gearbox.schedule', badName), JobExceptionError);
      assert.equal(await rows(), before);

      // A valid job is stored, and gearbox.status on it works.
      const ok = await call('gearbox.schedule', { function: target, after: 3600, unique: 'valid' });
      assert.equal(await rows(), before + 1);
      const status = await call('gearbox.status', { id: ok.id });
      assert.equal(status.state, 'pending');
      assert.equal(status.next_run_ms, ok.run_at_ms);
      assert.deepEqual(await call('gearbox.cancel', { id: ok.id }), { cancelled: true });
    });

    it('accepts the values just inside the range, stores them exactly and runs the due ones', async () => {
      // The last millisecond of 9999: stored and reported exactly.
      const last = await call('gearbox.schedule', {
        function: target,
        at: '9999-12-31T23:59:59.999Z',
      });
      assert.equal(last.run_at_ms, LAST_MS);
      assert.equal(last.run_at, '9999-12-31T23:59:59.999Z');
      const lastStatus = await call('gearbox.status', { id: last.id });
      assert.equal(lastStatus.next_run_ms, LAST_MS);
      assert.equal(lastStatus.next_run, '9999-12-31T23:59:59.999Z');
      const [row] = await db.query(`SELECT run_at FROM ${table} WHERE id = ?`, [Number(last.id)]);
      assert.equal(Number(row?.run_at), LAST_MS);
      assert.deepEqual(await call('gearbox.cancel', { id: last.id }), { cancelled: true });

      // The first millisecond of 1970, a real leap day, a full-size payload, the longest unique:
      // all due now, all run.
      const big = Buffer.alloc(MAX_PAYLOAD, 7);
      const due = [
        await call('gearbox.schedule', { function: target, at: 0, payload: 'epoch' }),
        await call('gearbox.schedule', {
          function: target,
          at: '2024-02-29T12:00:00Z',
          payload: 'leap',
          unique: 'u'.repeat(255),
        }),
        await call('gearbox.schedule', {
          function: target,
          after: 0,
          payload_base64: big.toString('base64'),
        }),
      ];
      assert.equal(due[0]?.run_at_ms, 0);
      assert.equal(due[1]?.run_at_ms, Date.UTC(2024, 1, 29, 12));
      await waitFor(async () => {
        const states = await Promise.all(due.map((d) => call('gearbox.status', { id: d.id })));
        return states.every((s) => s.state === 'done');
      }, 'the boundary jobs to run');
      assert.ok(runs.some((r) => r.toString() === 'epoch'));
      assert.ok(runs.some((r) => r.toString() === 'leap'));
      assert.ok(
        runs.some((r) => r.equals(big)),
        'the 4 MiB payload arrived intact',
      );
    });
  });
}
