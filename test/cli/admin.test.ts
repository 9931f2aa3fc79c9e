import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { AdminClient, Client, Worker } from '../../src/index.js';
import { renderWatchTable } from '../../src/cli/admin.js';
import { eventually, runGearboxWithInput, SERVER_KINDS, skipKind } from '../helpers/lib-servers.js';
import { freePort, gearboxMain, type RunningServer } from '../helpers/processes.js';
import { skipUnless, tools } from '../helpers/services.js';

function gearadmin(port: number, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) =>
    execFile(
      tools.gearadmin,
      ['-h', '127.0.0.1', '-p', String(port), ...args],
      { timeout: 10_000 },
      (err, stdout, stderr) =>
        err ? reject(new Error(err.message, { cause: err })) : resolve({ stdout, stderr }),
    ),
  );
}

for (const kind of SERVER_KINDS) {
  describe(
    `gearbox admin against ${kind.name}`,
    { skip: await skipKind(kind, 'gearman-tools') },
    () => {
      let server: RunningServer;
      let worker: Worker;
      let client: Client;

      before(async () => {
        server = await kind.start();
        const servers = `127.0.0.1:${server.port}`;
        client = new Client({ servers });
        // Some state to show: queued jobs at each priority, a worker, a running job.
        await client.submitBackground('queued', 'a', { priority: 'high' });
        await client.submitBackground('queued', 'b');
        await client.submitBackground('queued', 'c', { priority: 'low' });
        await client.submitBackground('busy', 'x', { unique: 'busy-1' });
        worker = new Worker({ servers });
        let started!: () => void;
        const running = new Promise<void>((resolve) => (started = resolve));
        worker.register('busy', () => {
          started();
          return new Promise(() => undefined);
        });
        await worker.start();
        await running;
      });

      after(async () => {
        await client?.close();
        await worker?.stop({ timeout: 50 });
        await server?.stop();
      });

      const admin = (args: string[]) =>
        runGearboxWithInput(['admin', '-h', '127.0.0.1', '-p', String(server.port), ...args], '');

      for (const flag of [
        '--status',
        '--priority-status',
        '--show-jobs',
        '--show-unique-jobs',
        '--getpid',
        '--server-version',
      ]) {
        it(`prints ${flag} exactly as gearadmin does`, async () => {
          const ours = await admin([flag]);
          const theirs = await gearadmin(server.port, [flag]);
          assert.equal(ours.code, 0, ours.stderr);
          assert.equal(ours.stdout.toString(), theirs.stdout);
        });
      }

      it('prints the same as gearadmin for several flags at once, in its order', async () => {
        const flags = ['--status', '--getpid', '--show-jobs', '--server-version'];
        const ours = await admin(flags);
        const theirs = await gearadmin(server.port, flags);
        assert.equal(ours.stdout.toString(), theirs.stdout);
      });

      it('reports errors like gearadmin, with a non-zero status', async () => {
        const ours = await admin(['--cancel-job', 'H:none:1']);
        assert.equal(ours.code, 1);
        const theirs = await gearadmin(server.port, ['--cancel-job', 'H:none:1']);
        assert.equal(ours.stderr, theirs.stderr);
        assert.match(ours.stderr, /^Error: UNKNOWN_JOB\r?\n$/);
      });

      it('creates and drops a function, printing OK', async () => {
        const made = await admin(['--create-function', 'cli-made']);
        assert.equal(made.stdout.toString(), 'OK\n');
        const direct = new AdminClient({ server: `127.0.0.1:${server.port}` });
        try {
          assert.ok((await direct.status()).some((s) => s.name === 'cli-made'));
        } finally {
          await direct.close();
        }
        const dropped = await admin(['--drop-function', 'cli-made']);
        assert.equal(dropped.stdout.toString(), 'OK\n');
      });

      it('prints parsed results with --json', async () => {
        const run = await admin([
          '--json',
          '--status',
          '--priority-status',
          '--getpid',
          '--workers',
          '--show-jobs',
        ]);
        assert.equal(run.code, 0, run.stderr);
        const parsed = JSON.parse(run.stdout.toString()) as {
          status: Array<{ name: string; total: number; running: number; workers: number }>;
          'priority-status': Array<{ name: string; high: number; normal: number; low: number }>;
          getpid: number;
          workers: Array<{ fd: unknown; ip: string; clientId: string; functions: string[] }>;
          'show-jobs': Array<{ handle: string; retries: unknown; ignored: unknown }>;
        };
        // Numbers are numbers (the fd column came out as a string once).
        const busyWorker = parsed.workers.find((w) => w.functions.includes('busy'));
        assert.ok(busyWorker, JSON.stringify(parsed.workers));
        assert.equal(typeof busyWorker.fd, 'number');
        assert.ok(Number.isInteger(busyWorker.fd));
        assert.ok(parsed['show-jobs'].length > 0);
        for (const job of parsed['show-jobs']) {
          assert.equal(typeof job.retries, 'number');
          assert.equal(typeof job.ignored, 'boolean');
        }
        assert.deepEqual(
          parsed.status.find((s) => s.name === 'busy'),
          { name: 'busy', total: 1, running: 1, workers: 1 },
        );
        assert.deepEqual(
          parsed['priority-status'].find((s) => s.name === 'queued'),
          { name: 'queued', high: 1, normal: 1, low: 1, workers: 0 },
        );
        assert.equal(parsed.getpid, server.process.pid);
      });

      it('--watch shows a table of every server, and a server that is down', async () => {
        const down = await freePort();
        const run = await runGearboxWithInput(
          [
            'admin',
            '--servers',
            `127.0.0.1:${server.port},127.0.0.1:${down}`,
            '--watch',
            '--iterations',
            '2',
            '--interval',
            '50',
          ],
          '',
        );
        assert.equal(run.code, 0, run.stderr);
        const text = run.stdout.toString();
        assert.equal(
          text.match(/SERVER\s+FUNCTION\s+HIGH\s+NORMAL\s+LOW\s+RUNNING\s+WORKERS/g)?.length,
          2,
        );
        assert.match(
          text,
          new RegExp(`127\\.0\\.0\\.1:${server.port}\\s+busy\\s+0\\s+0\\s+0\\s+1\\s+1`),
        );
        assert.match(
          text,
          new RegExp(`127\\.0\\.0\\.1:${server.port}\\s+queued\\s+1\\s+1\\s+1\\s+0\\s+0`),
        );
        assert.match(text, new RegExp(`! .*127\\.0\\.0\\.1:${down}`));
        // Not a terminal: q cannot be read, so the header names only Ctrl-C.
        assert.match(text, /^gearbox admin --watch {2}\S+ {2}every 50 ms {2}Ctrl-C: quit$/m);
      });
    },
  );
}

describe(
  'gearbox admin --watch on a terminal',
  { skip: await skipUnless('gearbox admin --watch on a pseudo-terminal', 'script') },
  () => {
    it('quits on q and says so in its header, with the refresh interval', async () => {
      const server = await SERVER_KINDS[1]!.start();
      // script(1) gives the command a pseudo-terminal and passes our bytes to it as keys; the
      // echo marks the command's own exit, since script itself waits for its stdin to close.
      const command = `'${process.execPath}' '${gearboxMain}' admin -h 127.0.0.1 -p ${server.port} --watch --interval 200; echo "watch-exit:$?"`;
      const child = spawn(tools.script, ['-qec', command, '/dev/null'], {
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      try {
        await eventually(
          () => (out.match(/SERVER\s+FUNCTION/g) ?? []).length >= 2,
          10_000,
          'tables',
        );
        assert.match(out, /gearbox admin --watch {2}\S+ {2}every 200 ms {2}q or Ctrl-C: quit/);
        child.stdin.write('q');
        await eventually(() => /watch-exit:\d+/.test(out), 5000, 'watch to quit on q');
        assert.match(out, /watch-exit:0/);
        const tables = (out.match(/SERVER\s+FUNCTION/g) ?? []).length;
        await new Promise((resolve) => setTimeout(resolve, 500));
        assert.equal((out.match(/SERVER\s+FUNCTION/g) ?? []).length, tables, 'no table after q');
      } finally {
        child.stdin.end();
        if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
        await server.stop();
      }
    });
  },
);

describe('gearbox admin usage', () => {
  it('exits 2 for an unknown option and when there is nothing to do', async () => {
    assert.equal((await runGearboxWithInput(['admin', '--bogus'], '')).code, 2);
    assert.equal((await runGearboxWithInput(['admin'], '')).code, 2);
  });

  it('exits 1 with a clear message when the server is down', async () => {
    const run = await runGearboxWithInput(
      ['admin', '-h', '127.0.0.1', '-p', String(await freePort()), '--status'],
      '',
    );
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^Error: cannot connect to 127\.0\.0\.1:\d+/);
  });

  it('renders the watch table with aligned columns', () => {
    const table = renderWatchTable(
      [
        [
          { server: 'a:1', name: 'zeta', high: 0, normal: 12, low: 3, running: 1, workers: 2 },
          { server: 'a:1', name: 'alpha', high: 5, normal: 0, low: 0, running: 0, workers: 0 },
        ],
        'cannot connect to b:2',
      ],
      new Date(0),
      { intervalMs: 1500, quitKey: true },
    );
    assert.equal(
      table,
      [
        'gearbox admin --watch  1970-01-01T00:00:00.000Z  every 1.5 s  q or Ctrl-C: quit',
        '',
        'SERVER  FUNCTION  HIGH  NORMAL  LOW  RUNNING  WORKERS',
        'a:1     alpha        5       0    0        0        0',
        'a:1     zeta         0      12    3        1        2',
        '! cannot connect to b:2',
        '',
      ].join('\n'),
    );
  });
});
