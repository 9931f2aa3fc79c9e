/**
 * PHP workers (pecl gearman) under `gearbox manager`, against a real `gearbox server`: the count
 * is what the server sees, a SIGKILLed child is replaced, SIGHUP converges to a new count, and a
 * worker that exits at once is restarted ever more slowly, with its state and stderr shown.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AdminClient, Client } from '../../src/index.js';
import { startGearboxServer, type GearboxProcess } from '../helpers/gearbox-cli.js';
import { skipUnless, tools } from '../helpers/services.js';
import {
  alive,
  launch,
  managerUp,
  running,
  startManager,
  tempDir,
  waitFor,
  writeConfig,
} from './manager-harness.js';

const PHP_WORKER = String.raw`<?php
$w = new GearmanWorker();
$w->addServer('127.0.0.1', (int)getenv('GEARBOX_TEST_PORT'));
$w->addFunction('php_upper', function ($job) { return strtoupper($job->workload()); });
while ($w->work()) {}
`;

describe(
  'PHP workers under gearbox manager',
  { skip: await skipUnless('manager with PHP workers', 'php-gearman') },
  () => {
    let server: GearboxProcess;
    let tmp: { dir: string; remove(): void };
    before(async () => {
      server = await startGearboxServer(['-q', 'builtin']);
      tmp = tempDir('php');
      writeFileSync(join(tmp.dir, 'worker.php'), PHP_WORKER);
    });
    after(async () => {
      await server.stop();
      tmp.remove();
    });

    /** How many connections registered php_upper, as the server's `workers` lists them. */
    async function phpWorkers(): Promise<number> {
      const admin = new AdminClient({ server: `127.0.0.1:${server.port}` });
      try {
        return (await admin.workers()).filter((w) => w.functions.includes('php_upper')).length;
      } finally {
        await admin.close();
      }
    }

    it('keeps count processes, replaces a SIGKILLed one, and converges to a new count on SIGHUP', async () => {
      const socket = join(tmp.dir, 'count.sock');
      const config = (count: number): object => ({
        servers: [`127.0.0.1:${server.port}`],
        control_socket: socket,
        workers: [
          {
            name: 'php',
            command: [tools.php, 'worker.php'],
            count,
            env: { GEARBOX_TEST_PORT: server.port },
            stop_timeout: 2,
          },
        ],
      });
      const file = writeConfig(tmp.dir, config(3), 'count.json');
      const manager = startManager(file, socket);
      const client = new Client({ servers: `127.0.0.1:${server.port}` });
      try {
        await managerUp(manager);
        const first = await running(manager, 'php', 3);
        await waitFor(async () => (await phpWorkers()) === 3, 10_000, 'the server sees 3 workers');
        assert.equal((await client.run('php_upper', 'hello')).text(), 'HELLO');
        // Jobs are the PHP worker's own business: the manager says "-".
        assert.equal(first[0]?.jobs_done, null);
        assert.equal(first[0]?.current_jobs, null);

        const victim = first[0]?.pid ?? 0;
        process.kill(victim, 'SIGKILL');
        await waitFor(
          async () => {
            const rows = (await manager.rows('php')).filter((r) => r.state === 'running');
            return rows.length === 3 && !rows.some((r) => r.pid === victim);
          },
          10_000,
          'the killed worker is replaced',
        );
        await waitFor(async () => (await phpWorkers()) === 3, 10_000, 'the server sees 3 again');
        assert.match(manager.stderr(), new RegExp(`php\\[${victim}\\] killed by SIGKILL`));
        const restarted = (await manager.rows('php')).find((r) => r.restarts === 1);
        assert.ok(restarted, 'the replaced slot counts one restart');

        writeConfig(tmp.dir, config(1), 'count.json');
        manager.signal('SIGHUP');
        await running(manager, 'php', 1);
        await waitFor(async () => (await phpWorkers()) === 1, 10_000, 'the server sees 1 worker');

        writeConfig(tmp.dir, config(2), 'count.json');
        manager.signal('SIGHUP');
        await running(manager, 'php', 2);
        await waitFor(async () => (await phpWorkers()) === 2, 10_000, 'the server sees 2 workers');
        assert.equal((await client.run('php_upper', 'again')).text(), 'AGAIN');

        const pids = (await manager.rows('php')).map((r) => r.pid ?? 0);
        await manager.stop();
        assert.equal((await manager.exited).code, 0, manager.stderr());
        assert.deepEqual(pids.filter(alive), []);
      } finally {
        await client.close();
        await manager.stop();
      }
    });

    it('restarts a worker that exits at once ever more slowly, and shows the crash loop', async () => {
      const run = await launch(
        tmp.dir,
        server.port,
        {
          workers: [
            {
              name: 'crash',
              command: [tools.php, '-r', 'fwrite(STDERR, "cannot start: no config\\n"); exit(3);'],
              restart_delay: 0.1,
              restart_delay_max: 5,
              min_uptime: 1,
            },
          ],
        },
        'crash.json',
      );
      const { manager } = run;
      try {
        let sawLoop = false;
        await waitFor(
          async () => {
            const row = (await manager.status()).processes.find((p) => p.name === 'crash');
            if (row?.state === 'crashloop' && row.pid === null && (row.quick_exits ?? 0) >= 3)
              sawLoop = true;
            return sawLoop && starts(manager.stderr()).length >= 5;
          },
          15_000,
          'five starts and a crashloop state',
        );
        const times = starts(manager.stderr());
        const gaps = times.slice(1).map((t, i) => t - (times[i] ?? 0));
        // 0.1, 0.2, 0.4, 0.8 s (less up to 20% jitter), plus PHP's own start each time.
        for (let i = 1; i < 4; i++)
          assert.ok(
            (gaps[i] ?? 0) > (gaps[i - 1] ?? 0),
            `restart gaps grow: ${gaps.map((g) => g.toFixed(0)).join(', ')} ms`,
          );
        assert.ok((gaps[3] ?? 0) >= 600, `the fourth wait is about 0.8 s: ${gaps[3]} ms`);
        const log = manager.stderr();
        assert.match(log, /crash\[\d+\] exited with status 3 after 0\.\d s; restarting in/);
        assert.match(log, /crash loop: \d+ exits in a row/);
        assert.match(log, /last stderr lines:\n {4}cannot start: no config/);
        await manager.stop();
        assert.equal((await manager.exited).code, 0);
      } finally {
        await run.close();
      }
    });
  },
);

/** When each `crash[pid] started` line was logged, in ms. */
function starts(log: string): number[] {
  return [...log.matchAll(/^ +INFO (\S+) crash\[\d+\] started/gm)].map((m) =>
    Date.parse(m[1] ?? ''),
  );
}
