/**
 * Scheduler benchmark: lateness and dispatch rate of `gearbox scheduler` with two instances
 * (separate processes) on PostgreSQL and on MariaDB, with Debian's gearmand as the job server.
 *
 *   node <dist>/bench/scheduler/run.js [postgres|mysql ...]
 *
 * 1. Lateness: 10,000 jobs due evenly over 30 s; from each instance's history log, how late
 *    each job was dispatched (dispatch time − due time, both on this machine's clock), and from
 *    the worker, how late it ran.
 * 2. Rate: 50,000 jobs already due; dispatches per second per instance until all are done,
 *    foreground (each waits for the worker's WORK_COMPLETE) and background (SUBMIT_JOB_BG).
 * Not a pass/fail test: it prints the figures for bench/README.md.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { HistoryRecord } from '../../src/scheduler/history-log.js';
import type { SqlDatabase } from '../../src/sql/sql-database.js';
import { SqlSchedulerStore } from '../../src/scheduler/sql-scheduler-store.js';
import { Worker } from '../../src/worker/worker.js';
import { sqlDatabase } from '../../test/scheduler/store-backends.js';

const main = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const urls = {
  postgres: process.env.GEARBOX_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test',
  mysql: process.env.GEARBOX_TEST_MYSQL ?? 'mysql://root@127.0.0.1:3306/test',
};
const LATENESS_JOBS = Number(process.env.BENCH_LATENESS_JOBS ?? 10_000);
const LATENESS_WINDOW_MS = Number(process.env.BENCH_LATENESS_WINDOW_MS ?? 30_000);
const RATE_JOBS = Number(process.env.BENCH_RATE_JOBS ?? 50_000);

function freePortSync(): Promise<number> {
  return import('node:net').then(
    ({ createServer }) =>
      new Promise((resolve, reject) => {
        const server = createServer();
        server.listen(0, '127.0.0.1', () => {
          const address = server.address();
          server.close(() =>
            typeof address === 'object' && address
              ? resolve(address.port)
              : reject(new Error('no port')),
          );
        });
      }),
  );
}

async function waitForPort(port: number): Promise<void> {
  const { connect } = await import('node:net');
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port });
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`port ${port} never opened`);
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined)
    return Promise.resolve();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  process.kill(child.pid, 'SIGTERM');
  const timer = setTimeout(
    () => child.pid !== undefined && process.kill(child.pid, 'SIGKILL'),
    15_000,
  );
  return exited.then(() => clearTimeout(timer));
}

/** Inserts due jobs straight into the table, many rows per statement. */
async function bulkInsert(
  db: SqlDatabase,
  table: string,
  fn: string,
  dueTimes: number[],
  background: boolean,
) {
  const now = Date.now();
  for (let i = 0; i < dueTimes.length; i += 500) {
    const chunk = dueTimes.slice(i, i + 500);
    const params: unknown[] = [];
    for (const at of chunk)
      params.push(fn, Buffer.from('x'), 1, background ? 1 : 0, at, 'pending', 1, 0, now, now);
    await db.execute(
      `INSERT INTO ${table} (function_name, payload, priority, background, run_at, state, max_attempts,
         backoff_ms, created_at, updated_at) VALUES ${chunk.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
      params,
    );
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p))] ?? NaN;
}

function summary(values: number[]): string {
  const s = [...values].sort((a, b) => a - b);
  return `p50 ${percentile(s, 0.5).toFixed(1)} ms, p99 ${percentile(s, 0.99).toFixed(1)} ms, max ${(s.at(-1) ?? NaN).toFixed(1)} ms (n=${s.length})`;
}

async function runDb(kind: 'postgres' | 'mysql'): Promise<void> {
  const url = urls[kind];
  const db = sqlDatabase(url, 2);
  const port = await freePortSync();
  const gearmand = spawn(
    'gearmand',
    ['-L', '127.0.0.1', '-p', String(port), '-l', 'stderr', '-t', '2'],
    {
      stdio: 'ignore',
    },
  );
  await waitForPort(port);
  const servers = `127.0.0.1:${port}`;
  // BENCH_KEEP_HISTORY=<dir> keeps the instances' history logs there for a closer look.
  const keep = process.env.BENCH_KEEP_HISTORY;
  const dir = keep
    ? mkdtempSync(join(keep, `${kind}-`))
    : mkdtempSync(join(tmpdir(), 'gearbox-sched-bench-'));
  const workerRuns: { fn: string; at: number }[] = [];
  const worker = new Worker({ servers, concurrency: 500 });
  const fnLate = `bench_late_${process.pid}`;
  const fnRate = `bench_rate_${process.pid}`;
  worker.register(fnLate, () => {
    workerRuns.push({ fn: fnLate, at: performance.timeOrigin + performance.now() });
    return '';
  });
  worker.register(fnRate, () => '');
  await worker.start();
  try {
    const phases = (process.env.BENCH_PHASES ?? 'lateness,rate-foreground,rate-background').split(
      ',',
    );
    for (const phase of (['lateness', 'rate-foreground', 'rate-background'] as const).filter((p) =>
      phases.includes(p),
    )) {
      const table = `sched_bench_${Math.random().toString(16).slice(2, 10)}`;
      const store = new SqlSchedulerStore(db, table);
      await store.open();
      const instances: ChildProcess[] = [];
      const histories = ['1', '2'].map((n) => join(dir, `${phase}-${n}.jsonl`));
      let dueTimes: number[] = [];
      if (phase === 'lateness') {
        const start = Date.now() + 6_000;
        dueTimes = Array.from(
          { length: LATENESS_JOBS },
          (_, i) => start + Math.floor((i * LATENESS_WINDOW_MS) / LATENESS_JOBS),
        );
        await bulkInsert(db, table, fnLate, dueTimes, false);
      } else {
        await bulkInsert(
          db,
          table,
          fnRate,
          Array.from({ length: RATE_JOBS }, () => Date.now() - 1000),
          phase === 'rate-background',
        );
      }
      workerRuns.length = 0;
      const started = Date.now();
      for (const [i, history] of histories.entries()) {
        const args = [
          main,
          'scheduler',
          '--store',
          url,
          '--table',
          table,
          '--servers',
          servers,
          '--owner',
          `i${i + 1}`,
          '--keep-finished',
          '0',
          '--batch',
          '500',
          '--max-in-flight',
          '5000',
          '--poll',
          '1',
        ];
        if (phase === 'lateness') args.push('--history', history);
        // BENCH_INSTANCE_NODE_ARGS, e.g. `--cpu-prof --cpu-prof-dir=DIR`, profiles the instances.
        const nodeArgs = (process.env.BENCH_INSTANCE_NODE_ARGS ?? '').split(' ').filter(Boolean);
        instances.push(
          spawn(process.execPath, [...nodeArgs, ...args], {
            stdio: ['ignore', 'ignore', 'inherit'],
          }),
        );
      }
      const total = phase === 'lateness' ? LATENESS_JOBS : RATE_JOBS;
      const deadline = Date.now() + 180_000;
      for (;;) {
        const rows = await db.query(`SELECT COUNT(*) AS n FROM ${table} WHERE state = 'done'`);
        if (Number(rows[0]?.n) >= total || Date.now() > deadline) break;
        await sleep(200);
      }
      const perOwner = await db.query(
        `SELECT lease_owner AS owner, COUNT(*) AS n, MIN(finished_at) AS first, MAX(finished_at) AS last
         FROM ${table} WHERE state = 'done' GROUP BY lease_owner ORDER BY lease_owner`,
      );
      await Promise.all(instances.map(stop));
      if (phase === 'lateness') {
        const dispatchLate: number[] = [];
        for (const file of histories)
          for (const line of readFileSync(file, 'utf8').split('\n')) {
            if (!line.startsWith('{')) continue;
            const h = JSON.parse(line) as HistoryRecord;
            if (h.type === 'dispatched' && h.runAt !== undefined) dispatchLate.push(h.at - h.runAt);
          }
        const sortedDue = [...dueTimes].sort((a, b) => a - b);
        const runTimes = workerRuns.map((r) => r.at).sort((a, b) => a - b);
        // The worker does not know which job it ran (no id in the payload), so runs are matched
        // to due times in order: the i-th run against the i-th due time.
        const runLate = runTimes.map((at, i) => at - (sortedDue[i] ?? at));
        console.log(
          `${kind} lateness, ${LATENESS_JOBS} jobs over ${LATENESS_WINDOW_MS / 1000} s, 2 instances:`,
        );
        console.log(`  dispatch: ${summary(dispatchLate)}`);
        console.log(`  run (worker, matched in order): ${summary(runLate)}`);
        console.log(
          `  per instance: ${perOwner.map((r) => `${String(r.owner)} ${Number(r.n)}`).join(', ')}`,
        );
      } else {
        console.log(
          `${kind} ${phase}, ${RATE_JOBS} due jobs, 2 instances (${cpus().length} cores shared with gearmand, the worker and the database):`,
        );
        for (const r of perOwner) {
          const span = (Number(r.last) - Number(r.first)) / 1000;
          console.log(
            `  ${String(r.owner)}: ${Number(r.n)} jobs in ${span.toFixed(2)} s = ${(Number(r.n) / span).toFixed(0)} dispatches/s`,
          );
        }
        const all = await db.query(
          `SELECT MIN(finished_at) AS first, MAX(finished_at) AS last, COUNT(*) AS n FROM ${table} WHERE state = 'done'`,
        );
        const span = (Number(all[0]?.last) - Number(all[0]?.first)) / 1000;
        console.log(
          `  total: ${Number(all[0]?.n)} in ${span.toFixed(2)} s = ${(Number(all[0]?.n) / span).toFixed(0)}/s (wall ${((Date.now() - started) / 1000).toFixed(1)} s incl. start-up)`,
        );
      }
      await db.execute(`DROP TABLE IF EXISTS ${table}`);
    }
  } finally {
    await worker.stop({ timeout: 1000 });
    await stop(gearmand);
    await db.close();
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
}

const kinds = process.argv
  .slice(2)
  .filter((a): a is 'postgres' | 'mysql' => a === 'postgres' || a === 'mysql');
for (const kind of kinds.length > 0 ? kinds : (['postgres', 'mysql'] as const)) await runDb(kind);
