import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '../../src/client/client.js';
import { JobExceptionError } from '../../src/client/errors.js';
import { SchedulerService } from '../../src/scheduler/scheduler-service.js';
import type { SchedulerEvent } from '../../src/scheduler/scheduler.js';
import { Worker } from '../../src/worker/worker.js';
import { startGearbox, startGearmand, type RunningServer } from '../helpers/processes.js';
import { serviceUrls, skipUnless, tools, type ServiceName } from '../helpers/services.js';
import { randomTable } from './store-backends.js';

interface Run {
  readonly payload: string;
  readonly unique: string;
  readonly at: number;
}

const scenarios: {
  server: 'gearmand' | 'gearbox';
  store: 'postgres' | 'mysql' | 'sqlite';
}[] = [
  { server: 'gearmand', store: 'postgres' },
  { server: 'gearmand', store: 'mysql' },
  { server: 'gearmand', store: 'sqlite' },
  { server: 'gearbox', store: 'postgres' },
  { server: 'gearbox', store: 'mysql' },
];

/** Polls `check` until it holds (bounded), for outcomes that arrive asynchronously. */
async function eventually(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

for (const { server, store } of scenarios) {
  describe(`gearbox scheduler service: ${server} job server, ${store} store`, async () => {
    const needs: ServiceName[] = server === 'gearmand' ? ['gearmand'] : [];
    if (store !== 'sqlite') needs.push(store);
    const skip = await skipUnless(`scheduler service (${server}, ${store})`, ...needs);
    if (skip) {
      it('is skipped', { skip }, () => undefined);
      return;
    }
    const table = randomTable();
    const dir = mkdtempSync(join(tmpdir(), 'gearbox-sched-svc-'));
    const storeUrl =
      store === 'postgres'
        ? serviceUrls.postgres
        : store === 'mysql'
          ? serviceUrls.mysql
          : `sqlite:${join(dir, 'jobs.sqlite')}`;
    const target = `sched_target_${table}`;
    const flaky = `sched_flaky_${table}`;
    let jobServer: RunningServer;
    let service: SchedulerService;
    let worker: Worker;
    let client: Client;
    const runs: Run[] = [];
    const flakyRuns: Run[] = [];
    let flakyFailures = 0;
    const events: SchedulerEvent[] = [];

    before(async () => {
      jobServer = server === 'gearmand' ? await startGearmand() : await startGearbox();
      const servers = `127.0.0.1:${jobServer.port}`;
      service = await SchedulerService.start({
        servers,
        store: storeUrl,
        table,
        scheduler: { pollIntervalMs: 2_000 },
        onEvent: (e) => events.push(e),
      });
      worker = new Worker({ servers, concurrency: 8 });
      worker.on('failed', () => undefined);
      worker.register(target, (job) => {
        runs.push({ payload: job.text(), unique: job.unique, at: Date.now() });
        return 'ok';
      });
      worker.register(flaky, (job) => {
        flakyRuns.push({ payload: job.text(), unique: job.unique, at: Date.now() });
        if (flakyFailures > 0) {
          flakyFailures--;
          throw new Error('flaky says no');
        }
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
      if (store !== 'sqlite') {
        const { openSchedulerStore } = await import('../../src/scheduler/open-scheduler-store.js');
        const s = await openSchedulerStore(storeUrl, { table });
        const backend = (s as unknown as { db: { execute(sql: string): Promise<number> } }).db;
        await backend.execute(`DROP TABLE IF EXISTS ${table}`);
        await s.close();
      }
      rmSync(dir, { recursive: true, force: true });
    });

    async function call(fn: string, body: unknown): Promise<Record<string, unknown>> {
      const result = await client.run(fn, JSON.stringify(body), { timeout: 10_000 });
      return JSON.parse(result.text()) as Record<string, unknown>;
    }

    it('schedules a job with gearbox.schedule and runs it at its time, not before', async () => {
      const answer = await call('gearbox.schedule', {
        function: target,
        payload: 'hello',
        after: 0.8,
      });
      assert.equal(typeof answer.id, 'string');
      const runAt = Number(answer.run_at_ms);
      assert.equal(new Date(String(answer.run_at)).getTime(), runAt);
      await eventually(() => runs.some((r) => r.payload === 'hello'), 'the job to run');
      const run = runs.find((r) => r.payload === 'hello');
      assert.ok(run);
      // The database and this process share the machine's clock.
      assert.ok(run.at >= runAt - 5, `ran ${runAt - run.at} ms early`);
      assert.equal(run.unique, `gbs:${String(answer.id)}`);
      await eventually(
        () => events.some((e) => e.type === 'completed' && e.job.id === answer.id && e.accepted),
        'completion to be recorded',
      );
      const status = await call('gearbox.status', { id: answer.id });
      assert.equal(status.state, 'done');
      assert.equal(status.function, target);
    });

    it('accepts Gearsloth tasks and binary payloads', async () => {
      const when = new Date(Date.now() + 300).toISOString();
      await call('gearbox.schedule', { func_name: target, at: when, payload: { gearsloth: true } });
      await call('gearbox.schedule', {
        function: target,
        payload_base64: Buffer.from('bin\u00e9').toString('base64'),
        at: Date.now(),
      });
      await eventually(
        () => runs.some((r) => r.payload === '{"gearsloth":true}'),
        'the Gearsloth task',
      );
      await eventually(() => runs.some((r) => r.payload === 'bin\u00e9'), 'the base64 job');
    });

    it('refuses bad requests with an exception that says why', async () => {
      const cases: [unknown, RegExp][] = [
        [{ payload: 'x', after: 1 }, /'function'/],
        [{ function: target, after: 1, at: 5 }, /not after and at|not at and after/],
        [{ function: target, cron: '61 * * * *' }, /minute 61/],
        [{ function: target, cron: '* * * * *', timezone: 'Nowhere/Land' }, /time zone/],
        [{ function: target, after: 1, colour: 'red' }, /unknown field 'colour'/],
      ];
      for (const [body, reason] of cases) {
        await assert.rejects(
          client.run('gearbox.schedule', JSON.stringify(body), { timeout: 10_000 }),
          (err: unknown) => err instanceof JobExceptionError && reason.test(err.data.toString()),
          JSON.stringify(body),
        );
      }
      await assert.rejects(
        client.run('gearbox.schedule', 'not json', { timeout: 10_000 }),
        (err: unknown) => err instanceof JobExceptionError && /not JSON/.test(err.data.toString()),
      );
    });

    it('retries a failing job, lists it dead after max_attempts, and re-runs it', async () => {
      flakyFailures = 2;
      const answer = await call('gearbox.schedule', {
        function: flaky,
        payload: 'retry me',
        after: 0,
        max_attempts: 2,
        backoff: 0.1,
      });
      await eventually(
        () =>
          events.some((e) => e.type === 'failed' && e.job.id === answer.id && e.outcome === 'dead'),
        'the job to go dead',
      );
      assert.equal(flakyRuns.filter((r) => r.payload === 'retry me').length, 2);
      const dead = await call('gearbox.dead', { function: flaky });
      const jobs = dead.jobs as Record<string, unknown>[];
      assert.deepEqual(
        jobs.map((j) => j.id),
        [answer.id],
      );
      assert.equal(jobs[0]?.attempts, 2);
      assert.match(String(jobs[0]?.last_error), /flaky says no/);
      await call('gearbox.rerun', { id: answer.id });
      await eventually(
        () => flakyRuns.filter((r) => r.payload === 'retry me').length === 3,
        'the re-run',
      );
      await eventually(
        () => events.some((e) => e.type === 'completed' && e.job.id === answer.id && e.accepted),
        'the re-run to complete',
      );
      assert.equal((await call('gearbox.status', { id: answer.id })).state, 'done');
    });

    it('cancels a pending job by id and by unique, and de-duplicates by unique', async () => {
      const a = await call('gearbox.schedule', { function: target, payload: 'never-a', after: 60 });
      const b = await call('gearbox.schedule', {
        function: target,
        payload: 'never-b',
        after: 60,
        unique: 'u-1',
      });
      const b2 = await call('gearbox.schedule', {
        function: target,
        payload: 'never-b2',
        after: 1,
        unique: 'u-1',
      });
      assert.equal(b2.id, b.id);
      assert.equal(b2.existing, true);
      assert.deepEqual(await call('gearbox.cancel', { id: a.id }), { cancelled: true });
      assert.deepEqual(await call('gearbox.cancel', { function: target, unique: 'u-1' }), {
        cancelled: true,
      });
      assert.deepEqual(await call('gearbox.cancel', { id: a.id }), { cancelled: false });
      assert.equal((await call('gearbox.status', { id: b.id })).state, 'cancelled');
      await assert.rejects(
        client.run('gearbox.status', JSON.stringify({ id: '999999999' }), { timeout: 10_000 }),
        (err: unknown) =>
          err instanceof JobExceptionError && /no job with id/.test(err.data.toString()),
      );
    });

    it('lets a PHP client (php-gearman) schedule a job that runs on time', async (t) => {
      const phpSkip = await skipUnless('scheduler from PHP', 'php-gearman');
      if (phpSkip) {
        t.skip(phpSkip);
        return;
      }
      const script = join(dir, 'schedule.php');
      writeFileSync(
        script,
        `<?php
$client = new GearmanClient();
$client->addServer('127.0.0.1', ${jobServer.port});
$request = json_encode(['function' => '${target}', 'payload' => 'from php', 'after' => 1]);
$answer = $client->doNormal('gearbox.schedule', $request);
if ($client->returnCode() != GEARMAN_SUCCESS) { fwrite(STDERR, "failed: " . $client->error()); exit(1); }
echo $answer;
`,
      );
      const started = Date.now();
      const output = await new Promise<string>((resolve, reject) =>
        execFile(tools.php, [script], { timeout: 20_000 }, (err, stdout, stderr) =>
          err ? reject(new Error(`${err.message}: ${stderr}`)) : resolve(stdout),
        ),
      );
      const answer = JSON.parse(output) as { id: string; run_at_ms: number };
      assert.ok(answer.run_at_ms >= started + 1000);
      await eventually(() => runs.some((r) => r.payload === 'from php'), 'the PHP-scheduled job');
      const run = runs.find((r) => r.payload === 'from php');
      assert.ok(run && run.at >= answer.run_at_ms - 5, 'not early');
    });
  });
}
