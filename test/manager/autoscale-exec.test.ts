/**
 * Scaling by backlog, exec entries (a command per job through `gearbox worker`), `max_jobs`
 * recycling, `user`, and `/metrics` — each with a real manager against a real `gearbox server`.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startGearboxServer, type GearboxProcess } from '../helpers/gearbox-cli.js';
import { freePort } from '../helpers/processes.js';
import {
  launch,
  managerUp,
  running,
  startManager,
  tempDir,
  waitFor,
  writeConfig,
} from './manager-harness.js';

describe('autoscale, exec entries and metrics', () => {
  let server: GearboxProcess;
  let tmp: { dir: string; remove(): void };
  before(async () => {
    server = await startGearboxServer(['-q', 'builtin']);
    tmp = tempDir('scale');
  });
  after(async () => {
    await server.stop();
    tmp.remove();
  });

  it('scales up under a backlog, up to max, and back down to min when idle', async () => {
    const log = join(tmp.dir, 'scaled.log');
    writeFileSync(log, '');
    writeFileSync(
      join(tmp.dir, 'scaled.mjs'),
      `import { appendFileSync } from 'node:fs';
export default {
  backlog: async (job) => {
    await new Promise((r) => setTimeout(r, 150));
    appendFileSync(process.env.JOB_LOG, job.text() + '\\n');
  },
};
`,
    );
    const run = await launch(
      tmp.dir,
      server.port,
      {
        autoscale_interval: 0.2,
        workers: [
          {
            name: 'scaled',
            module: './scaled.mjs',
            env: { JOB_LOG: log },
            autoscale: { min: 1, max: 4, target_queued_per_worker: 2, cooldown: 1 },
          },
        ],
      },
      'scale.json',
    );
    const { manager, client } = run;
    try {
      await running(manager, 'scaled', 1);
      for (let i = 0; i < 60; i++) await client.submitBackground('backlog', String(i));
      let peak = 0;
      await waitFor(
        async () => {
          const rows = await manager.rows('scaled');
          peak = Math.max(peak, rows.length);
          return rows.filter((r) => r.state === 'running').length === 4;
        },
        15_000,
        'four processes under the backlog',
      );
      const report = await manager.status();
      const entry = report.entries.find((e) => e.name === 'scaled');
      assert.equal(entry?.desired, 4);
      assert.equal(entry?.autoscale?.max, 4);
      await waitFor(
        () => readFileSync(log, 'utf8').split('\n').filter(Boolean).length === 60,
        30_000,
        'all 60 jobs done',
      );
      await waitFor(
        async () => (await manager.rows('scaled')).length === 1,
        15_000,
        'back to one process once idle',
      );
      assert.ok(peak <= 5, `never more than max (+1 draining): ${peak}`);
      const done = readFileSync(log, 'utf8').split('\n').filter(Boolean).sort();
      assert.equal(new Set(done).size, 60, 'each job ran once');
      assert.match(manager.stderr(), /scaled: 1 → [234] processes/);
      assert.match(manager.stderr(), /scaled: 4 → 1 processes/);
    } finally {
      await run.close();
    }
  });

  it('runs an exec entry’s command once per job, counts its jobs, and recycles after max_jobs', async () => {
    const webPort = await freePort();
    const run = await launch(
      tmp.dir,
      server.port,
      {
        web_port: webPort,
        workers: [
          { name: 'upper', exec: ['tr', 'a-z', 'A-Z'], functions: ['upper'], max_jobs: 3 },
          {
            name: 'slow',
            exec: ['sh', '-c', 'sleep 1; cat'],
            functions: ['echo'],
            prefix: 'slow_',
            timeout: 10,
          },
        ],
      },
      'exec.json',
    );
    const { manager, client } = run;
    try {
      const [first] = await running(manager, 'upper', 1);
      assert.equal((await client.run('upper', 'hello')).text(), 'HELLO');
      assert.equal((await client.run('upper', 'world')).text(), 'WORLD');
      await waitFor(
        async () => (await manager.rows('upper'))[0]?.jobs_done === 2,
        5000,
        'two jobs done',
      );
      // The third job is its last: the process leaves and is replaced at once, not as a crash.
      assert.equal((await client.run('upper', 'three')).text(), 'THREE');
      await waitFor(
        async () => {
          const [row] = await manager.rows('upper');
          return row !== undefined && row.pid !== first?.pid && row.state === 'running';
        },
        10_000,
        'replaced after max_jobs',
      );
      const [recycled] = await manager.rows('upper');
      assert.equal(recycled?.restarts, 1);
      assert.equal(recycled?.quick_exits, 0);
      assert.equal((await client.run('upper', 'four')).text(), 'FOUR');

      await running(manager, 'slow', 1);
      const job = client.run('slow_echo', 'zzz');
      await waitFor(
        async () => {
          const jobs = (await manager.rows('slow'))[0]?.current_jobs ?? [];
          return jobs.length === 1 && jobs[0]?.function === 'slow_echo';
        },
        5000,
        'the slow job shows as current',
      );
      assert.equal((await job).text(), 'zzz');
      await waitFor(
        async () => {
          const [row] = await manager.rows('slow');
          return row?.jobs_done === 1 && row.current_jobs?.length === 0;
        },
        5000,
        'the slow job counted as done',
      );

      const metrics = await (await fetch(`http://127.0.0.1:${webPort}/metrics`)).text();
      assert.match(metrics, /gearbox_manager_processes\{entry="upper",state="running"\} 1/);
      assert.match(metrics, /gearbox_manager_desired_processes\{entry="slow"\} 1/);
      assert.match(metrics, /gearbox_manager_restarts_total\{entry="upper"\} 1/);
      assert.match(metrics, /gearbox_manager_jobs_done_total\{entry="upper"\} 4/);
      assert.match(metrics, /gearbox_manager_jobs_done_total\{entry="slow"\} 1/);
      const status = (await (await fetch(`http://127.0.0.1:${webPort}/status`)).json()) as {
        pid: number;
      };
      assert.equal(status.pid, manager.pid);
      await manager.stop();
      assert.equal((await manager.exited).code, 0);
    } finally {
      await run.close();
    }
  });

  it('replaces a process past max_lifetime (new one first), and reports a module that cannot load', async () => {
    writeFileSync(
      join(tmp.dir, 'life.mjs'),
      'export default { life: (job) => "ok:" + job.text() };\n',
    );
    writeFileSync(join(tmp.dir, 'broken.mjs'), 'export default 42;\n');
    const run = await launch(
      tmp.dir,
      server.port,
      {
        workers: [
          { name: 'life', module: './life.mjs', max_lifetime: 1, stop_timeout: 2 },
          { name: 'broken', module: './broken.mjs', restart_delay: 0.2, min_uptime: 1 },
        ],
      },
      'life.json',
    );
    const { manager, client } = run;
    try {
      const [first] = await running(manager, 'life', 1);
      await waitFor(
        async () => {
          const [row] = await manager.rows('life');
          return row !== undefined && row.pid !== first?.pid && row.state === 'running';
        },
        10_000,
        'replaced after max_lifetime',
      );
      assert.equal((await client.run('life', 'x')).text(), 'ok:x');
      assert.match(manager.stderr(), new RegExp(`life\\[${first?.pid}\\] reached max_lifetime`));
      assert.match(manager.stderr(), /life\[\d+\] started \(replacement\)/);
      await waitFor(
        () => /broken\[\d+\] exited with status 78/.test(manager.stderr()),
        10_000,
        'the broken module exits',
      );
      assert.match(
        manager.stderr(),
        /broken\[\d+\] cannot load .*broken\.mjs: its default export must be an object mapping function names to handlers/,
      );
    } finally {
      await run.close();
    }
  });

  it(
    'runs a command as the configured user when the manager is root',
    {
      skip: process.getuid?.() !== 0 ? 'needs root' : false,
    },
    async () => {
      const socket = join(tmp.dir, 'user.sock');
      const file = writeConfig(
        tmp.dir,
        {
          control_socket: socket,
          workers: [
            { name: 'who', command: ['sh', '-c', 'id -u; exec sleep 300'], user: 'nobody' },
          ],
        },
        'user.json',
      );
      const manager = startManager(file, socket);
      try {
        await managerUp(manager);
        const [row] = await running(manager, 'who', 1);
        await waitFor(() => manager.stdout().includes(`who[${row?.pid}] 65534\n`), 5000, 'id -u');
      } finally {
        await manager.stop();
      }
    },
  );
});
