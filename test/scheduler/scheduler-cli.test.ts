import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '../../src/client/client.js';
import type { HistoryRecord } from '../../src/scheduler/history-log.js';
import { Worker } from '../../src/worker/worker.js';
import { gearboxMain, startGearmand } from '../helpers/processes.js';
import { skipUnless } from '../helpers/services.js';

function runCli(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [gearboxMain, 'scheduler', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return once(child, 'exit').then(([code]) => ({ code: code as number | null, stderr }));
}

describe('gearbox scheduler (CLI)', async () => {
  it('refuses a bad command line with status 2 and one clear line', async () => {
    const missing = await runCli([]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--store is required/);
    const unknown = await runCli(['--store', 'sqlite:/tmp/x', '--frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /frobnicate/);
    const badNumber = await runCli(['--store', 'sqlite:/tmp/x', '--lease', 'soon']);
    assert.equal(badNumber.code, 2);
    assert.match(badNumber.stderr, /--lease must be a number of seconds/);
    const badGrace = await runCli(['--store', 'sqlite:/tmp/x', '--stop-grace', 'later']);
    assert.equal(badGrace.code, 2);
    assert.match(badGrace.stderr, /--stop-grace must be a number of seconds/);
    const help = await runCli(['--help']);
    assert.equal(help.code, 0);
  });

  const skip = await skipUnless('gearbox scheduler CLI against gearmand', 'gearmand');
  it(
    'runs against gearmand with a SQLite store, logs its history, and stops on SIGTERM',
    { skip },
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'gearbox-sched-cli-'));
      const gearmand = await startGearmand();
      const servers = `127.0.0.1:${gearmand.port}`;
      const worker = new Worker({ servers });
      const ran: string[] = [];
      worker.register('cli_target', (job) => {
        ran.push(job.text());
        return '';
      });
      const client = new Client({ servers });
      const history = join(dir, 'history.jsonl');
      const child = spawn(
        process.execPath,
        [
          gearboxMain,
          'scheduler',
          '--store',
          `sqlite:${join(dir, 's.sqlite')}`,
          '--servers',
          servers,
          '--history',
          history,
          '--prefix',
          'cron.',
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      const exited = once(child, 'exit');
      try {
        await worker.start();
        let answer: { id: string } | undefined;
        for (let i = 0; i < 100 && !answer; i++) {
          try {
            const body = JSON.stringify({
              function: 'cli_target',
              payload: 'via cli',
              after: 0.2,
              unique: 'cli-once', // a retry after a timed-out answer returns the same job
            });
            answer = JSON.parse(
              (await client.run('cron.schedule', body, { timeout: 5000 })).text(),
            ) as { id: string };
          } catch {
            await sleep(100); // the scheduler is still starting
          }
        }
        assert.ok(answer, 'the scheduler answered cron.schedule');
        for (let i = 0; i < 100 && ran.length === 0; i++) await sleep(50);
        assert.deepEqual(ran, ['via cli']);
        for (let i = 0; i < 100; i++) {
          const lines = readFileSync(history, 'utf8').split('\n').filter(Boolean);
          const records = lines.map((l) => JSON.parse(l) as HistoryRecord);
          if (records.some((r) => r.type === 'completed' && r.id === answer.id && r.accepted))
            break;
          await sleep(50);
        }
        const types = readFileSync(history, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => (JSON.parse(l) as HistoryRecord).type);
        assert.deepEqual(types, ['claimed', 'dispatched', 'completed']);
        process.kill(child.pid ?? 0, 'SIGTERM');
        const [code] = (await exited) as [number | null];
        assert.equal(code, 0);
      } finally {
        if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
        await client.close();
        await worker.stop({ timeout: 1000 });
        await gearmand.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
