import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { Client, JobExceptionError } from '../../src/index.js';
import { runGearbox, spawnGearbox } from '../helpers/gearbox-cli.js';
import { eventually, SERVER_KINDS, skipKind } from '../helpers/lib-servers.js';
import { skipUnless, tools } from '../helpers/services.js';
import { freePort, waitForPort, type RunningServer } from '../helpers/processes.js';
import type { ChildProcess } from 'node:child_process';

function startCliWorker(
  server: Pick<RunningServer, 'port'>,
  args: string[],
): { child: ChildProcess; stderr: () => string; exit: Promise<number | null> } {
  const child = spawnGearbox(['worker', '-h', '127.0.0.1', '-p', String(server.port), ...args]);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exit = once(child, 'exit').then(([code]) => code as number | null);
  return { child, stderr: () => stderr, exit };
}

function kill(child: ChildProcess): void {
  if (child.exitCode === null && child.signalCode === null && child.pid !== undefined)
    process.kill(child.pid, 'SIGKILL');
}

for (const kind of SERVER_KINDS) {
  describe(`gearbox worker against ${kind.name}`, { skip: await skipKind(kind) }, () => {
    it('runs the command per job with the workload on stdin and exits after -c jobs', async () => {
      const server = await kind.start();
      const worker = startCliWorker(server, ['-f', 'upcase', '-c', '2', '--', 'tr', 'a-z', 'A-Z']);
      const client = new Client({ servers: `127.0.0.1:${server.port}` });
      try {
        assert.equal((await client.run('upcase', 'hello', { timeout: 10_000 })).text(), 'HELLO');
        const bytes = Buffer.from('bin\0ary\n');
        const result = await client.run('upcase', bytes, { timeout: 10_000 });
        assert.deepEqual(result.data, Buffer.from('BIN\0ARY\n'));
        assert.equal(await worker.exit, 0, worker.stderr());
      } finally {
        await client.close();
        kill(worker.child);
        await server.stop();
      }
    });

    it('fails the job when the command exits non-zero, sending its output first', async () => {
      const server = await kind.start();
      const worker = startCliWorker(server, [
        '-f',
        'broken',
        '--',
        'sh',
        '-c',
        'cat >/dev/null; echo partial; exit 3',
      ]);
      const client = new Client({ servers: `127.0.0.1:${server.port}` });
      try {
        const job = client.submit('broken', 'x', { timeout: 10_000 });
        const data: string[] = [];
        job.on('data', (d) => data.push(d.toString()));
        await assert.rejects(job.result(), (e: unknown) => {
          assert.ok(e instanceof JobExceptionError);
          assert.match(e.data.toString(), /exited with status 3/);
          return true;
        });
        assert.deepEqual(data, ['partial\n']);
        await eventually(() => /failed/.test(worker.stderr()), 3000, 'failure logged');
        assert.match(
          worker.stderr(),
          /^gearbox worker: job \S+ \(broken\) failed after \d+(\.\d)? m?s: sh exited with status 3$/m,
        );
        // Still serving after the failure.
        await assert.rejects(client.run('broken', 'y', { timeout: 10_000 }), JobExceptionError);
      } finally {
        await client.close();
        if (worker.child.pid !== undefined) process.kill(worker.child.pid, 'SIGTERM');
        assert.equal(await worker.exit, 0);
        await server.stop();
      }
    });
  });
}

describe(
  'gearbox worker with the gearman client on gearmand',
  { skip: await skipUnless('gearman client to gearbox worker', 'gearmand', 'gearman-tools') },
  () => {
    it('round-trips a job from the C tool', async () => {
      const server = await SERVER_KINDS[0]!.start();
      const worker = startCliWorker(server, ['-f', 'wc', '-c', '1', '--', 'wc', '-c']);
      try {
        await eventually(
          async () =>
            new Promise<boolean>((resolve) =>
              execFile(
                tools.gearadmin,
                ['-h', '127.0.0.1', '-p', String(server.port), '--status'],
                (_, stdout) => resolve(/^wc\t\d+\t\d+\t1$/m.test(stdout)),
              ),
            ),
          5000,
          'worker registered',
        );
        const output = await new Promise<string>((resolve, reject) =>
          execFile(
            tools.gearman,
            ['-h', '127.0.0.1', '-p', String(server.port), '-f', 'wc', '12345'],
            { timeout: 10_000 },
            (err, stdout) =>
              err ? reject(new Error(err.message, { cause: err })) : resolve(stdout),
          ),
        );
        assert.equal(output.trim(), '5');
        assert.equal(await worker.exit, 0);
      } finally {
        kill(worker.child);
        await server.stop();
      }
    });
  },
);

/** A `gearbox server -q builtin` on a given port (where a worker already tries to connect). */
async function serverOn(port: number): Promise<ChildProcess> {
  const child = spawnGearbox(['server', '-L', '127.0.0.1', '-p', String(port), '-q', 'builtin']);
  await waitForPort(port);
  return child;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = once(child, 'exit');
  process.kill(child.pid, 'SIGTERM');
  await exited;
}

const RECONNECT_LINE =
  /^gearbox worker: reconnecting to 127\.0\.0\.1:(\d+) in (\d+(?:\.\d)?) (ms|s) \(attempt (\d+)\)$/gm;

/** The reconnect lines so far: attempt numbers and delays in ms. */
function reconnects(stderr: string): Array<{ attempt: number; delay: number }> {
  return [...stderr.matchAll(RECONNECT_LINE)].map((m) => ({
    attempt: Number(m[4]),
    delay: Number(m[2]) * (m[3] === 's' ? 1000 : 1),
  }));
}

describe('gearbox worker: a talkative daemon', () => {
  it('logs each reconnect attempt with its backoff while the server is down, then the connect', async () => {
    const port = await freePort();
    const worker = startCliWorker({ port }, ['-f', 'cat-it', '-v', '--', 'cat']);
    let server: ChildProcess | undefined;
    try {
      await eventually(
        () => reconnects(worker.stderr()).length >= 4,
        10_000,
        'four retries logged',
      );
      const lines = worker.stderr().split('\n');
      // The first failure and its reason come first, then the retries with growing delays.
      assert.match(
        lines[0] ?? '',
        /no job server could be reached \(cannot connect to 127\.0\.0\.1:\d+: .*ECONNREFUSED/,
      );
      const seen = reconnects(worker.stderr());
      assert.deepEqual(
        seen.map((r) => r.attempt),
        seen.map((_, i) => i + 2),
        'attempts counted in a row, the first try being attempt 1',
      );
      // Exponential from 100 ms with at most half of it random, capped at 5 s.
      for (const [i, r] of seen.entries()) {
        const full = Math.min(5000, 100 * 2 ** (i + 1));
        assert.ok(
          r.delay >= full / 2 - 1 && r.delay <= full + 1,
          `delay ${r.delay} for attempt ${r.attempt}`,
        );
      }
      server = await serverOn(port);
      await eventually(
        () =>
          /^gearbox worker: connected to 127\.0\.0\.1:\d+ \(attempt \d+\)$/m.test(worker.stderr()),
        15_000,
        'reconnect logged',
      );
      const client = new Client({ servers: `127.0.0.1:${port}` });
      try {
        assert.equal((await client.run('cat-it', 'meow', { timeout: 10_000 })).text(), 'meow');
      } finally {
        await client.close();
      }
      // -v: each job's start, then its duration and the command's exit status.
      assert.match(worker.stderr(), /^gearbox worker: job (\S+) \(cat-it\) started$/m);
      assert.match(
        worker.stderr(),
        /^gearbox worker: job \S+ \(cat-it\) done in \d+(\.\d)? m?s, exit status 0$/m,
      );
      // A lost server: the loss, then the retries start again from attempt 1.
      const before = worker.stderr().length;
      await stopChild(server);
      await eventually(
        () => /reconnecting to .* \(attempt 1\)$/m.test(worker.stderr().slice(before)),
        10_000,
        'retry after the loss',
      );
      assert.match(
        worker.stderr().slice(before),
        /^gearbox worker: lost the connection to 127\.0\.0\.1:\d+/m,
      );
    } finally {
      kill(worker.child);
      if (server) await stopChild(server);
    }
  });

  it('says in --help that without a command it echoes the workload', async () => {
    const help = await runGearbox(['worker', '--help']);
    assert.equal(help.code, 0);
    assert.match(
      help.stdout.replace(/\s+/g, ' '),
      /Without COMMAND it is an echo worker: the workload is printed on stdout and sent back as the result/,
    );
  });

  it('echoes without a command, and -v says so', async () => {
    const port = await freePort();
    const server = await serverOn(port);
    const worker = startCliWorker({ port }, ['-f', 'echo-it', '-v', '-c', '1']);
    let stdout = '';
    worker.child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    const client = new Client({ servers: `127.0.0.1:${port}` });
    try {
      assert.equal((await client.run('echo-it', 'ping', { timeout: 10_000 })).text(), 'ping');
      assert.equal(await worker.exit, 0);
      assert.equal(stdout, 'ping');
      assert.match(worker.stderr(), /^gearbox worker: connected to 127\.0\.0\.1:\d+$/m);
      assert.match(worker.stderr(), /\(echo-it\) done in \d+(\.\d)? m?s, echoed$/m);
    } finally {
      await client.close();
      kill(worker.child);
      await stopChild(server);
    }
  });
});
