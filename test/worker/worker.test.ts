import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AdminClient, Client, JobExceptionError, Worker, type WorkerJob } from '../../src/index.js';
import { freePort, type RunningServer } from '../helpers/processes.js';
import { eventually, SERVER_KINDS, skipKind, startGearmandOn } from '../helpers/lib-servers.js';
import { skipUnless } from '../helpers/services.js';

let counter = 0;
const fresh = (base: string): string => `${base}-${process.pid}-${++counter}`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

for (const kind of SERVER_KINDS) {
  describe(`Worker against ${kind.name}`, { skip: await skipKind(kind) }, () => {
    let server: RunningServer;
    let servers: string;
    let client: Client;
    let admin: AdminClient;

    before(async () => {
      server = await kind.start();
      servers = `127.0.0.1:${server.port}`;
      client = new Client({ servers });
      admin = new AdminClient({ server: servers });
    });

    after(async () => {
      await client?.close();
      await admin?.close();
      await server?.stop();
    });

    it('runs up to `concurrency` jobs at once', async () => {
      const name = fresh('conc');
      const worker = new Worker({ servers, concurrency: 3 });
      let now = 0;
      let peak = 0;
      worker.register(name, async (job) => {
        now += 1;
        peak = Math.max(peak, now);
        await sleep(150);
        now -= 1;
        return job.workload;
      });
      await worker.start();
      try {
        const results = await Promise.all(
          Array.from({ length: 7 }, (_, i) => client.run(name, `w${i}`)),
        );
        assert.deepEqual(
          results.map((r) => r.text()),
          Array.from({ length: 7 }, (_, i) => `w${i}`),
        );
        assert.equal(peak, 3);
      } finally {
        await worker.stop({ timeout: 1000 });
      }
    });

    it('fails a job whose handler throws, reports it, and goes on', async () => {
      const name = fresh('flaky');
      const worker = new Worker({ servers });
      const failures: string[] = [];
      worker.on('failed', (job, error) => failures.push(`${job.text()}:${error.message}`));
      worker.register(name, (job) => {
        if (job.text() === 'bad') throw new Error('bad input');
        return `ok ${job.text()}`;
      });
      await worker.start();
      try {
        await assert.rejects(client.run(name, 'bad'), (e: unknown) => {
          assert.ok(e instanceof JobExceptionError);
          assert.equal(e.data.toString(), 'bad input');
          return true;
        });
        assert.equal((await client.run(name, 'good')).text(), 'ok good');
        assert.deepEqual(failures, ['bad:bad input']);
      } finally {
        await worker.stop({ timeout: 1000 });
      }
    });

    it('fails a job that exceeds its timeout, aborts its signal, and goes on', async () => {
      const name = fresh('slow');
      const worker = new Worker({ servers });
      let seen: AbortSignal | undefined;
      worker.register(
        name,
        (job) => {
          if (job.text() === 'fast') return 'quick';
          seen = job.signal;
          return new Promise(() => undefined);
        },
        { timeout: 200 },
      );
      await worker.start();
      try {
        await assert.rejects(client.run(name, 'hang'), (e: unknown) => {
          assert.ok(e instanceof JobExceptionError);
          assert.match(e.data.toString(), /timed out after 200 ms/);
          return true;
        });
        assert.equal(seen?.aborted, true);
        assert.equal((await client.run(name, 'fast')).text(), 'quick');
        assert.equal(worker.activeJobs, 0);
      } finally {
        await worker.stop({ timeout: 1000 });
      }
    });

    it('registers with CAN_DO and unregisters with CANT_DO', async () => {
      const name = fresh('reg');
      const worker = new Worker({ servers, clientId: fresh('worker-id') });
      worker.register(name, () => 'x');
      await worker.start();
      try {
        const workers = async (): Promise<number> =>
          (await admin.status()).find((s) => s.name === name)?.workers ?? 0;
        await eventually(async () => (await workers()) === 1, 3000, 'one worker');
        const listed = (await admin.workers()).find((w) => w.functions.includes(name));
        assert.match(listed?.clientId ?? '', /^worker-id-/);
        assert.equal(worker.unregister(name), true);
        assert.equal(worker.unregister(name), false);
        await eventually(async () => (await workers()) === 0, 3000, 'no worker');
      } finally {
        await worker.stop({ timeout: 1000 });
      }
    });

    it('wakes from PRE_SLEEP on NOOP when a job arrives later', async () => {
      const name = fresh('sleepy');
      const worker = new Worker({ servers });
      worker.register(name, (job) => job.text().toUpperCase());
      await worker.start();
      try {
        await sleep(300); // long enough to have sent PRE_SLEEP
        assert.equal((await client.run(name, 'wake')).text(), 'WAKE');
      } finally {
        await worker.stop({ timeout: 1000 });
      }
    });

    it('stops gracefully: the running job finishes before the connection closes', async () => {
      const name = fresh('drain');
      const worker = new Worker({ servers });
      let started!: () => void;
      const running = new Promise<void>((resolve) => (started = resolve));
      worker.register(name, async () => {
        started();
        await sleep(300);
        return 'finished';
      });
      await worker.start();
      const job = client.submit(name, 'x');
      await running;
      const stopped = worker.stop({ timeout: 5000 });
      assert.equal((await job.result()).text(), 'finished');
      await stopped;
      assert.equal(worker.activeJobs, 0);
    });

    it('gives up on a job at the stop deadline and leaves it to the server', async () => {
      const name = fresh('stuck');
      const worker = new Worker({ servers });
      let signal: AbortSignal | undefined;
      worker.register(name, (job: WorkerJob) => {
        signal = job.signal;
        return new Promise(() => undefined);
      });
      await worker.start();
      const handle = await client.submitBackground(name, 'x');
      await eventually(() => signal !== undefined, 3000, 'job started');
      const t0 = Date.now();
      await worker.stop({ timeout: 200 });
      assert.ok(Date.now() - t0 < 3000);
      assert.equal(signal?.aborted, true);
      // The server put the job back in the queue.
      await eventually(
        async () => {
          const s = await client.getStatus(handle);
          return s.known && !s.running;
        },
        3000,
        'job requeued',
      );
      await admin.cancelJob(handle);
    });

    it('connects to every server in its list', async () => {
      const second = await kind.start();
      const name = fresh('both');
      const worker = new Worker({ servers: [servers, `127.0.0.1:${second.port}`] });
      worker.register(name, (job) => `done ${job.text()}`);
      await worker.start();
      const other = new Client({ servers: `127.0.0.1:${second.port}` });
      try {
        assert.equal((await client.run(name, 'a')).text(), 'done a');
        assert.equal((await other.run(name, 'b')).text(), 'done b');
      } finally {
        await other.close();
        await worker.stop({ timeout: 1000 });
        await second.stop();
      }
    });

    it('client fails over to the next server when the first is stopped', async () => {
      const first = await kind.start();
      const second = await kind.start();
      const list = [`127.0.0.1:${first.port}`, `127.0.0.1:${second.port}`];
      const name = fresh('failover');
      const worker = new Worker({ servers: list, backoff: { initialDelay: 50, maxDelay: 200 } });
      worker.register(name, (job) => `via ${job.text()}`);
      await worker.start();
      const c = new Client({ servers: list, selection: 'round-robin' });
      try {
        assert.equal((await c.run(name, '1')).text(), 'via 1');
        await first.stop();
        for (let i = 0; i < 4; i++)
          assert.equal((await c.run(name, `after-${i}`)).text(), `via after-${i}`);
        const uniqueRun = await c.run(name, 'u', { unique: fresh('uniq') });
        assert.equal(uniqueRun.text(), 'via u');
      } finally {
        await c.close();
        await worker.stop({ timeout: 1000 });
        await first.stop();
        await second.stop();
      }
    });
  });
}

describe('Worker reconnects', { skip: await skipUnless('worker reconnect', 'gearmand') }, () => {
  it('reconnects with backoff after the server restarts and takes jobs again', async () => {
    const port = await freePort();
    let server = await startGearmandOn(port);
    const servers = `127.0.0.1:${port}`;
    const worker = new Worker({ servers, backoff: { initialDelay: 50, maxDelay: 300 } });
    const events: string[] = [];
    worker.on('connect', () => events.push('connect'));
    worker.on('disconnect', () => events.push('disconnect'));
    worker.register('restart-fn', (job) => `again ${job.text()}`);
    await worker.start();
    const client = new Client({ servers });
    try {
      assert.equal((await client.run('restart-fn', '1')).text(), 'again 1');
      await server.stop();
      await eventually(() => events.includes('disconnect'), 3000, 'disconnect');
      server = await startGearmandOn(port);
      await eventually(() => events.filter((e) => e === 'connect').length === 2, 5000, 'reconnect');
      assert.equal((await client.run('restart-fn', '2')).text(), 'again 2');
    } finally {
      await client.close();
      await worker.stop({ timeout: 1000 });
      await server.stop();
    }
  });

  it('start() rejects clearly when no server is up, and stop() ends the retries', async () => {
    const port = await freePort();
    const worker = new Worker({ servers: `127.0.0.1:${port}` });
    worker.register('x', () => 'y');
    await assert.rejects(worker.start(), /no job server could be reached/);
    await worker.stop({ timeout: 100 });
  });

  it('rejects invalid options with TypeError', () => {
    assert.throws(() => new Worker({ concurrency: 0 }), TypeError);
    const worker = new Worker();
    assert.throws(() => worker.register('', () => 1), TypeError);
    assert.throws(() => worker.register('f', 'nope' as unknown as () => 1), TypeError);
    assert.throws(() => worker.register('f', () => 1, { timeout: 0 }), TypeError);
  });
});
