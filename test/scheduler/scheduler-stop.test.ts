/**
 * Issue 9: `gearbox scheduler` took about 10 s to stop on SIGTERM while a dispatch waited for a
 * function no worker serves, and left its claim to expire with the lease. A stop must be prompt
 * and hand the job back at once, fenced, so that the next instance runs it (once).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '../../src/client/client.js';
import type { SqlDatabase } from '../../src/sql/sql-database.js';
import { Worker } from '../../src/worker/worker.js';
import {
  gearboxMain,
  startGearbox,
  startGearmand,
  type RunningServer,
} from '../helpers/processes.js';
import { skipUnless, type ServiceName } from '../helpers/services.js';
import { randomTable, serviceDatabase } from './store-backends.js';

/** Generous: the stop must not wait for the dispatch; the bound only catches a wait of seconds. */
const STOP_BOUND_MS = 3_000;

const scenarios: { server: 'gearbox' | 'gearmand'; store: 'sqlite' | 'postgres' | 'mysql' }[] = [
  { server: 'gearbox', store: 'sqlite' },
  { server: 'gearmand', store: 'postgres' },
  { server: 'gearmand', store: 'mysql' },
];

/** A `gearbox scheduler` process; `stop()` sends SIGTERM and resolves to the time it took. */
function startScheduler(args: string[]): {
  child: ChildProcess;
  stderr: () => string;
  stop: () => Promise<{ ms: number; code: number | null }>;
} {
  const child = spawn(process.execPath, [gearboxMain, 'scheduler', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  return {
    child,
    stderr: () => stderr,
    async stop() {
      const started = Date.now();
      if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGTERM');
      // Bounded: SIGKILL after 15 s, so a hung stop fails the assertion instead of the run.
      const killer = setTimeout(() => {
        if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
      }, 15_000);
      const [code] = await exited;
      clearTimeout(killer);
      return { ms: Date.now() - started, code };
    },
  };
}

async function waitFor<T>(probe: () => Promise<T | undefined>, what: string): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    await sleep(50);
  }
  return assert.fail(`timed out waiting for ${what}`);
}

for (const { server, store } of scenarios) {
  describe(`gearbox scheduler stop (${server} job server, ${store} store)`, async () => {
    const needs: ServiceName[] = server === 'gearmand' ? ['gearmand'] : [];
    if (store !== 'sqlite') needs.push(store);
    const skip = await skipUnless(`scheduler stop (${server}, ${store})`, ...needs);

    it(
      'bug: SIGTERM waited ~10 s for a dispatch to a function with no worker and kept its claim; now it stops at once and releases the job, which the next instance runs once',
      { skip },
      async (t) => {
        const dir = mkdtempSync(join(tmpdir(), 'gearbox-sched-stop-'));
        const table = randomTable();
        const database = serviceDatabase(store, dir);
        const storeUrl = database.url;
        const target = `stop_target_${table}`;
        const jobServer: RunningServer =
          server === 'gearmand' ? await startGearmand() : await startGearbox();
        const servers = `127.0.0.1:${jobServer.port}`;
        const args = [
          '--store',
          storeUrl,
          '--table',
          table,
          '--servers',
          servers,
          '--lease',
          '30',
          '--poll',
          '1',
        ];
        const client = new Client({ servers });
        const worker = new Worker({ servers });
        const runs: string[] = [];
        worker.register(target, (job) => {
          runs.push(job.unique);
          return 'ok';
        });
        const db: SqlDatabase = database.connect();
        const call = async (fn: string, body: unknown): Promise<Record<string, unknown>> =>
          JSON.parse(
            (await client.run(fn, JSON.stringify(body), { timeout: 2_000 })).text(),
          ) as Record<string, unknown>;
        const first = startScheduler(args);
        let second: ReturnType<typeof startScheduler> | undefined;
        try {
          // `unique`: a retry after a timed-out answer (the scheduler still starting) is the same job.
          const job = await waitFor(
            () => call('gearbox.schedule', { function: target, after: 0, unique: 'stop-once' }),
            'the scheduler to answer gearbox.schedule',
          );
          // Claimed and dispatched: the dispatch now waits for a worker that is not there.
          await waitFor(
            async () =>
              (await call('gearbox.status', { id: job.id })).state === 'running' ? true : undefined,
            'the job to be claimed',
          );
          await sleep(300);
          const stopped = await first.stop();
          assert.equal(stopped.code, 0, first.stderr());
          assert.ok(stopped.ms < STOP_BOUND_MS, `stopped in ${stopped.ms} ms`);
          t.diagnostic(`stopped in ${stopped.ms} ms with a dispatch waiting`);

          // Released: pending again, no attempt counted, no lease left to wait for.
          const [row] = await db.query(
            `SELECT state, attempts, lease_until, run_at FROM ${table} WHERE id = ?`,
            [Number(job.id)],
          );
          assert.equal(row?.state, 'pending');
          assert.equal(Number(row?.attempts), 0);
          assert.equal(row?.lease_until, null);

          // A worker and a new instance appear: the job runs once, with the job's own unique.
          await worker.start();
          second = startScheduler(args);
          await waitFor(
            async () =>
              (await call('gearbox.status', { id: job.id })).state === 'done' ? true : undefined,
            'the job to run on the next instance',
          );
          await sleep(500);
          assert.deepEqual(runs, [`gbs:${String(job.id)}`]);
          const idle = await second.stop();
          assert.equal(idle.code, 0, second.stderr());
          assert.ok(idle.ms < STOP_BOUND_MS, `an idle instance stopped in ${idle.ms} ms`);
        } finally {
          for (const s of [first, second])
            if (s && s.child.exitCode === null && s.child.pid !== undefined)
              process.kill(s.child.pid, 'SIGKILL');
          await client.close();
          await worker.stop({ timeout: 1000 });
          await jobServer.stop();
          if (store !== 'sqlite')
            await db.execute(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
          await db.close();
          rmSync(dir, { recursive: true, force: true });
        }
      },
    );
  });
}
