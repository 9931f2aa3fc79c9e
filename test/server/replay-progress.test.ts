/**
 * The replay at start says how far it is when it takes more than a second: the meter on a
 * fake clock, `startServer` with a store that can count its rows, and a real `gearbox server`
 * replaying a large SQLite queue.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { AdminClient } from '../../src/index.js';
import { startServer } from '../../src/server/index.js';
import {
  describeReplayProgress,
  ReplayMeter,
  type ReplayProgress,
} from '../../src/server/replay-progress.js';
import type { JobStore, StoredJob } from '../../src/storage/job-store.js';
import { Priority } from '../../src/protocol/packet-types.js';
import { spawnGearbox } from '../helpers/gearbox-cli.js';
import { eventually } from '../helpers/lib-servers.js';
import { freePort } from '../helpers/processes.js';

describe('ReplayMeter', () => {
  /** Ticks `jobs` times, advancing the fake clock by `msPerJob` each. */
  function run(jobs: number, msPerJob: number, total?: number): ReplayProgress[] {
    let now = 0;
    const reports: ReplayProgress[] = [];
    const meter = new ReplayMeter(
      (p) => reports.push(p),
      'test-store',
      total,
      {},
      () => now,
    );
    for (let i = 0; i < jobs; i++) {
      now += msPerJob;
      meter.tick();
    }
    meter.finish();
    return reports;
  }

  it('stays quiet for a replay under a second', () => {
    assert.deepEqual(run(100_000, 0.009), []);
  });

  it('reports after a second, every two after that, and once at the end', () => {
    // 1 ms a job: 5 s for 5,000 jobs (the clock is read every 1,024 jobs).
    const reports = run(5000, 1);
    assert.deepEqual(
      reports.map((r) => [r.replayed, r.done]),
      [
        [1024, false],
        [3072, false],
        [5000, true],
      ],
    );
    assert.equal(reports[0]?.rate, 1000);
    assert.equal(reports[0]?.remainingMs, undefined, 'no total, no time left');
    assert.equal(reports.at(-1)?.elapsedMs, 5000);
  });

  it('says the time left when the store gave its row count', () => {
    const reports = run(5000, 1, 5000);
    assert.equal(reports[0]?.total, 5000);
    assert.equal(reports[0]?.remainingMs, 5000 - 1024);
    assert.equal(reports.at(-1)?.remainingMs, 0);
  });

  it('is described in one line', () => {
    const base = { store: 'sqlite:/q.sqlite', elapsedMs: 1030, rate: 400_123, done: false };
    assert.equal(
      describeReplayProgress({ ...base, replayed: 412_000, total: 1_000_000, remainingMs: 1470 }),
      'replaying sqlite:/q.sqlite: 412,000 of 1,000,000 jobs (41%), 400,123 jobs/s, about 1.5 s left',
    );
    assert.equal(
      describeReplayProgress({
        ...base,
        replayed: 412_000,
        total: undefined,
        remainingMs: undefined,
      }),
      'replaying sqlite:/q.sqlite: 412,000 jobs so far, 400,123 jobs/s',
    );
    assert.equal(
      describeReplayProgress({
        ...base,
        replayed: 1_000_000,
        total: undefined,
        elapsedMs: 2500,
        rate: 400_000,
        remainingMs: 0,
        done: true,
      }),
      'replayed 1,000,000 jobs from sqlite:/q.sqlite in 2.5 s (400,000 jobs/s)',
    );
  });
});

/** A store that can count its rows and replays them slowly (a pause every 512 jobs). */
function slowCountingStore(
  jobs: number,
  pauseMs: number,
): JobStore & { countJobs(): Promise<number> } {
  const job = (i: number): StoredJob => ({
    functionName: 'replayed',
    uniqueKey: `u${i}`,
    generatedKey: false,
    priority: Priority.NORMAL,
    data: Buffer.from('x'),
    whenToRun: 0,
  });
  return {
    description: 'slow-test-store',
    open: () => Promise.resolve(),
    add: () => Promise.resolve(),
    addThen: (_job, settled, tag) => queueMicrotask(() => settled(undefined, tag)),
    remove: () => Promise.resolve(),
    close: () => Promise.resolve(),
    countJobs: () => Promise.resolve(jobs),
    async *replay() {
      for (let i = 0; i < jobs; i++) {
        if (i % 512 === 511) await sleep(pauseMs);
        yield job(i);
      }
    },
  };
}

describe('startServer: replay progress', () => {
  it('reports the jobs, the rate and the time left of a store that can count', async () => {
    const reports: ReplayProgress[] = [];
    const server = await startServer(
      { listen: ['127.0.0.1'], port: 0 },
      { store: slowCountingStore(6144, 150), onReplayProgress: (p) => reports.push(p) },
    );
    try {
      assert.ok(
        reports.length >= 2,
        `a report during the replay and one at the end: ${reports.length}`,
      );
      const during = reports[0];
      assert.ok(during && !during.done);
      assert.equal(during.store, 'slow-test-store');
      assert.equal(during.total, 6144);
      assert.ok(during.replayed > 0 && during.replayed < 6144);
      assert.ok(during.rate > 0);
      assert.ok(during.remainingMs !== undefined && during.remainingMs > 0);
      assert.deepEqual([reports.at(-1)?.done, reports.at(-1)?.replayed], [true, 6144]);
      const admin = new AdminClient({ server: `127.0.0.1:${server.port}` });
      try {
        const row = (await admin.status()).find((s) => s.name === 'replayed');
        assert.equal(row?.total, 6144, 'every job replayed');
      } finally {
        await admin.close();
      }
    } finally {
      await server.close();
    }
  });
});

describe('gearbox server: replaying a large SQLite queue', () => {
  it('prints its progress on stderr before it listens', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'gearbox-replay-'));
    const path = join(dataDir, 'queue.sqlite');
    const port = await freePort();
    // 600,000 rows: over a second to replay even on a quiet machine (about 4 s a million).
    const jobs = 600_000;
    const db = new Database(path);
    db.exec(
      'CREATE TABLE gearman_queue (unique_key TEXT, function_name TEXT, priority INTEGER, data BLOB, when_to_run INTEGER, reducer TEXT, PRIMARY KEY(unique_key,function_name))',
    );
    db.exec(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${jobs}) ` +
        `INSERT INTO gearman_queue SELECT 'u' || i, 'bulk', 1, x'78', 0, NULL FROM n`,
    );
    db.close();
    const child = spawnGearbox(['server', '-L', '127.0.0.1', '-p', String(port)], {
      GEARBOX_DATA_DIR: dataDir,
    });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    try {
      await eventually(() => /listening on/.test(stderr), 60_000, 'the server to listen');
      const lines = stderr.split('\n');
      const progress = lines.filter((l) => / jobs so far, [\d,]+ jobs\/s$/.test(l));
      assert.ok(progress.length >= 1, stderr);
      assert.match(
        progress[0] ?? '',
        new RegExp(
          `^gearbox server: replaying sqlite:${path} \\(table gearman_queue\\): [\\d,]+ jobs so far, [\\d,]+ jobs/s$`,
        ),
      );
      const done = lines.findIndex((l) =>
        new RegExp(
          `^gearbox server: replayed 600,000 jobs from sqlite:\\S+ .* in \\d+\\.\\d s \\([\\d,]+ jobs/s\\)$`,
        ).test(l),
      );
      const listening = lines.findIndex((l) => /listening on/.test(l));
      assert.ok(done !== -1 && done < listening, 'the end of the replay, then the listening line');
      const counts = progress.map((l) =>
        Number(/([\d,]+) jobs so far/.exec(l)?.[1]?.replaceAll(',', '')),
      );
      assert.deepEqual(
        counts,
        [...counts].sort((a, b) => a - b),
        'counts grow',
      );
    } finally {
      if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
      if (child.exitCode === null && child.signalCode === null)
        await new Promise((r) => child.once('exit', r));
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
