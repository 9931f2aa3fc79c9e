/**
 * Debian's `gearman` and `gearadmin` (libgearman's C tools) against `gearbox server`, and the
 * same scenarios against Debian's gearmand to show the expectations are gearmand's.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { skipUnless, tools } from '../helpers/services.js';
import type { RunningServer } from '../helpers/processes.js';
import {
  TARGETS,
  eventually,
  runTool,
  startTool,
  statusRows,
  type Background,
} from './interop-kit.js';

for (const target of TARGETS) {
  const skip = await skipUnless(
    `gearman tools against ${target.name}`,
    'gearman-tools',
    ...target.needs,
  );
  describe(`gearman and gearadmin against ${target.name}`, { skip }, () => {
    let server: RunningServer;
    let dir: string;
    const workers: Background[] = [];
    const hp = (): string[] => ['-h', '127.0.0.1', '-p', String(server.port)];
    const fn = (name: string): string => `${name}_${randomBytes(4).toString('hex')}`;
    const gearman = (args: string[], input?: string | Buffer) =>
      runTool(tools.gearman, [...hp(), ...args], { input: input ?? '' });
    const gearadmin = (...args: string[]) => runTool(tools.gearadmin, [...hp(), ...args]);
    const worker = (args: string[]): Background => {
      const w = startTool(tools.gearman, [...hp(), '-w', ...args]);
      workers.push(w);
      return w;
    };
    const status = async () => statusRows((await gearadmin('--status')).stdout);
    const waitForWorker = (name: string) =>
      eventually(`a worker for ${name}`, async () =>
        (await status()).get(name)?.[2] === '1' ? true : undefined,
      );

    before(async () => {
      server = await target.start();
      dir = mkdtempSync(join(tmpdir(), 'gearbox-interop-'));
    });
    after(async () => {
      for (const w of workers) await w.kill();
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('runs a foreground job through a `gearman -w` worker', async () => {
      const name = fn('rev');
      const w = worker(['-f', name, '-c', '1', '--', 'rev']);
      await waitForWorker(name);
      const result = await gearman(['-f', name, 'hello']);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout.trim(), 'olleh');
      assert.equal(await w.exited, 0, 'the worker exits after its one job (-c 1)');
    });

    it('carries binary payloads (NULs, high bytes) both ways unchanged', async () => {
      const name = fn('cat');
      const w = worker(['-f', name, '-c', '1', '--', 'cat']);
      await waitForWorker(name);
      const payload = Buffer.from([0, 1, 2, 0xff, 0, 0x80, 0x0a, 0x0d, 0, 0x7f]);
      const result = await gearman(['-f', name], payload);
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(Buffer.from(result.stdout, 'latin1'), payload);
      await w.exited;
    });

    it('queues -b jobs and runs them by priority: -I before normal before -L', async () => {
      const name = fn('prio');
      for (const [flag, data] of [
        ['-L', 'low'],
        [undefined, 'normal'],
        ['-I', 'high'],
      ] as const) {
        const result = await gearman(['-b', ...(flag ? [flag] : []), '-f', name, data]);
        assert.equal(result.code, 0, result.stderr);
      }
      assert.deepEqual((await status()).get(name), ['3', '0', '0']);
      const prio = statusRows((await gearadmin('--priority-status')).stdout);
      assert.deepEqual(prio.get(name), ['1', '1', '1', '0']);
      const shown = (await gearadmin('--show-jobs')).stdout.split('\n');
      assert.ok(
        shown.filter((l) => /\t0\t0\t1$/.test(l)).length >= 3,
        'background jobs show QUEUED=1',
      );

      const out = join(dir, `${name}.txt`);
      const w = worker(['-f', name, '-c', '3', '--', 'sh', '-c', 'cat >> "$0"; echo >> "$0"', out]);
      assert.equal(await w.exited, 0);
      assert.equal(readFileSync(out, 'utf8'), 'high\nnormal\nlow\n');
      assert.equal((await status()).get(name)?.[0], '0');
    });

    it('coalesces background jobs with the same -u unique', async () => {
      const name = fn('uniq');
      const unique = `u-${randomBytes(3).toString('hex')}`;
      for (let i = 0; i < 3; i++) {
        assert.equal((await gearman(['-b', '-u', unique, '-f', name, 'same'])).code, 0);
      }
      assert.deepEqual((await status()).get(name), ['1', '0', '0']);
      const uniques = (await gearadmin('--show-unique-jobs')).stdout.split('\n');
      assert.ok(uniques.includes(unique), `--show-unique-jobs lists ${unique}`);
    });

    it('lists a worker and its function with --workers', async () => {
      const name = fn('listed');
      worker(['-f', name, '--', 'cat']);
      await waitForWorker(name);
      const lines = (await gearadmin('--workers')).stdout.split('\n');
      assert.equal(lines.at(-2), '.');
      assert.ok(
        lines.some((l) => new RegExp(`^\\d+ 127\\.0\\.0\\.1 \\S+ : ${name}$`).test(l)),
        `a line for the worker: ${lines.join(' | ')}`,
      );
    });

    it('creates and drops functions, refusing to drop an unknown one', async () => {
      const name = fn('made');
      const created = await gearadmin('--create-function', name);
      assert.equal(created.stdout, 'OK\n');
      assert.deepEqual((await status()).get(name), ['0', '0', '0']);
      assert.equal((await gearadmin('--drop-function', name)).stdout, 'OK\n');
      assert.equal((await status()).has(name), false);
      const missing = await gearadmin('--drop-function', fn('never'));
      assert.match(missing.stderr, /function not found/);
    });

    it('cancels a queued job, and reports an unknown handle', async () => {
      const name = fn('cancel');
      const unique = `c-${randomBytes(3).toString('hex')}`;
      assert.equal((await gearman(['-b', '-u', unique, '-f', name, 'x'])).code, 0);
      const jobs = (await gearadmin('--show-jobs')).stdout.split('\n');
      const handle = jobs.map((l) => l.split('\t')).find((f) => f[2] === '0' && f[3] === '1')?.[0];
      assert.ok(handle, 'a queued job to cancel');
      assert.equal((await gearadmin('--cancel-job', handle)).stdout, 'OK\n');
      const after = (await gearadmin('--show-jobs')).stdout.split('\n');
      const row = after.find((l) => l.startsWith(`${handle}\t`))?.split('\t');
      assert.equal(row?.[2], '1', 'the cancelled job is flagged ignored');
      const unknown = await gearadmin('--cancel-job', 'H:nowhere:999999');
      assert.match(unknown.stderr, /UNKNOWN_JOB/);
    });

    it('answers --getpid, --server-version and --server-verbose', async () => {
      assert.equal((await gearadmin('--getpid')).stdout, `${server.process.pid}\n`);
      assert.match((await gearadmin('--server-version')).stdout, /^\d+\.\d+\.\d+\S*\n$/);
      assert.equal((await gearadmin('--server-verbose')).stdout, 'ERROR\n');
    });
  });
}
