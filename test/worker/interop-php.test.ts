/** Our Worker serving jobs submitted by PHP's pecl gearman extension (libgearman underneath). */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Worker } from '../../src/index.js';
import { SERVER_KINDS, skipKind } from '../helpers/lib-servers.js';
import { tools } from '../helpers/services.js';

const PHP_CLIENT = String.raw`<?php
$c = new GearmanClient();
$c->addServer('127.0.0.1', (int)$argv[1]);
$out = [];
$out['normal'] = bin2hex($c->doNormal('js_upper', "hello\0php"));
$out['normal_ok'] = $c->returnCode() == GEARMAN_SUCCESS;
$out['high'] = $c->doHigh('js_upper', 'high');
$out['low'] = $c->doLow('js_upper', 'low');
$c->doNormal('js_fail', 'x');
$rc = $c->returnCode();
$out['fail'] = $rc == GEARMAN_WORK_EXCEPTION ? 'exception' : ($rc == GEARMAN_WORK_FAIL ? 'fail' : $rc);
$out['bg_handle'] = $c->doBackground('js_bg', 'bg');
$events = [];
$c->setDataCallback(function ($t) use (&$events) { $events[] = 'data:' . $t->data(); });
$c->setStatusCallback(function ($t) use (&$events) {
  $events[] = 'status:' . $t->taskNumerator() . '/' . $t->taskDenominator();
});
$c->setCompleteCallback(function ($t) use (&$events) { $events[] = 'complete:' . $t->data(); });
$c->addTask('js_progress', 'p');
$c->runTasks();
$out['events'] = $events;
$big = str_repeat('abcdefgh', 256 * 1024);
$out['big'] = $c->doNormal('js_upper', $big) === strtoupper($big);
echo json_encode($out), "\n";
`;

for (const kind of SERVER_KINDS) {
  describe(
    `PHP client with our Worker on ${kind.name}`,
    { skip: await skipKind(kind, 'php-gearman') },
    () => {
      let dir: string;
      before(() => {
        dir = mkdtempSync(join(tmpdir(), 'gearbox-php-'));
        writeFileSync(join(dir, 'client.php'), PHP_CLIENT);
      });
      after(() => rmSync(dir, { recursive: true, force: true }));

      it('serves normal, high, low, failing, background and progress jobs', async () => {
        const server = await kind.start();
        const worker = new Worker({ servers: `127.0.0.1:${server.port}`, concurrency: 2 });
        let background = '';
        worker.register('js_upper', (job) => job.text().toUpperCase());
        worker.register('js_fail', () => {
          throw new Error('js failed');
        });
        worker.register('js_progress', (job) => {
          job.sendStatus(1, 2);
          job.sendData('chunk');
          return 'end';
        });
        worker.register('js_bg', (job) => {
          background = job.text();
        });
        await worker.start();
        try {
          const stdout = await new Promise<string>((resolve, reject) =>
            execFile(
              tools.php,
              [join(dir, 'client.php'), String(server.port)],
              { timeout: 30_000 },
              (err, out, errText) =>
                err ? reject(new Error(`${err.message}\n${errText}`)) : resolve(out),
            ),
          );
          const out = JSON.parse(stdout) as Record<string, unknown>;
          assert.equal(out.normal, Buffer.from('HELLO\0PHP').toString('hex'));
          assert.equal(out.normal_ok, true);
          assert.equal(out.high, 'HIGH');
          assert.equal(out.low, 'LOW');
          // libgearman asks for exceptions, so the thrown error arrives as WORK_EXCEPTION.
          assert.equal(out.fail, 'exception');
          assert.match(String(out.bg_handle), /.+/);
          assert.deepEqual(out.events, ['status:1/2', 'data:chunk', 'complete:end']);
          assert.equal(out.big, true);
          for (let i = 0; i < 100 && background === ''; i++)
            await new Promise((r) => setTimeout(r, 20));
          assert.equal(background, 'bg');
        } finally {
          await worker.stop({ timeout: 1000 });
          await server.stop();
        }
      });
    },
  );
}
