/**
 * PHP's pecl `gearman` extension (libgearman underneath): GearmanClient and GearmanWorker
 * against `gearbox server`, each scenario also run against Debian's gearmand.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { skipUnless, tools } from '../helpers/services.js';
import type { RunningServer } from '../helpers/processes.js';
import { TARGETS, runTool, startTool, type Background } from './interop-kit.js';

/** A worker for every scenario: echo, progress + status, exception, and a counting one. */
const WORKER = `
[$_, $host, $port, $suffix, $dir] = $argv;
$w = new GearmanWorker();
$w->addServer($host, (int)$port);
$w->addFunction("echo_$suffix", function (GearmanJob $job) { return $job->workload(); });
$w->addFunction("status_$suffix", function (GearmanJob $job) use ($dir) {
  $job->sendStatus(1, 3);
  for ($i = 0; $i < 200 && !file_exists("$dir/release"); $i++) usleep(50000);
  return "done";
});
$w->addFunction("except_$suffix", function (GearmanJob $job) {
  $job->sendException("boom");
  $job->setReturn(GEARMAN_WORK_EXCEPTION);
  return "";
});
$w->addFunction("count_$suffix", function (GearmanJob $job) use ($dir) {
  file_put_contents("$dir/count", "x", FILE_APPEND);
  usleep(500000);
  return strtoupper($job->workload());
});
$w->setTimeout(200);
$deadline = time() + 120;
while (time() < $deadline) { @$w->work(); }
`;

const CLIENT = `
[$_, $host, $port, $suffix] = $argv;
$c = new GearmanClient(); $c->addServer($host, (int)$port);
$bin = "a\\0b\\xff\\x00\\x80z";
$out = [];
$out['normal'] = bin2hex($c->doNormal("echo_$suffix", $bin));
$out['high'] = bin2hex($c->doHigh("echo_$suffix", $bin . "H"));
$out['low'] = bin2hex($c->doLow("echo_$suffix", "L" . $bin));
$out['rc'] = $c->returnCode();
$out['bghandle'] = $c->doBackground("echo_$suffix", $bin);
$out['bgrc'] = $c->returnCode();
echo json_encode($out), "\\n";
`;

const STATUS = `
[$_, $host, $port, $suffix, $dir] = $argv;
$c = new GearmanClient(); $c->addServer($host, (int)$port);
$out = [];
$q = $c->doBackground("nobody_$suffix", "w");
$out['queued'] = $c->jobStatus($q);
$out['unknown'] = $c->jobStatus("H:nowhere:424242");
$h = $c->doBackground("status_$suffix", "w");
for ($i = 0; $i < 200; $i++) { $s = $c->jobStatus($h); if ($s[1] && $s[2] == 1) break; usleep(50000); }
$out['running'] = $s;
touch("$dir/release");
for ($i = 0; $i < 200; $i++) { $s = $c->jobStatus($h); if (!$s[0]) break; usleep(50000); }
$out['done'] = $s;
echo json_encode($out), "\\n";
`;

const EXCEPTION = `
[$_, $host, $port, $suffix] = $argv;
$c = new GearmanClient(); $c->addServer($host, (int)$port);
$got = [];
$c->setExceptionCallback(function ($task) use (&$got) { $got[] = 'exception:' . $task->data(); });
$c->setFailCallback(function ($task) use (&$got) { $got[] = 'fail'; });
$c->setCompleteCallback(function ($task) use (&$got) { $got[] = 'complete:' . $task->data(); });
$c->addTask("except_$suffix", "x");
$c->runTasks();
echo json_encode($got), "\\n";
`;

const COALESCE = `
[$_, $host, $port, $suffix] = $argv;
$c = new GearmanClient(); $c->addServer($host, (int)$port);
$res = []; $handles = [];
$c->setCompleteCallback(function ($t) use (&$res, &$handles) {
  $res[] = $t->data(); $handles[] = $t->jobHandle();
});
$c->addTask("count_$suffix", "abc", null, "same-unique");
$c->addTask("count_$suffix", "abc", null, "same-unique");
$c->runTasks();
echo json_encode(['results' => $res, 'handles' => count(array_unique($handles))]), "\\n";
`;

for (const target of TARGETS) {
  const skip = await skipUnless(
    `php gearman against ${target.name}`,
    'php-gearman',
    ...target.needs,
  );
  describe(`PHP GearmanClient/GearmanWorker against ${target.name}`, { skip }, () => {
    let server: RunningServer;
    let worker: Background;
    let dir: string;
    const suffix = randomBytes(4).toString('hex');
    const php = async (code: string, ...args: string[]): Promise<unknown> => {
      const result = await runTool(tools.php, [
        '-r',
        code,
        '127.0.0.1',
        String(server.port),
        suffix,
        ...args,
      ]);
      assert.equal(result.code, 0, `php failed: ${result.stderr}${result.stdout}`);
      return JSON.parse(result.stdout) as unknown;
    };

    before(async () => {
      server = await target.start();
      dir = mkdtempSync(join(tmpdir(), 'gearbox-php-'));
      worker = startTool(tools.php, ['-r', WORKER, '127.0.0.1', String(server.port), suffix, dir]);
    });
    after(async () => {
      await worker.kill();
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('runs doNormal, doHigh, doLow with binary payloads and doBackground', async () => {
      const bin = '610062ff00807a';
      const out = (await php(CLIENT)) as Record<string, unknown>;
      assert.equal(out.normal, bin);
      assert.equal(out.high, `${bin}48`);
      assert.equal(out.low, `4c${bin}`);
      assert.equal(out.rc, 0, 'GEARMAN_SUCCESS');
      assert.equal(out.bgrc, 0);
      assert.match(String(out.bghandle), /^H:[^:]+:\d+$/);
    });

    it('reports jobStatus for queued, running (with sendStatus progress), done and unknown jobs', async () => {
      const out = await php(STATUS, dir);
      assert.deepEqual(out, {
        queued: [true, false, 0, 0],
        unknown: [false, false, 0, 0],
        running: [true, true, 1, 3],
        done: [false, false, 0, 0],
      });
    });

    it('delivers a worker exception to a client with an exception callback', async () => {
      assert.deepEqual(await php(EXCEPTION), ['exception:boom']);
    });

    it('coalesces two tasks with the same unique onto one job run once', async () => {
      const out = await php(COALESCE);
      assert.deepEqual(out, { results: ['ABC', 'ABC'], handles: 1 });
      assert.equal(readFileSync(join(dir, 'count'), 'utf8'), 'x', 'the worker ran it once');
    });
  });
}
