/**
 * `Client.schedule`, `cancelScheduled` and `scheduledStatus` against the real delayed-job
 * service (SchedulerService on SQLite) behind a real `gearbox server`, with a real Worker.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '../../src/client/client.js';
import { JobExceptionError, JobFailedError } from '../../src/client/errors.js';
import { scheduleRequest } from '../../src/client/scheduling.js';
import { SchedulerService } from '../../src/scheduler/scheduler-service.js';
import { Worker } from '../../src/worker/worker.js';
import { startGearbox, type RunningServer } from '../helpers/processes.js';

async function eventually(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('Client.schedule and friends, through the delayed-job service', () => {
  let dir: string;
  let server: RunningServer;
  let service: SchedulerService;
  let worker: Worker;
  let client: Client;
  const runs: { payload: Buffer; at: number }[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gearbox-client-sched-'));
    server = await startGearbox();
    const servers = `127.0.0.1:${server.port}`;
    service = await SchedulerService.start({
      servers,
      store: `sqlite:${join(dir, 'jobs.sqlite')}`,
      scheduler: { pollIntervalMs: 1_000 },
    });
    worker = new Worker({ servers });
    worker.register('later', (job) => {
      runs.push({ payload: job.workload, at: Date.now() });
      return 'ok';
    });
    await worker.start();
    client = new Client({ servers });
  });

  after(async () => {
    await client?.close();
    await worker?.stop({ timeout: 1000 });
    await service?.stop(1000);
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('schedules a job `after` seconds, reports its status, and runs it then', async () => {
    const before = Date.now();
    const job = await client.schedule('later', 'in a moment', { after: 0.5, unique: 'u1' });
    assert.equal(typeof job.id, 'string');
    assert.equal(job.existing, false);
    assert.ok(job.runAt !== null && job.runAt.getTime() >= before + 500);
    const again = await client.schedule('later', 'in a moment', { after: 60, unique: 'u1' });
    assert.deepEqual([again.id, again.existing], [job.id, true], 'the pending job, by unique');
    const status = await client.scheduledStatus(job.id);
    assert.equal(status.functionName, 'later');
    assert.equal(status.unique, 'u1');
    assert.equal(status.state, 'pending');
    await eventually(() => runs.some((r) => r.payload.toString() === 'in a moment'), 'the run');
    const run = runs.find((r) => r.payload.toString() === 'in a moment');
    assert.ok(run !== undefined && job.runAt !== null && run.at >= job.runAt.getTime() - 5);
  });

  it('schedules `at` a Date with a binary payload, and cancels it by id', async () => {
    const payload = Buffer.from([0, 1, 2, 0xff]);
    const job = await client.schedule('later', payload, { at: new Date(Date.now() + 3_600_000) });
    assert.equal(await client.cancelScheduled(job.id), true);
    assert.equal(await client.cancelScheduled(job.id), false, 'nothing pending any more');
    assert.equal((await client.scheduledStatus(job.id)).state, 'cancelled');
  });

  it('cancels by function and unique', async () => {
    await client.schedule('later', 'x', { after: 3600, unique: 'by-unique' });
    assert.equal(
      await client.cancelScheduled({ functionName: 'later', unique: 'by-unique' }),
      true,
    );
  });

  it('takes a cron schedule', async () => {
    const job = await client.schedule('later', 'tick', { cron: '0 3 * * *', timezone: 'UTC' });
    const status = await client.scheduledStatus(job.id);
    assert.equal(status.cron, '0 3 * * *');
    assert.equal(status.nextRun?.getUTCHours(), 3);
    assert.equal(await client.cancelScheduled(job.id), true);
  });

  it('rejects with the service’s reason when it refuses', async () => {
    await assert.rejects(
      client.schedule('later', 'x', { at: 8.7e15 }),
      (err: unknown) =>
        (err instanceof JobExceptionError || err instanceof JobFailedError) &&
        /'at' must be between/.test(err.message),
    );
    await assert.rejects(client.scheduledStatus('999999'), /no job with id/);
  });

  it('refuses arguments the service would refuse before sending them', () => {
    assert.throws(() => scheduleRequest('f', 'x', {} as never), /exactly one of at, after or cron/);
    assert.throws(
      () => scheduleRequest('f', 'x', { at: 1, after: 1 } as never),
      /exactly one of at, after or cron/,
    );
    assert.throws(() => scheduleRequest('f', 'x', { at: Number.NaN }), /valid time/);
  });
});
