import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  AbortError,
  AdminClient,
  Client,
  ConnectionError,
  JobExceptionError,
  JobFailedError,
  TimeoutError,
  Worker,
  type JobUpdate,
} from '../../src/index.js';
import { freePort, type RunningServer } from '../helpers/processes.js';
import { eventually, SERVER_KINDS, skipKind } from '../helpers/lib-servers.js';

let counter = 0;
/** A function name no other test uses. */
const fresh = (base: string): string => `${base}-${process.pid}-${++counter}`;

for (const kind of SERVER_KINDS) {
  describe(`Client against ${kind.name}`, { skip: await skipKind(kind) }, () => {
    let server: RunningServer;
    let servers: string;
    let worker: Worker;
    let client: Client;
    const fn = {
      reverse: fresh('reverse'),
      progress: fresh('progress'),
      boom: fresh('boom'),
      echo: fresh('echo'),
      sleep: fresh('sleep'),
    };

    before(async () => {
      server = await kind.start();
      servers = `127.0.0.1:${server.port}`;
      worker = new Worker({ servers, concurrency: 4 });
      worker.register(fn.reverse, (job) => job.text().split('').reverse().join(''));
      worker.register(fn.progress, async (job) => {
        job.sendStatus(1, 3);
        job.sendData('first ');
        job.sendWarning('careful');
        job.sendStatus(2, 3);
        job.sendData('second');
        await new Promise((r) => setTimeout(r, 5));
        return { done: true, input: job.text() };
      });
      worker.register(fn.boom, (job) => {
        throw new Error(`cannot handle ${job.text()}`);
      });
      worker.register(fn.echo, (job) => job.workload);
      worker.register(
        fn.sleep,
        (job) => new Promise((resolve) => setTimeout(() => resolve('slept'), Number(job.text()))),
      );
      await worker.start();
      client = new Client({ servers });
    });

    after(async () => {
      await client?.close();
      await worker?.stop({ timeout: 2000 });
      await server?.stop();
    });

    it('runs a foreground job and returns its bytes, text and JSON', async () => {
      const result = await client.run(fn.reverse, 'hello');
      assert.equal(result.text(), 'olleh');
      assert.deepEqual(result.data, Buffer.from('olleh'));
      assert.match(result.handle, /.+/);
      const json = await client.run(fn.progress, 'x');
      assert.deepEqual(json.json(), { done: true, input: 'x' });
    });

    it('reports WORK_DATA, WORK_WARNING and WORK_STATUS as events and by iteration', async () => {
      const job = client.submit(fn.progress, 'abc');
      const events: string[] = [];
      job.on('created', (h) => events.push(`created:${h === job.handle}`));
      job.on('status', (n, d) => events.push(`status:${n}/${d}`));
      job.on('data', (d) => events.push(`data:${d.toString()}`));
      job.on('warning', (d) => events.push(`warning:${d.toString()}`));
      const updates: JobUpdate[] = [];
      for await (const update of job) updates.push(update);
      const result = await job.result();
      assert.deepEqual(result.json(), { done: true, input: 'abc' });
      assert.deepEqual(events, [
        'created:true',
        'status:1/3',
        'data:first ',
        'warning:careful',
        'status:2/3',
        'data:second',
      ]);
      assert.deepEqual(
        updates.map((u) => (u.type === 'status' ? `${u.numerator}/${u.denominator}` : u.type)),
        ['1/3', 'data', 'warning', '2/3', 'data', 'complete'],
      );
    });

    it('ends iteration with the result (bug: `for await` never yielded it)', async () => {
      let last: JobUpdate | undefined;
      for await (const update of client.submit(fn.progress, 'xyz')) last = update;
      assert.equal(last?.type, 'complete');
      if (last?.type !== 'complete') return;
      assert.deepEqual(last.result.json(), { done: true, input: 'xyz' });
      assert.deepEqual(last.data, last.result.data, 'data is the result bytes, like a data update');
    });

    it('rejects with JobExceptionError carrying the worker message (exceptions on by default)', async () => {
      const error = await client.run(fn.boom, 'this').then(
        () => assert.fail('should have failed'),
        (e: unknown) => e,
      );
      assert.ok(error instanceof JobExceptionError, String(error));
      assert.equal(error.code, 'JOB_EXCEPTION');
      assert.equal(error.data.toString(), 'cannot handle this');
      // Async iteration throws the same error.
      await assert.rejects(async () => {
        for await (const _ of client.submit(fn.boom, 'again')) void _;
      }, JobExceptionError);
    });

    it('rejects with JobFailedError when exceptions are not requested', async () => {
      const plain = new Client({ servers, exceptions: false });
      try {
        await assert.rejects(plain.run(fn.boom, 'x'), (e: unknown) => {
          assert.ok(e instanceof JobFailedError);
          assert.equal(e.code, 'JOB_FAILED');
          return true;
        });
      } finally {
        await plain.close();
      }
    });

    it('submits background jobs, and reports their status by handle and unique', async () => {
      const idle = fresh('idle');
      const unique = fresh('u');
      const handle = await client.submitBackground(idle, 'payload', { unique });
      assert.match(handle, /.+/);
      const again = await client.submitBackground(idle, 'other', { unique });
      assert.equal(again, handle, 'the same unique coalesces onto the same job');
      const status = await client.getStatus(handle);
      assert.deepEqual(status, {
        handle,
        known: true,
        running: false,
        numerator: 0,
        denominator: 0,
      });
      const byUnique = await client.getStatusByUnique(unique);
      assert.equal(byUnique.known, true);
      assert.equal(byUnique.running, false);
      assert.equal(byUnique.waitingClients, 0);
      const unknown = await client.getStatus('H:nowhere:999999');
      assert.equal(unknown.known, false);
      const admin = new AdminClient({ server: servers });
      try {
        await admin.cancelJob(handle);
      } finally {
        await admin.close();
      }
    });

    it('runs queued jobs by priority: high, then normal, then low', async () => {
      const name = fresh('prio');
      const order: string[] = [];
      await client.submitBackground(name, 'low', { priority: 'low' });
      await client.submitBackground(name, 'normal');
      await client.submitBackground(name, 'high', { priority: 'high' });
      const w = new Worker({ servers });
      w.register(name, (job) => {
        order.push(job.text());
      });
      await w.start();
      try {
        await eventually(() => order.length === 3, 5000, 'three jobs');
      } finally {
        await w.stop({ timeout: 1000 });
      }
      assert.deepEqual(order, ['high', 'normal', 'low']);
    });

    it('schedules a job for a time with SUBMIT_JOB_EPOCH', async () => {
      const name = fresh('later');
      const handle = await client.submitBackground(name, 'x', {
        at: new Date(Date.now() + 3600_000),
      });
      assert.equal((await client.getStatus(handle)).known, true);
      const admin = new AdminClient({ server: servers });
      try {
        const status = (await admin.status()).find((s) => s.name === name);
        assert.equal(status?.total, 1);
        await admin.cancelJob(handle);
      } finally {
        await admin.close();
      }
    });

    it('gives each of two coalesced submissions every update exactly once', async () => {
      const unique = fresh('same');
      const a = client.submit(fn.progress, 'one', { unique });
      const b = client.submit(fn.progress, 'one', { unique });
      const seen = (job: typeof a): string[] => {
        const out: string[] = [];
        job.on('data', (d) => out.push(d.toString()));
        job.on('status', (n, d) => out.push(`${n}/${d}`));
        return out;
      };
      const seenA = seen(a);
      const seenB = seen(b);
      const [ra, rb] = await Promise.all([a.result(), b.result()]);
      assert.equal(ra.handle, rb.handle);
      assert.deepEqual(ra.json(), { done: true, input: 'one' });
      assert.deepEqual(rb.json(), { done: true, input: 'one' });
      assert.deepEqual(seenA, ['1/3', 'first ', '2/3', 'second']);
      assert.deepEqual(seenB, ['1/3', 'first ', '2/3', 'second']);
    });

    it('echoes bytes with NULs intact', async () => {
      const bytes = Buffer.from([0, 1, 2, 0, 255, 0]);
      assert.deepEqual(await client.echo(bytes), bytes);
    });

    it('moves 10 MB each way byte-exact', async () => {
      const payload = Buffer.alloc(10 * 1024 * 1024);
      for (let i = 0; i < payload.length; i += 4096) payload.writeUInt32BE(i, i);
      payload[payload.length - 1] = 0x5a;
      const result = await client.run(fn.echo, payload, { timeout: 60_000 });
      assert.equal(result.data.length, payload.length);
      assert.ok(result.data.equals(payload));
    });

    it('pipelines many jobs on one connection and matches results by handle', async () => {
      const inputs = Array.from({ length: 500 }, (_, i) => `job-${i}`);
      const results = await Promise.all(inputs.map((s) => client.run(fn.reverse, s)));
      assert.deepEqual(
        results.map((r) => r.text()),
        inputs.map((s) => s.split('').reverse().join('')),
      );
    });

    it('applies back-pressure with maxInFlight and still finishes every job', async () => {
      const narrow = new Client({ servers, maxInFlight: 2 });
      try {
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) => narrow.run(fn.reverse, `n${i}`)),
        );
        assert.equal(results.length, 20);
        assert.equal(results[7]?.text(), '7n');
      } finally {
        await narrow.close();
      }
    });

    it('gives up after the timeout, and on abort', async () => {
      await assert.rejects(client.run(fn.sleep, '2000', { timeout: 100 }), TimeoutError);
      const controller = new AbortController();
      const job = client.submit(fn.sleep, '2000', { signal: controller.signal });
      setTimeout(() => controller.abort(), 50);
      await assert.rejects(job.result(), AbortError);
      const aborted = AbortSignal.abort();
      await assert.rejects(client.run(fn.reverse, 'x', { signal: aborted }), AbortError);
    });

    it('throws TypeError at the call for invalid arguments', () => {
      assert.throws(() => client.submit('', 'x'), TypeError);
      assert.throws(() => client.submit('f\0g', 'x'), TypeError);
      assert.throws(() => client.submit('f', 42 as unknown as string), TypeError);
      assert.throws(() => client.submit('f', 'x', { priority: 'urgent' as 'high' }), TypeError);
      assert.throws(() => client.submit('f', 'x', { timeout: -1 }), TypeError);
      assert.throws(() => client.submit('f', 'x', { unique: 'u'.repeat(65) }), TypeError);
      assert.throws(() => new Client({ servers: 'host:notaport' }), TypeError);
      assert.throws(() => new Client({ selection: 'random' as 'hash' }), TypeError);
      void assert.rejects(
        client.submitBackground('f', 'x', { at: new Date('nonsense') }),
        TypeError,
      );
    });

    it('shows its client id in the workers list', async () => {
      const named = new Client({ servers, clientId: fresh('client-id') });
      try {
        await named.echo('hi');
        const admin = new AdminClient({ server: servers });
        try {
          const workers = await admin.workers();
          assert.ok(workers.some((w) => w.clientId.startsWith('client-id-')));
        } finally {
          await admin.close();
        }
      } finally {
        await named.close();
      }
    });

    it('fails jobs in flight with CONNECTION_LOST when the server goes away', async () => {
      const own = await kind.start();
      const ownServers = `127.0.0.1:${own.port}`;
      const w = new Worker({ servers: ownServers });
      const name = fresh('hang');
      let started!: () => void;
      const running = new Promise<void>((resolve) => (started = resolve));
      w.register(name, () => {
        started();
        return new Promise(() => undefined);
      });
      await w.start();
      const c = new Client({ servers: ownServers });
      try {
        const job = c.submit(name, 'x');
        await running;
        await own.stop('SIGKILL');
        await assert.rejects(job.result(), (e: unknown) => {
          assert.ok(e instanceof ConnectionError);
          assert.equal(e.code, 'CONNECTION_LOST');
          return true;
        });
        // With the only server down, a new job fails at once instead of hanging.
        await assert.rejects(c.run(name, 'y'), (e: unknown) => {
          assert.ok(e instanceof ConnectionError);
          assert.equal(e.code, 'NO_SERVER_AVAILABLE');
          return true;
        });
      } finally {
        await c.close();
        await w.stop({ timeout: 100 });
      }
    });
  });
}

describe('Client without servers', () => {
  it('fails with NO_SERVER_AVAILABLE when nothing listens', async () => {
    const port = await freePort();
    const client = new Client({ servers: `127.0.0.1:${port}` });
    try {
      await assert.rejects(client.run('f', 'x'), (e: unknown) => {
        assert.ok(e instanceof ConnectionError);
        assert.equal(e.code, 'NO_SERVER_AVAILABLE');
        assert.match(e.message, /ECONNREFUSED/);
        return true;
      });
    } finally {
      await client.close();
    }
  });

  it('rejects jobs waiting on a closed client with CLOSED', async () => {
    const client = new Client({ servers: '127.0.0.1:1' });
    await client.close();
    await assert.rejects(client.run('f', 'x'), (e: unknown) => {
      assert.ok(e instanceof ConnectionError);
      assert.equal(e.code, 'CLOSED');
      return true;
    });
  });
});
