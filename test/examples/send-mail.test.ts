/**
 * examples/: the mail worker and its client, run as a reader would run them (from the checkout,
 * importing the built package by name), against a real `gearbox server`.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { startGearboxServer } from '../helpers/gearbox-cli.js';
import { eventually } from '../helpers/lib-servers.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));

function runExample(
  name: string,
  env: NodeJS.ProcessEnv,
): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, [join('examples', name)], {
    cwd: repo,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  return { child, output: () => output };
}

describe('examples/send-mail-*.js', () => {
  it('send mail through a real server, into the temp directory and not the checkout', async () => {
    const temp = mkdtempSync(join(tmpdir(), 'gearbox-example-'));
    const server = await startGearboxServer(['-q', 'builtin']);
    const env = { GEARMAN_SERVERS: `127.0.0.1:${server.port}`, TMPDIR: temp };
    const worker = runExample('send-mail-worker.js', env);
    const outbox = join(temp, 'gearbox-outbox');
    // The old example wrote ./outbox/ into the checkout: count what may be left from it.
    const inCheckout = (): number =>
      existsSync(join(repo, 'outbox')) ? readdirSync(join(repo, 'outbox')).length : 0;
    const leftBefore = inCheckout();
    try {
      await eventually(
        () => /waiting for send_mail jobs/.test(worker.output()),
        10_000,
        'worker up',
      );
      assert.match(worker.output(), new RegExp(`writing mail to ${outbox}`));
      const client = runExample('send-mail-client.js', env);
      const [code] = (await once(client.child, 'exit')) as [number | null];
      assert.equal(code, 0, client.output());
      assert.match(client.output(), /welcome mail sent as \S+@gearbox\.example/);
      assert.match(client.output(), /refused as expected: invalid recipient/);
      // The welcome mail and two newsletters; the reminder is due in a minute.
      await eventually(
        () => existsSync(outbox) && readdirSync(outbox).length === 3,
        10_000,
        'three mails',
      );
      const mails = readdirSync(outbox).map((f) => readFileSync(join(outbox, f), 'utf8'));
      assert.equal(mails.filter((m) => m.includes('Subject: Newsletter')).length, 2);
      assert.ok(mails.some((m) => m.includes('To: ada@example.com\r\nSubject: Welcome')));
      assert.equal(inCheckout(), leftBefore, 'nothing written into the checkout');
    } finally {
      if (worker.child.pid !== undefined && worker.child.exitCode === null) {
        process.kill(worker.child.pid, 'SIGINT');
        await once(worker.child, 'exit');
      }
      await server.stop();
      rmSync(temp, { recursive: true, force: true });
    }
  });
});
