import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  AdminClient,
  AdminCommandError,
  Client,
  ConnectionError,
  ServerError,
  TimeoutError,
  Worker,
} from '../../src/index.js';
import { freePort, type RunningServer } from '../helpers/processes.js';
import { eventually, SERVER_KINDS, skipKind } from '../helpers/lib-servers.js';

let counter = 0;
const fresh = (base: string): string => `${base}-${process.pid}-${++counter}`;

for (const kind of SERVER_KINDS) {
  describe(`AdminClient against ${kind.name}`, { skip: await skipKind(kind) }, () => {
    let server: RunningServer;
    let servers: string;
    let admin: AdminClient;
    let client: Client;

    before(async () => {
      server = await kind.start();
      servers = `127.0.0.1:${server.port}`;
      admin = new AdminClient({ server: servers });
      client = new Client({ servers });
    });

    after(async () => {
      await admin?.close();
      await client?.close();
      await server?.stop();
    });

    it('reports status, prioritystatus, workers, show jobs and show unique jobs', async () => {
      const name = fresh('adm');
      const unique = fresh('uniq');
      const high = await client.submitBackground(name, 'a', { priority: 'high', unique });
      const normal = await client.submitBackground(name, 'b');
      await client.submitBackground(name, 'c', { priority: 'low' });
      await client.submitBackground(name, 'd', { priority: 'low' });
      const worker = new Worker({ servers, clientId: 'admin-test-worker' });
      // Not started yet: the counts below are of queued jobs only.
      worker.register(name, () => new Promise(() => undefined));
      try {
        const status = (await admin.status()).find((s) => s.name === name);
        assert.deepEqual(status, { name, total: 4, running: 0, workers: 0 });
        const priorities = (await admin.priorityStatus()).find((s) => s.name === name);
        assert.deepEqual(priorities, { name, high: 1, normal: 1, low: 2, workers: 0 });
        const jobs = await admin.showJobs();
        const mine = jobs.find((j) => j.handle === high);
        assert.deepEqual(mine, { handle: high, retries: 0, ignored: false, queued: true });
        assert.ok(jobs.some((j) => j.handle === normal));
        assert.ok((await admin.showUniqueJobs()).includes(unique));

        await worker.start();
        await eventually(
          async () => (await admin.status()).find((s) => s.name === name)?.running === 1,
          3000,
          'one job running',
        );
        const after = (await admin.status()).find((s) => s.name === name);
        assert.deepEqual(after, { name, total: 4, running: 1, workers: 1 });
        const listed = (await admin.workers()).find((w) => w.clientId === 'admin-test-worker');
        assert.deepEqual(listed?.functions, [name]);
        assert.match(listed?.ip ?? '', /127\.0\.0\.1/);
      } finally {
        await worker.stop({ timeout: 50 });
        for (const job of await admin.showJobs()) await admin.cancelJob(job.handle).catch(() => 0);
      }
    });

    it('cancels a job, and reports UNKNOWN_JOB for a handle it does not have', async () => {
      const handle = await client.submitBackground(fresh('cancel'), 'x');
      await admin.cancelJob(handle);
      await assert.rejects(admin.cancelJob('H:none:424242'), (e: unknown) => {
        assert.ok(e instanceof AdminCommandError);
        assert.equal(e.serverCode, 'UNKNOWN_JOB');
        return true;
      });
    });

    it('creates and drops functions', async () => {
      const name = fresh('made');
      await admin.createFunction(name);
      assert.ok((await admin.status()).some((s) => s.name === name));
      await admin.dropFunction(name);
      assert.ok(!(await admin.status()).some((s) => s.name === name));
      await assert.rejects(admin.dropFunction(fresh('never')), AdminCommandError);
    });

    it('limits a queue with maxqueue (the client sees QUEUE_ERROR)', async () => {
      const name = fresh('capped');
      await admin.createFunction(name);
      await admin.maxQueue(name, 1);
      const first = await client.submitBackground(name, 'one');
      await assert.rejects(client.submitBackground(name, 'two'), (e: unknown) => {
        assert.ok(e instanceof ServerError);
        assert.equal(e.serverCode, 'QUEUE_ERROR');
        return true;
      });
      await admin.maxQueue(name, { high: 0, normal: 0, low: 0 });
      const second = await client.submitBackground(name, 'two');
      await admin.cancelJob(first);
      await admin.cancelJob(second);
    });

    it('reports pid, version and verbosity', async () => {
      assert.equal(await admin.getPid(), server.process.pid);
      assert.match(await admin.version(), /\d+\.\d+/);
      assert.match(await admin.verbose(), /^[A-Z]+$/);
    });

    it('pipelines commands on one connection and keeps their answers apart', async () => {
      const [pid, version, status, jobs] = await Promise.all([
        admin.getPid(),
        admin.version(),
        admin.status(),
        admin.showJobs(),
      ]);
      assert.equal(pid, server.process.pid);
      assert.equal(typeof version, 'string');
      assert.ok(Array.isArray(status));
      assert.ok(Array.isArray(jobs));
    });

    it('rejects invalid arguments with TypeError', async () => {
      await assert.rejects(admin.cancelJob('two words'), TypeError);
      await assert.rejects(admin.createFunction(''), TypeError);
      await assert.rejects(admin.maxQueue('f', 1.5), TypeError);
      await assert.rejects(admin.command('status\nworkers', true), TypeError);
    });
  });
}

describe('AdminClient failures', () => {
  it('fails clearly when the server is down', async () => {
    const admin = new AdminClient({ server: `127.0.0.1:${await freePort()}` });
    await assert.rejects(admin.status(), (e: unknown) => {
      assert.ok(e instanceof ConnectionError);
      assert.equal(e.code, 'CONNECT_FAILED');
      return true;
    });
    await admin.close();
  });

  it('times out each command on a server that never answers', async () => {
    const silent = createServer((socket) => socket.on('error', () => undefined));
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const address = silent.address();
    assert.ok(address !== null && typeof address === 'object');
    const admin = new AdminClient({ server: `127.0.0.1:${address.port}`, timeout: 150 });
    try {
      await assert.rejects(admin.status(), TimeoutError);
      await assert.rejects(admin.version(), TimeoutError);
    } finally {
      await admin.close();
      silent.close();
    }
  });
});
