/**
 * `gearbox scheduler` and `gearbox server` under a service manager: a SIGTERM that comes right
 * after the start line must be a clean stop (status 0), never the default death by signal.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { spawnGearbox, startGearboxServer } from '../helpers/gearbox-cli.js';

/** Starts the command, sends SIGTERM as soon as `ready` shows on stderr; resolves the exit. */
async function termAtReady(args: string[], env: NodeJS.ProcessEnv, ready: RegExp) {
  const child = spawnGearbox(args, env);
  let stderr = '';
  const seen = new Promise<void>((resolve) =>
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (ready.test(stderr)) resolve();
    }),
  );
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  await Promise.race([seen, exited]);
  if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGTERM');
  const [code, signal] = await exited;
  return { code, signal, stderr };
}

describe('a SIGTERM right after the start line', () => {
  it('stops gearbox scheduler cleanly (bug: its handler came after the line, so a quick SIGTERM killed it)', async () => {
    const server = await startGearboxServer(['-q', 'builtin']);
    const dir = mkdtempSync(join(tmpdir(), 'gearbox-sched-term-'));
    try {
      // The window was microseconds wide; a few rounds catch it most of the time.
      for (let round = 0; round < 8; round++) {
        const result = await termAtReady(
          [
            'scheduler',
            '-p',
            String(server.port),
            '--store',
            `sqlite:${join(dir, `${round}.sqlite`)}`,
          ],
          {},
          /, pid \d+\n/,
        );
        assert.deepEqual([result.code, result.signal], [0, null], result.stderr);
      }
    } finally {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stops gearbox server cleanly', async () => {
    for (let round = 0; round < 8; round++) {
      const result = await termAtReady(
        ['server', '-L', '127.0.0.1', '-p', '0', '-q', 'builtin'],
        {},
        /listening on/,
      );
      assert.deepEqual([result.code, result.signal], [0, null], result.stderr);
    }
  });
});
