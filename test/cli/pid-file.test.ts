/**
 * `gearbox server -P FILE` with real server processes: the file appears once the server
 * listens, goes at exit, a dead process's file is replaced and a live one's refuses the start.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runGearbox, startGearboxServer } from '../helpers/gearbox-cli.js';
import { eventually } from '../helpers/lib-servers.js';
import { freePort } from '../helpers/processes.js';

/** The pid of a process that has exited (and been reaped): a stale pid file's. */
async function deadPid(): Promise<number> {
  const child = spawn('true');
  await once(child, 'exit');
  assert.ok(child.pid !== undefined);
  return child.pid;
}

/** Waits until the pid file holds the server's pid, as written once it listens. */
function holdsPid(pidFile: string, pid: number | undefined): Promise<void> {
  return eventually(
    () => existsSync(pidFile) && readFileSync(pidFile, 'utf8') === `${pid}\n`,
    5000,
    `${pidFile} to hold ${pid}`,
  );
}

describe('gearbox server -P: the pid file', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'gearbox-pid-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('replaces the file of a process that is gone, and says so', async () => {
    const pidFile = join(dir, 'stale.pid');
    const stale = await deadPid();
    writeFileSync(pidFile, `${stale}\n`);
    const server = await startGearboxServer(['-q', 'builtin', '-P', pidFile]);
    try {
      await holdsPid(pidFile, server.process.pid);
      assert.match(server.stderr(), new RegExp(`replacing ${pidFile}: process ${stale} is gone`));
    } finally {
      await server.stop();
    }
    assert.equal(existsSync(pidFile), false, 'removed at exit');
  });

  it('replaces a file that holds no pid', async () => {
    const pidFile = join(dir, 'garbage.pid');
    writeFileSync(pidFile, 'not a pid\n');
    const server = await startGearboxServer(['-q', 'builtin', '-P', pidFile]);
    try {
      await holdsPid(pidFile, server.process.pid);
    } finally {
      await server.stop();
    }
  });

  it("refuses to start over a live process's file, and leaves the file alone", async () => {
    const pidFile = join(dir, 'live.pid');
    const first = await startGearboxServer(['-q', 'builtin', '-P', pidFile]);
    try {
      await holdsPid(pidFile, first.process.pid);
      const second = await runGearbox([
        'server',
        '-L',
        '127.0.0.1',
        '-p',
        String(await freePort()),
        '-q',
        'builtin',
        '-P',
        pidFile,
      ]);
      assert.equal(second.code, 1, second.stderr);
      assert.equal(
        second.stderr,
        `gearbox server: -P ${pidFile}: process ${first.process.pid} is running (another gearbox server?); stop it, or remove the file if it is not a server\n`,
      );
      assert.equal(readFileSync(pidFile, 'utf8'), `${first.process.pid}\n`);
    } finally {
      await first.stop();
    }
    assert.equal(existsSync(pidFile), false);
  });

  it('does not remove a file that another process has taken over meanwhile', async () => {
    const pidFile = join(dir, 'taken.pid');
    const server = await startGearboxServer(['-q', 'builtin', '-P', pidFile]);
    await holdsPid(pidFile, server.process.pid);
    // As if an operator had started a successor by hand and it had written its own pid.
    writeFileSync(pidFile, `${process.pid}\n`);
    await server.stop();
    assert.equal(readFileSync(pidFile, 'utf8'), `${process.pid}\n`);
  });
});
