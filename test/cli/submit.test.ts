import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { AdminClient, Worker } from '../../src/index.js';
import { freePort, type RunningServer } from '../helpers/processes.js';
import { progressLine } from '../../src/cli/submit.js';
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

/** The statuses the progress worker sends, in order (9/7: workers may overshoot). */
const STATUSES: ReadonlyArray<readonly [number, number]> = [
  [1, 3],
  [2, 3],
  [5, 7],
  [9, 7],
];

describe(
  'gearbox submit progress, as the gearman tool prints it',
  { skip: await skipUnless('submit progress against gearman', 'gearman-tools') },
  () => {
    for (const kind of SERVER_KINDS) {
      it(`prints WORK_STATUS as gearman does, on stderr (${kind.name})`, async (t) => {
        const skip = await skipKind(kind);
        if (skip) return t.skip(skip);
        const server = await kind.start();
        const worker = new Worker({ servers: `127.0.0.1:${server.port}` });
        worker.register('progress', async (job) => {
          for (const [n, d] of STATUSES) {
            job.sendStatus(n, d);
            // Apart, so that no client sees them coalesced.
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
          return 'done';
        });
        try {
          await worker.start();
          const args = ['-h', '127.0.0.1', '-p', String(server.port), '-f', 'progress', 'x'];
          const gearman = await new Promise<string>((resolve, reject) =>
            execFile(tools.gearman, args, { timeout: 10_000 }, (err, stdout) =>
              err ? reject(new Error(err.message, { cause: err })) : resolve(stdout),
            ),
          );
          const ours = await runGearboxWithInput(['submit', ...args], undefined);
          assert.equal(ours.code, 0, ours.stderr);
          // gearman mixes its progress into stdout, after the result (stdio buffering); we keep
          // stdout for the result and print the same lines on stderr, as they come.
          const theirs = [...gearman.matchAll(/\d+% Complete/g)].map((m) => m[0]);
          assert.deepEqual(theirs, [
            '33% Complete',
            '66% Complete',
            '71% Complete',
            '128% Complete',
          ]);
          assert.deepEqual(ours.stderr.split('\n').filter(Boolean), theirs);
          assert.equal(ours.stdout.toString(), 'done');
        } finally {
          await worker.stop({ timeout: 1000 });
          await server.stop();
        }
      });
    }

    it('prints nothing for a 0 denominator (gearman dies dividing by it)', () => {
      assert.equal(progressLine(0, 0), undefined);
      assert.equal(progressLine(1, 3), '33% Complete');
      assert.equal(progressLine(3, 3), '100% Complete');
    });
  },
);

describe('gearbox submit when no worker has the function', () => {
  let server: RunningServer;
  let worker: Worker;
  before(async () => {
    server = await SERVER_KINDS[1]!.start();
    worker = new Worker({ servers: `127.0.0.1:${server.port}` });
    worker.register('slow', async () => {
      await new Promise((resolve) => setTimeout(resolve, 1200));
      return 'late';
    });
    await worker.start();
  });
  after(async () => {
    await worker?.stop({ timeout: 2000 });
    await server?.stop();
  });
  const submit = (args: string[]) =>
    runGearboxWithInput(
      ['submit', '-h', '127.0.0.1', '-p', String(server.port), ...args],
      undefined,
    );

  it('warns on stderr after --warn-after seconds, naming the function and the server', async () => {
    const run = await submit(['-f', fresh('nobody'), '--warn-after', '0.3', '-t', '1500', 'x']);
    assert.equal(run.code, 1, 'the job timed out');
    assert.match(
      run.stderr,
      new RegExp(
        `^gearbox submit: no worker has registered nobody-\\S+ on 127\\.0\\.0\\.1:${server.port} \\(admin status, after 0\\.3 s\\); the job waits until one does$`,
        'm',
      ),
    );
  });

  it('stays quiet when a worker has it, however long the job takes, and with --warn-after 0', async () => {
    const slow = await submit(['-f', 'slow', '--warn-after', '0.2', 'x']);
    assert.equal(slow.code, 0, slow.stderr);
    assert.equal(slow.stderr, '');
    assert.equal(slow.stdout.toString(), 'late');
    const never = await submit(['-f', fresh('nobody'), '--warn-after', '0', '-t', '800', 'x']);
    assert.equal(never.code, 1);
    assert.doesNotMatch(never.stderr, /no worker/);
  });
});
