import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { AdminClient, Worker } from '../../src/index.js';
import { freePort, type RunningServer } from '../helpers/processes.js';
import { runGearboxWithInput, SERVER_KINDS, skipKind } from '../helpers/lib-servers.js';
import { skipUnless, tools } from '../helpers/services.js';

let counter = 0;
const fresh = (base: string): string => `${base}-${process.pid}-${++counter}`;

for (const kind of SERVER_KINDS) {
  describe(`gearbox submit against ${kind.name}`, { skip: await skipKind(kind) }, () => {
    let server: RunningServer;
    let worker: Worker;
    let admin: AdminClient;
    const upper = fresh('upper');
    const fail = fresh('fail');

    before(async () => {
      server = await kind.start();
      worker = new Worker({ servers: `127.0.0.1:${server.port}` });
      worker.register(upper, (job) => {
        job.sendData('[');
        return `${job.text().toUpperCase()}]`;
      });
      worker.register(fail, () => {
        throw new Error('no thanks');
      });
      await worker.start();
      admin = new AdminClient({ server: `127.0.0.1:${server.port}` });
    });

    after(async () => {
      await admin?.close();
      await worker?.stop({ timeout: 1000 });
      await server?.stop();
    });

    const port = (): string => String(server.port);

    it('submits one job per argument and prints data chunks and results', async () => {
      const run = await runGearboxWithInput(
        ['submit', '-h', '127.0.0.1', '-p', port(), '-f', upper, 'ab', 'cd'],
        undefined,
      );
      assert.equal(run.stderr, '');
      assert.equal(run.code, 0);
      assert.equal(run.stdout.toString(), '[AB][CD]');
    });

    it('reads the workload from stdin when there are no arguments', async () => {
      const run = await runGearboxWithInput(
        ['submit', '--servers', `127.0.0.1:${port()}`, '-f', upper],
        'from stdin',
      );
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout.toString(), '[FROM STDIN]');
    });

    it('exits non-zero with the worker message when the job fails', async () => {
      const run = await runGearboxWithInput(
        ['submit', '-p', port(), '-h', '127.0.0.1', '-f', fail, 'x'],
        undefined,
      );
      assert.equal(run.code, 1);
      assert.match(run.stderr, /no thanks/);
    });

    it('submits in the background with priorities and a unique id', async () => {
      const name = fresh('bg');
      const base = ['submit', '-h', '127.0.0.1', '-p', port(), '-f', name, '-b'];
      assert.equal((await runGearboxWithInput([...base, '-I', 'h'], undefined)).code, 0);
      assert.equal((await runGearboxWithInput([...base, '-L', 'l'], undefined)).code, 0);
      const unique = fresh('u');
      const first = await runGearboxWithInput([...base, '-u', unique, '-v', 'x'], undefined);
      const second = await runGearboxWithInput([...base, '-u', unique, '-v', 'y'], undefined);
      assert.equal(first.stdout.length, 0);
      assert.match(first.stderr, /Task created: (\S+)/);
      assert.equal(first.stderr, second.stderr, 'same unique, same job handle');
      const counts = (await admin.priorityStatus()).find((s) => s.name === name);
      assert.deepEqual(counts, { name, high: 1, normal: 1, low: 1, workers: 0 });
      for (const job of await admin.showJobs()) await admin.cancelJob(job.handle).catch(() => 0);
    });
  });
}

describe('gearbox submit usage and failures', () => {
  it('exits 2 without -f, and 1 when no server can be reached', async () => {
    const usage = await runGearboxWithInput(['submit', 'x'], undefined);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /-f FUNCTION is required/);
    const down = await runGearboxWithInput(
      ['submit', '-h', '127.0.0.1', '-p', String(await freePort()), '-f', 'f', 'x'],
      undefined,
    );
    assert.equal(down.code, 1);
    assert.match(down.stderr, /no job server could be reached/);
  });
});

describe(
  'gearbox submit with a gearman -w worker on gearmand',
  { skip: await skipUnless('submit to gearman -w', 'gearmand', 'gearman-tools') },
  () => {
    it('round-trips through the C tool', async () => {
      const server = await SERVER_KINDS[0]!.start();
      const child = spawn(
        tools.gearman,
        ['-h', '127.0.0.1', '-p', String(server.port), '-w', '-f', 'ctool', '-c', '1', '--', 'rev'],
        { stdio: 'ignore' },
      );
      try {
        const run = await runGearboxWithInput(
          ['submit', '-h', '127.0.0.1', '-p', String(server.port), '-f', 'ctool'],
          'abc\n',
        );
        assert.equal(run.code, 0, run.stderr);
        assert.equal(run.stdout.toString(), 'cba\n');
      } finally {
        if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid);
        await server.stop();
      }
    });
  },
);
