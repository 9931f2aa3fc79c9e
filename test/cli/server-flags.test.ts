import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { queueFromUrl } from '../../src/cli/queue-flags.js';
import { parseServerArgs, serverHelp } from '../../src/cli/server-flags.js';
import { UsageError } from '../../src/cli/usage-error.js';
import type { ServerConfig } from '../../src/server/config.js';

function config(argv: string[]): ServerConfig {
  const parsed = parseServerArgs(argv);
  assert.equal(parsed.action, 'run');
  if (parsed.action !== 'run') throw new Error('unreachable');
  return parsed.config;
}

function refused(argv: string[], code: string, pattern: RegExp): void {
  assert.throws(
    () => parseServerArgs(argv),
    (err: unknown) => err instanceof UsageError && err.code === code && pattern.test(err.message),
  );
}

describe('gearbox server flags', () => {
  it('defaults to 127.0.0.1:4730, the SQLite queue in GEARBOX_DATA_DIR, ERROR level', () => {
    const saved = process.env.GEARBOX_DATA_DIR;
    process.env.GEARBOX_DATA_DIR = '/srv/gearbox-state';
    let c: ServerConfig;
    try {
      c = config([]);
    } finally {
      if (saved === undefined) delete process.env.GEARBOX_DATA_DIR;
      else process.env.GEARBOX_DATA_DIR = saved;
    }
    assert.deepEqual(c.listen, ['127.0.0.1']);
    assert.equal(c.port, 4730);
    assert.deepEqual(c.queue, { type: 'sqlite', file: '/srv/gearbox-state/queue.sqlite' });
    assert.deepEqual(config(['-q', 'builtin']).queue, { type: 'builtin' });
    assert.deepEqual(config(['--libsqlite3-db', '/tmp/g.db']).queue, {
      type: 'sqlite',
      file: '/tmp/g.db',
    });
    assert.equal(c.verbose, 'ERROR');
    assert.equal(c.jobRetries, 0);
    assert.match(c.jobHandlePrefix, /^H:/);
    assert.equal(c.workerWakeup, 0, 'every sleeping worker, as gearmand');
    assert.equal(c.failOnTimeout, false, 'a timed-out job is requeued, as gearmand');
    assert.equal(c.backlog, 4096, "larger than gearmand's 32: a connection burst must not stall");
  });

  it('--fail-on-timeout makes a CAN_DO_TIMEOUT expiry fail the job', () => {
    assert.equal(config(['--fail-on-timeout']).failOnTimeout, true);
  });

  it('accepts long flags with a separate value, with =, and short flags attached', () => {
    const c = config([
      '--port=4731',
      '-L',
      '::1',
      '-L0.0.0.0',
      '--job-retries',
      '3',
      '-R',
      '-w',
      '2',
      '--job-handle-prefix=PFX',
      '--exceptions',
      '-l',
      'none',
      '-b',
      '64',
      '-t',
      '8',
    ]);
    assert.equal(c.port, 4731);
    assert.deepEqual(c.listen, ['::1', '0.0.0.0']);
    assert.equal(c.jobRetries, 3);
    assert.equal(c.roundRobin, true);
    assert.equal(c.workerWakeup, 2);
    assert.equal(c.jobHandlePrefix, 'PFX');
    assert.equal(c.exceptions, true);
    assert.equal(c.logFile, 'none');
    assert.equal(c.backlog, 64);
    assert.equal(c.threads, 8);
  });

  it('maps --verbose names and repeated -v onto gearmand levels', () => {
    assert.equal(config(['--verbose', 'info']).verbose, 'INFO');
    assert.equal(config(['-v']).verbose, 'WARNING');
    assert.equal(config(['-vvv']).verbose, 'INFO');
    assert.equal(config(['-v', '-v', '-v', '-v', '-v', '-v']).verbose, 'DEBUG');
    refused(['--verbose', 'LOUD'], 'BAD_VALUE', /--verbose: 'LOUD' is not one of FATAL/);
  });

  it('parses keepalive, sizes and the pid file', () => {
    const c = config([
      '--keepalive',
      '--keepalive-idle',
      '30',
      '--keepalive-interval=5',
      '--keepalive-count',
      '4',
      '--max-packet-size',
      '1M',
      '--max-output-buffer=65536',
      '--max-line-length',
      '4K',
      '-P',
      '/tmp/x.pid',
    ]);
    assert.deepEqual(c.keepalive, { enabled: true, idle: 30, interval: 5, count: 4 });
    assert.equal(c.maxPacketSize, 1024 * 1024);
    assert.equal(c.maxOutputBuffer, 65536);
    assert.equal(c.maxLineLength, 4096);
    assert.equal(c.pidFile, '/tmp/x.pid');
  });

  it("builds queue configs from gearmand's -q flags", () => {
    assert.deepEqual(config(['-q', 'libsqlite3', '--libsqlite3-db', '/tmp/q.db']).queue, {
      type: 'sqlite',
      file: '/tmp/q.db',
    });
    assert.deepEqual(
      config(['-q', 'libsqlite3', '--libsqlite3-db=/tmp/q.db', '--libsqlite3-table', 't1']).queue,
      { type: 'sqlite', file: '/tmp/q.db', table: 't1' },
    );
    assert.deepEqual(
      config(['-q', 'libpq', '--libpq-conninfo', 'host=127.0.0.1 dbname=test', '--libpq-table=q'])
        .queue,
      { type: 'postgres', conninfo: 'host=127.0.0.1 dbname=test', table: 'q' },
    );
    assert.deepEqual(
      config([
        '-q',
        'MySQL',
        '--mysql-host',
        '127.0.0.1',
        '--mysql-port',
        '3307',
        '--mysql-user=u',
        '--mysql-password',
        'p',
        '--mysql-db',
        'test',
        '--mysql-table',
        'gq',
      ]).queue,
      {
        type: 'mysql',
        host: '127.0.0.1',
        port: 3307,
        user: 'u',
        password: 'p',
        database: 'test',
        table: 'gq',
      },
    );
    assert.deepEqual(
      config(['-q', 'redis', '--redis-server', 'r1', '--redis-port=6380', '--redis-prefix', 'p_'])
        .queue,
      { type: 'redis', host: 'r1', port: 6380, prefix: 'p_' },
    );
    refused(['-q', 'libsqlite3'], 'MISSING_VALUE', /--libsqlite3-db/);
    refused(['-q', 'mysql'], 'MISSING_VALUE', /--mysql-db/);
    refused(['-q', 'tokyocabinet'], 'BAD_VALUE', /unknown queue type 'tokyocabinet'/);
  });

  it('builds queue configs from --store URLs', () => {
    assert.deepEqual(queueFromUrl('sqlite:///var/lib/q.sqlite'), {
      type: 'sqlite',
      file: '/var/lib/q.sqlite',
    });
    assert.deepEqual(queueFromUrl('postgres://u:p@127.0.0.1:5432/test?table=jobs'), {
      type: 'postgres',
      conninfo: 'postgres://u:p@127.0.0.1:5432/test',
      table: 'jobs',
    });
    assert.deepEqual(queueFromUrl('mysql://root@127.0.0.1:3306/test'), {
      type: 'mysql',
      host: '127.0.0.1',
      port: 3306,
      user: 'root',
      password: '',
      database: 'test',
    });
    assert.deepEqual(queueFromUrl('redis://:secret@127.0.0.1:6379/x_'), {
      type: 'redis',
      host: '127.0.0.1',
      port: 6379,
      password: 'secret',
      prefix: 'x_',
    });
    assert.deepEqual(config(['--store', 'builtin:']).queue, { type: 'builtin' });
    refused(['--store', 'ftp://x'], 'BAD_VALUE', /--store: .*unknown store type "ftp"/);
    refused(['--store', 'not a url'], 'BAD_VALUE', /--store: invalid --store URL/);
    refused(['--store', 'sqlite:///q', '-q', 'builtin'], 'BAD_VALUE', /not both/);
  });

  it('refuses unknown flags, missing and bad values, --daemon and stray arguments', () => {
    refused(['--bogus'], 'UNKNOWN_FLAG', /unknown option --bogus/);
    refused(['-Z'], 'UNKNOWN_FLAG', /unknown option -Z/);
    refused(['-p'], 'MISSING_VALUE', /-p needs a value/);
    refused(['--port', 'abc'], 'BAD_VALUE', /'abc' is not a whole number/);
    refused(['-p', '70000'], 'BAD_VALUE', /out of range/);
    refused(['--max-packet-size', '12X'], 'BAD_VALUE', /not a size/);
    refused(['--exceptions=yes'], 'BAD_VALUE', /takes no value/);
    refused(['-d'], 'UNSUPPORTED', /does not detach/);
    refused(['stray'], 'UNKNOWN_FLAG', /unexpected argument 'stray'/);
  });

  it('asks for help or the version', () => {
    assert.deepEqual(parseServerArgs(['--help']), { action: 'help' });
    assert.deepEqual(parseServerArgs(['-h']), { action: 'help' });
    assert.deepEqual(parseServerArgs(['-V']), { action: 'version' });
  });

  it('lists every flag in --help', () => {
    const help = serverHelp();
    for (const flag of [
      '--port',
      '--listen',
      '--job-retries',
      '--round-robin',
      '--worker-wakeup',
      '--job-handle-prefix',
      '--exceptions',
      '--log-file',
      '--verbose',
      '--pid-file',
      '--backlog',
      '--keepalive-idle',
      '--keepalive-interval',
      '--keepalive-count',
      '--threads',
      '--daemon',
      '--user',
      '--queue-type',
      '--store',
      '--libsqlite3-db',
      '--libsqlite3-table',
      '--store-queue-on-shutdown',
      '--libpq-conninfo',
      '--libpq-table',
      '--mysql-host',
      '--mysql-port',
      '--mysql-user',
      '--mysql-password',
      '--mysql-db',
      '--mysql-table',
      '--redis-server',
      '--redis-port',
      '--redis-password',
      '--redis-prefix',
      '--max-packet-size',
      '--max-output-buffer',
    ]) {
      assert.ok(help.includes(flag), `--help mentions ${flag}`);
    }
  });
});
