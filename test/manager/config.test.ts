/**
 * The manager's config: YAML and JSON, defaults, and a clear error naming the key for every
 * mistake; the CLI refuses a bad config (exit 2) before it starts anything, and bad options
 * with the common usage message.
 */
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ManagerConfigError, parseConfig, type ManagerConfig } from '../../src/manager/config.js';
import { runGearbox } from '../helpers/gearbox-cli.js';
import { tempDir, writeConfig } from './manager-harness.js';

describe('manager config', () => {
  let tmp: { dir: string; remove(): void };
  before(() => {
    tmp = tempDir('config');
    writeFileSync(join(tmp.dir, 'handlers.mjs'), 'export default { f: () => 1 };\n');
  });
  after(() => tmp.remove());

  const yaml = (text: string): ManagerConfig => parseConfig(text, join(tmp.dir, 'manager.yaml'));
  const problems = (text: string, file = 'manager.yaml'): readonly string[] => {
    try {
      parseConfig(text, join(tmp.dir, file));
    } catch (err) {
      assert.ok(err instanceof ManagerConfigError, String(err));
      assert.equal(err.code, 'BAD_CONFIG');
      return err.problems;
    }
    assert.fail('the config was accepted');
  };

  it('reads YAML with defaults filled in and paths made absolute', () => {
    const config = yaml(`
servers: [10.0.0.1, "10.0.0.2:4731"]
control_socket: run/manager.sock
workers:
  - name: php
    command: [php, worker.php]
    count: 3
    env: { APP_ENV: prod, THREADS: 2 }
  - name: js
    module: ./handlers.mjs
    watch: true
    max_jobs: 1000
    stop_signal: INT
  - name: thumbs
    exec: [convert, "-", "png:-"]
    functions: [thumbnail]
    prefix: "img."
    timeout: 2.5
    autoscale: { min: 0, max: 8, target_queued_per_worker: 5, cooldown: 30 }
`);
    assert.deepEqual(config.servers, ['10.0.0.1:4730', '10.0.0.2:4731']);
    assert.equal(config.controlSocket, join(tmp.dir, 'run/manager.sock'));
    assert.equal(config.webPort, undefined);
    const [php, js, thumbs] = config.workers;
    assert.deepEqual(php?.argv, ['php', 'worker.php']);
    assert.equal(php?.count, 3);
    assert.deepEqual(php?.env, { APP_ENV: 'prod', THREADS: '2' });
    assert.equal(php?.cwd, tmp.dir);
    assert.equal(php?.stopSignal, 'SIGTERM');
    assert.equal(php?.stopTimeoutMs, 30_000);
    assert.equal(php?.restartDelayMs, 1000);
    assert.equal(php?.minUptimeMs, 5000);
    assert.deepEqual(js?.argv, [join(tmp.dir, 'handlers.mjs')]);
    assert.deepEqual(js?.watch, [tmp.dir]);
    assert.equal(js?.count, 1);
    assert.equal(js?.maxJobs, 1000);
    assert.equal(js?.stopSignal, 'SIGINT');
    assert.equal(thumbs?.timeoutMs, 2500);
    assert.equal(thumbs?.count, 0, 'an autoscaled entry starts at min');
    assert.deepEqual(thumbs?.autoscale, {
      min: 0,
      max: 8,
      targetQueuedPerWorker: 5,
      cooldownMs: 30_000,
    });
  });

  it('reads JSON', () => {
    const config = parseConfig(
      JSON.stringify({ workers: [{ name: 'a', command: ['true'], count: 0 }] }),
      join(tmp.dir, 'm.json'),
    );
    assert.deepEqual(config.servers, ['127.0.0.1:4730']);
    assert.equal(config.workers[0]?.count, 0);
  });

  it('names the key of every mistake, all at once', () => {
    const found = problems(`
servers: ["host:99999"]
web_port: http
workers:
  - name: ok
    command: [php, w.php]
  - name: bad name
    command: php w.php
    count: -1
    max_job: 5
  - name: ok
    module: ./missing.mjs
    exec: [cat]
    stop_signal: SIGNOPE
    restart_delay: -2
  - name: ex
    exec: [cat]
  - name: cmd
    command: [php, w.php]
    concurrency: 4
    autoscale: { min: 3, max: 2 }
`);
    const expected = [
      'servers: port out of range',
      'web_port: must be a whole number from 0 to 65535',
      'workers[1].name: may hold only letters',
      'workers[1].command: must be a non-empty list of program and arguments',
      'workers[1].count: must be a whole number ≥ 0',
      'workers[1].max_job: unknown key (allowed here: name, count',
      'workers[2]: needs exactly one of command, module or exec (found 2)',
      "workers[2].name: 'ok' is used by an earlier entry",
      'workers[2].stop_signal: must be a signal name',
      'workers[2].restart_delay: must be a number of seconds ≥ 0',
      'workers[3].functions: an exec entry needs the functions it serves',
      'workers[4].concurrency: only module and exec entries have it',
      'workers[4].autoscale.max: must not be less than min',
      'workers[4].functions: an autoscaled command entry needs the functions',
    ];
    for (const e of expected)
      assert.ok(
        found.some((p) => p.startsWith(e)),
        `expected '${e}' among:\n${found.join('\n')}`,
      );
  });

  it('refuses unknown keys at every level, and a missing module file', () => {
    assert.deepEqual(problems('workerz: []\n'), [
      'workerz: unknown key (allowed here: servers, control_socket, web_port, web_host, autoscale_interval, workers)',
      'workers: must be a list of worker entries',
    ]);
    const nested = problems(
      'workers:\n  - { name: a, command: [x], functions: [f], autoscale: { min: 1, max: 2, step: 1 } }\n',
    );
    assert.match(nested[0] ?? '', /^workers\[0\]\.autoscale\.step: unknown key/);
    const module = problems('workers:\n  - { name: a, module: ./nope.mjs }\n');
    assert.match(module[0] ?? '', /^workers\[0\]\.module: .*nope\.mjs is not a file/);
  });

  it('says where YAML and JSON syntax is broken', () => {
    assert.match(problems('workers: [\n')[0] ?? '', /^not valid YAML: /);
    assert.match(
      problems('workers:\n  - name: a\n    name: b\n')[0] ?? '',
      /not valid YAML: .*unique/i,
    );
    assert.match(problems('{"workers": [}', 'm.json')[0] ?? '', /^not valid JSON: /);
  });

  it('gearbox manager refuses a malformed config with exit 2, naming the key, and starts nothing', async () => {
    const mark = join(tmp.dir, 'started');
    const file = writeConfig(tmp.dir, {
      control_socket: join(tmp.dir, 'never.sock'),
      workers: [
        { name: 'good', command: ['sh', '-c', `touch ${mark}; sleep 60`] },
        { name: 'bad', command: ['true'], count: 2.5 },
      ],
    });
    const result = await runGearbox(['manager', file]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /workers\[1\]\.count: must be a whole number ≥ 0/);
    assert.match(result.stderr, /^gearbox manager: \//);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(existsSync(mark), false, 'no process was started');
    assert.equal(existsSync(join(tmp.dir, 'never.sock')), false, 'no control socket');

    const check = await runGearbox(['manager', '--check', file]);
    assert.equal(check.code, 2);
    assert.match(check.stderr, /workers\[1\]\.count/);
  });

  it('gearbox manager --check prints a summary of a good config', async () => {
    const file = writeConfig(tmp.dir, { workers: [{ name: 'good', command: ['true'], count: 2 }] });
    const result = await runGearbox(['manager', '--check', file]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /good; 1 entries\n {2}good: command true, count 2/);
  });

  it('gearbox manager refuses bad options with exit 2 and a pointer to --help', async () => {
    const cases: Array<[string[], string]> = [
      [
        ['manager', '--x', 'c.yaml'],
        'gearbox manager: unknown option --x (see gearbox manager --help)',
      ],
      [
        ['manager', '-q', 'c.yaml'],
        'gearbox manager: unknown option -q (see gearbox manager --help)',
      ],
      [['manager'], 'gearbox manager: CONFIG is required (see gearbox manager --help)'],
      [
        ['manager', 'scale', 'js'],
        'gearbox manager: scale needs NAME and N (see gearbox manager --help)',
      ],
      [
        ['manager', 'scale', 'js', '-1'],
        'gearbox manager: unknown option -1 (see gearbox manager --help)',
      ],
      [
        ['manager', 'scale', 'js', 'x'],
        "gearbox manager: scale: N must be a whole number ≥ 0, got 'x' (see gearbox manager --help)",
      ],
      [
        ['manager', 'status', '--socket'],
        'gearbox manager: option --socket needs a value (see gearbox manager --help)',
      ],
    ];
    for (const [args, message] of cases) {
      const result = await runGearbox(args);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.equal(result.stderr.trim(), message);
    }
    const help = await runGearbox(['manager', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /usage: gearbox manager \[-v\] CONFIG/);
    const missing = await runGearbox(['manager', join(tmp.dir, 'absent.yaml')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /absent\.yaml: cannot read the file/);
  });
});
