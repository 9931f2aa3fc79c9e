import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CommandError, commandHandler, type WorkerJob } from '../../src/index.js';

/** A job as a Worker hands it to its handler, recording what the handler sends back. */
function job(workload: string | Buffer, signal = new AbortController().signal) {
  const data: Buffer[] = [];
  const bytes = Buffer.from(workload);
  const value: WorkerJob = {
    handle: 'H:test:1',
    functionName: 'f',
    unique: '',
    workload: bytes,
    signal,
    text: () => bytes.toString(),
    json: <T>() => JSON.parse(bytes.toString()) as T,
    sendStatus: () => undefined,
    sendData: (d) => void data.push(Buffer.from(d)),
    sendWarning: () => undefined,
  };
  return { value, data };
}

describe('commandHandler (the `gearbox worker -- CMD` runner)', () => {
  it('runs the command with the workload on stdin and resolves with its stdout', async () => {
    const run = commandHandler({ command: 'tr', args: ['a-z', 'A-Z'] });
    assert.deepEqual(await run(job('bin\0ary\n').value), Buffer.from('BIN\0ARY\n'));
  });

  it('passes the environment and working directory', async () => {
    const run = commandHandler({
      command: 'sh',
      args: ['-c', 'printf "%s %s" "$GREETING" "$(pwd)"'],
      env: { ...process.env, GREETING: 'hello' },
      cwd: '/tmp',
    });
    assert.equal((await run(job('').value)).toString(), 'hello /tmp');
  });

  it('does not fail when the command ignores its stdin', async () => {
    const run = commandHandler({ command: 'echo', args: ['done'] });
    assert.equal((await run(job(Buffer.alloc(1 << 20)).value)).toString(), 'done\n');
  });

  it('fails the job on a non-zero exit, sending the output so far first', async () => {
    const run = commandHandler({ command: 'sh', args: ['-c', 'cat; echo partial; exit 3'] });
    const j = job('in:');
    await assert.rejects(run(j.value), (err: unknown) => {
      assert.ok(err instanceof CommandError);
      assert.equal(err.code, 'EXIT_STATUS');
      assert.equal(err.message, 'sh exited with status 3');
      return true;
    });
    assert.deepEqual(j.data.map(String), ['in:partial\n']);
  });

  it("kills the command when the job's signal aborts (its timeout, a worker stop)", async () => {
    const controller = new AbortController();
    const run = commandHandler({ command: 'sleep', args: ['30'] });
    const started = Date.now();
    const result = run(job('', controller.signal).value);
    setTimeout(() => controller.abort(), 100);
    // spawn's own abort error, or the kill it sent, whichever the child reports first.
    await assert.rejects(
      result,
      (err: unknown) =>
        (err as Error).name === 'AbortError' ||
        (err instanceof CommandError && err.code === 'KILLED'),
    );
    assert.ok(Date.now() - started < 10_000, 'the command did not run to its end');
  });

  it('fails the job when the command was killed by a signal', async () => {
    const run = commandHandler({ command: 'sh', args: ['-c', 'kill -KILL $$'] });
    await assert.rejects(run(job('').value), (err: unknown) => {
      assert.ok(err instanceof CommandError);
      assert.equal(err.code, 'KILLED');
      assert.equal(err.message, 'sh was killed by SIGKILL');
      return true;
    });
  });

  it('rejects when the command cannot be started', async () => {
    const run = commandHandler({ command: 'gearbox-no-such-command' });
    await assert.rejects(run(job('').value), /ENOENT/);
  });
});
