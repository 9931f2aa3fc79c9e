/**
 * Module workers under `gearbox manager`, against a real `gearbox server`: SIGTERM lets running
 * jobs finish (every client gets its result, every job runs once, exit 0); a change under
 * `watch` replaces the processes one at a time while jobs flow, with no failed job; SIGKILL of
 * the manager leaves no child or grandchild alive; `status` and `scale` over the socket.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startGearboxServer, type GearboxProcess } from '../helpers/gearbox-cli.js';
import { gearboxMain } from '../helpers/processes.js';
import { alive, launch, running, survivors, tempDir, waitFor } from './manager-harness.js';

/** Handlers that note each job in $JOB_LOG, so a test can count how often each one ran. */
function moduleSource(version: string, ms: number): string {
  return `import { appendFileSync } from 'node:fs';
export default {
  work: async (job) => {
    appendFileSync(process.env.JOB_LOG, job.text() + '\\n');
    await new Promise((r) => setTimeout(r, ${ms}));
    return '${version}:' + job.text();
  },
};
`;
}

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [gearboxMain, ...args], { timeout: 15_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** Every pid below `pid` (children of children), from /proc. */
function descendants(pid: number): number[] {
  let children: number[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
  return children.flatMap((c) => [c, ...descendants(c)]);
}

describe('module workers under gearbox manager', () => {
  let server: GearboxProcess;
  let tmp: { dir: string; remove(): void };
  before(async () => {
    server = await startGearboxServer(['-q', 'builtin']);
    tmp = tempDir('module');
  });
  after(async () => {
    await server.stop();
    tmp.remove();
  });

  function setup(name: string, version: string, ms: number): { dir: string; log: string } {
    const dir = join(tmp.dir, name);
    mkdirSync(join(dir, 'app'), { recursive: true });
    writeFileSync(join(dir, 'app', 'handlers.mjs'), moduleSource(version, ms));
    const log = join(dir, 'jobs.log');
    writeFileSync(log, '');
    return { dir, log };
  }

  function ranCount(log: string): Map<string, number> {
    const counts = new Map<string, number>();
    for (const line of readFileSync(log, 'utf8').split('\n').filter(Boolean))
      counts.set(line, (counts.get(line) ?? 0) + 1);
    return counts;
  }

  it('on SIGTERM lets the running jobs finish: every client gets its result, each job runs once, exit 0', async () => {
    const { dir, log } = setup('drain', 'v1', 1500);
    const run = await launch(dir, server.port, {
      workers: [
        {
          name: 'js',
          module: './app/handlers.mjs',
          count: 2,
          concurrency: 2,
          env: { JOB_LOG: log },
          stop_timeout: 10,
        },
      ],
    });
    const { manager, client } = run;
    try {
      const rows = await running(manager, 'js', 2);
      const payloads = ['a', 'b', 'c', 'd'];
      const results = payloads.map((p) => client.run('work', p));
      await waitFor(() => ranCount(log).size === 4, 10_000, 'all four jobs started');
      const report = await manager.status();
      const current = report.processes.flatMap((p) => p.current_jobs ?? []);
      assert.equal(current.length, 4, 'status shows the four running jobs');
      assert.ok(current.every((j) => j.function === 'work' && j.handle.startsWith('H:')));
      manager.signal('SIGTERM');
      const texts = (await Promise.all(results)).map((r) => r.text()).sort();
      assert.deepEqual(texts, ['v1:a', 'v1:b', 'v1:c', 'v1:d']);
      const exit = await manager.exited;
      assert.equal(exit.code, 0, manager.stderr());
      assert.deepEqual([...ranCount(log).values()], [1, 1, 1, 1]);
      assert.deepEqual(survivors(rows.map((r) => r.pid ?? 0)), []);
    } finally {
      await run.close();
    }
  });

  it('restarts one process at a time when a watched file changes, with no failed job', async () => {
    const { dir, log } = setup('watch', 'v1', 20);
    const run = await launch(dir, server.port, {
      workers: [
        {
          name: 'js',
          module: './app/handlers.mjs',
          count: 2,
          watch: true,
          env: { JOB_LOG: log },
          stop_timeout: 5,
        },
      ],
    });
    const { manager, client } = run;
    let stop = false;
    const results: string[] = [];
    const failures: unknown[] = [];
    let n = 0;
    // Three clients submitting back to back until told to stop (and at most 3000 jobs).
    const flow = async (): Promise<void> => {
      while (!stop && n < 3000) {
        const payload = String(n++);
        try {
          results.push((await client.run('work', payload, { timeout: 15_000 })).text());
        } catch (err) {
          failures.push(err);
        }
      }
    };
    try {
      const before = await running(manager, 'js', 2);
      await waitFor(() => /js: watching/.test(manager.stderr()), 10_000, 'the watcher is ready');
      const flows = [flow(), flow(), flow()];
      await waitFor(() => results.length >= 30, 10_000, 'jobs flow');
      writeFileSync(join(dir, 'app', 'handlers.mjs'), moduleSource('v2', 20));
      await waitFor(
        async () => {
          const rows = (await manager.rows('js')).filter((r) => r.state === 'running');
          return (
            rows.length === 2 &&
            rows.every((r) => !before.some((b) => b.pid === r.pid)) &&
            (await manager.rows('js')).length === 2
          );
        },
        20_000,
        'both processes replaced',
      );
      const at = results.length;
      await waitFor(() => results.length >= at + 30, 10_000, 'jobs flow after the restart');
      stop = true;
      await Promise.all(flows);
      assert.deepEqual(failures, []);
      assert.ok(results.some((r) => r.startsWith('v1:')));
      assert.ok(
        results.slice(-10).every((r) => r.startsWith('v2:')),
        results.slice(-10).join(),
      );
      assert.equal(results.length, n);
      assert.ok(
        [...ranCount(log).values()].every((c) => c === 1),
        'no job ran twice',
      );
      const restarts = manager.stderr().match(/js\[\d+\] started \(replacement\)/g) ?? [];
      assert.equal(restarts.length, 2, 'one replacement per process');
      assert.match(
        manager.stderr(),
        /handlers\.mjs changed: restarting its processes one at a time/,
      );
    } finally {
      stop = true;
      await run.close();
    }
  });

  it('leaves no child or grandchild alive when the manager is SIGKILLed', async () => {
    const { dir, log } = setup('orphans', 'v1', 30_000);
    const run = await launch(dir, server.port, {
      workers: [
        { name: 'js', module: './app/handlers.mjs', count: 2, env: { JOB_LOG: log } },
        // A shell whose sleep is a grandchild of the manager.
        { name: 'sh', command: ['sh', '-c', 'sleep 300; echo done'], count: 1 },
        // A gearbox worker whose per-job command runs when the manager dies.
        { name: 'ex', exec: ['sleep', '300'], functions: ['nap'], count: 1 },
      ],
    });
    const { manager, client } = run;
    try {
      await running(manager, 'js', 2);
      await running(manager, 'sh', 1);
      const [ex] = await running(manager, 'ex', 1);
      const job = client.submit('nap', 'z');
      job.result().catch(() => undefined);
      await waitFor(
        async () => ((await manager.rows('ex'))[0]?.current_jobs ?? []).length === 1,
        10_000,
        'the exec job runs',
      );
      assert.ok(descendants(ex?.pid ?? 0).length >= 2, 'the exec process has its job command');
      const all = descendants(manager.pid);
      assert.ok(all.length >= 8, `children and grandchildren: ${all.join(' ')}`);
      manager.signal('SIGKILL');
      await manager.exited;
      await waitFor(() => survivors(all).length === 0, 5000, `no survivor of ${all.join(' ')}`);
    } finally {
      await run.close();
    }
  });

  it('answers status and scale over the owner-only control socket', async () => {
    const { dir, log } = setup('control', 'v1', 10);
    const run = await launch(dir, server.port, {
      workers: [
        { name: 'js', module: './app/handlers.mjs', count: 1, env: { JOB_LOG: log } },
        { name: 'sh', command: ['sleep', '300'], count: 1, stop_timeout: 1 },
        {
          name: 'auto',
          module: './app/handlers.mjs',
          functions: ['work'],
          prefix: 'auto_',
          autoscale: { min: 1, max: 2 },
          env: { JOB_LOG: log },
        },
      ],
    });
    const { manager, client, file, socket } = run;
    try {
      assert.equal(statSync(socket).mode & 0o777, 0o600);
      await running(manager, 'js', 1);
      await running(manager, 'sh', 1);
      assert.equal((await client.run('work', 'x')).text(), 'v1:x');
      assert.equal((await client.run('auto_work', 'y')).text(), 'v1:y');

      const scaled = await cli(['manager', 'scale', 'js', '3', '-s', socket]);
      assert.equal(scaled.code, 0, scaled.stderr);
      assert.match(scaled.stdout, /js: 3 processes/);
      await running(manager, 'js', 3);

      const json = await cli(['manager', 'status', '--json', '-c', file]);
      assert.equal(json.code, 0, json.stderr);
      const report = JSON.parse(json.stdout) as {
        pid: number;
        entries: Array<{ name: string; desired: number; jobs_done: number | null }>;
        processes: Array<Record<string, unknown>>;
      };
      assert.equal(report.pid, manager.pid);
      assert.equal(report.entries.find((e) => e.name === 'js')?.desired, 3);
      const js = report.processes.filter((p) => p.name === 'js');
      assert.equal(js.length, 3);
      for (const p of js) {
        assert.equal(typeof p.pid, 'number');
        assert.equal(typeof p.uptime_seconds, 'number');
        assert.equal(typeof p.jobs_done, 'number');
        assert.equal(typeof p.restarts, 'number');
        assert.deepEqual(p.current_jobs, []);
      }
      assert.equal(
        js.reduce((sum, p) => sum + (p.jobs_done as number), 0),
        1,
        'the one job js ran',
      );
      const sh = report.processes.find((p) => p.name === 'sh');
      assert.equal(sh?.jobs_done, null);
      assert.equal(sh?.current_jobs, null);

      const table = await cli(['manager', 'status', '-s', socket]);
      assert.equal(table.code, 0, table.stderr);
      assert.match(table.stdout, /NAME +PID +STATE +UPTIME +JOBS +RESTARTS +CURRENT JOB/);
      assert.match(table.stdout, /\nsh +\d+ +running +\d+s +- +0 +-/);

      const refused = await cli(['manager', 'scale', 'auto', '2', '-s', socket]);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /auto is autoscaled between 1 and 2/);
      const unknown = await cli(['manager', 'scale', 'nope', '2', '-s', socket]);
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /no entry named 'nope'/);

      // A malformed config on reload is refused and the running one kept.
      const good = readFileSync(file, 'utf8');
      writeFileSync(file, good.replace('"count": 1', '"count": "many"'));
      const bad = await cli(['manager', 'reload', '-s', socket]);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /reload refused, keeping the running config: .*workers\[0\]\.count/);
      manager.signal('SIGHUP');
      await waitFor(
        () => (manager.stderr().match(/reload refused/g) ?? []).length === 2,
        5000,
        'SIGHUP refused too',
      );
      assert.equal((await manager.rows('js')).length, 3, 'nothing changed');
      // A changed entry is replaced one process at a time; the count becomes the config's.
      const old = (await manager.rows('sh')).map((r) => r.pid);
      writeFileSync(file, good.replace('"stop_timeout": 1', '"stop_timeout": 2'));
      const reloaded = await cli(['manager', 'reload', '-s', socket]);
      assert.equal(reloaded.code, 0, reloaded.stderr);
      await running(manager, 'js', 1);
      await waitFor(
        async () => {
          const rows = await manager.rows('sh');
          return rows.length === 1 && rows[0]?.state === 'running' && !old.includes(rows[0].pid);
        },
        10_000,
        'sh replaced after its change',
      );

      const down = await cli(['manager', 'scale', 'js', '0', '-s', socket]);
      assert.equal(down.code, 0, down.stderr);
      await waitFor(async () => (await manager.rows('js')).length === 0, 10_000, 'js scaled to 0');
      const pids = (await manager.status()).processes.map((p) => p.pid ?? 0);
      await manager.stop();
      assert.equal((await manager.exited).code, 0);
      assert.deepEqual(pids.filter(alive), []);
      const gone = await cli(['manager', 'status', '-s', socket]);
      assert.equal(gone.code, 1);
      assert.match(gone.stderr, /no manager answers on/);
    } finally {
      await run.close();
    }
  });
});
