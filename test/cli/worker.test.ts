import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { Client, JobExceptionError } from '../../src/index.js';
import { spawnGearbox } from '../helpers/gearbox-cli.js';
import { eventually, SERVER_KINDS, skipKind } from '../helpers/lib-servers.js';
import { skipUnless, tools } from '../helpers/services.js';
import type { RunningServer } from '../helpers/processes.js';
import type { ChildProcess } from 'node:child_process';

function startCliWorker(
  server: RunningServer,
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
