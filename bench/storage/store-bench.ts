/**
 * Durable-queue benchmark: durable submit rate per backend, directly against the store API and
 * through `gearbox server`, next to Debian's gearmand (in memory and with its SQLite queue) in the
 * same run; and the restart replay time of a queue of 1,000,000 jobs.
 *
 *   node dist/bench/storage/store-bench.js [--jobs 100000] [--server-jobs 50000]
 *     [--gearmand-jobs 5000] [--replay-rows 1000000] [--only api,server,replay]
 *
 * PostgreSQL, MariaDB and Redis are used when they answer at the test addresses
 * (GEARBOX_TEST_POSTGRES / _MYSQL / _REDIS); missing ones are reported and skipped.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import type { BatchingStore } from '../../src/storage/batching-store.js';
import type { StoredJob } from '../../src/storage/job-store.js';
import { MemoryStore } from '../../src/storage/memory-store.js';
import { MysqlStore } from '../../src/storage/mysql-store.js';
import { PostgresStore } from '../../src/storage/postgres-store.js';
import { RedisStore } from '../../src/storage/redis-store.js';
import { SqliteStore } from '../../src/storage/sqlite-store.js';
import { prepareBackgroundSubmit } from '../lib/background-submitter.js';
import {
  freePort,
  gearboxMain,
  startGearbox,
  startGearmand,
  type RunningServer,
} from '../../test/helpers/processes.js';
import { serviceUrls, skipUnless, tools } from '../../test/helpers/services.js';
import { mysqlQuery, mysqlServer, pgQuery } from '../../test/storage/databases.js';

const { values: args } = parseArgs({
  options: {
    jobs: { type: 'string', default: '100000' },
    'server-jobs': { type: 'string', default: '50000' },
    'gearmand-jobs': { type: 'string', default: '5000' },
    'replay-rows': { type: 'string', default: '1000000' },
    only: { type: 'string', default: 'api,server,replay' },
  },
});
const JOBS = Number(args.jobs);
const SERVER_JOBS = Number(args['server-jobs']);
const GEARMAND_JOBS = Number(args['gearmand-jobs']);
const REPLAY_ROWS = Number(args['replay-rows']);
const ONLY = new Set((args.only ?? '').split(','));
const PAYLOAD = randomBytes(64);

const dir = mkdtempSync(join(tmpdir(), 'gearbox-store-bench-'));
const suffix = randomBytes(4).toString('hex');
const rows: string[][] = [];

function report(section: string, subject: string, value: string, note = ''): void {
  rows.push([section, subject, value, note]);
  console.log(`${section} | ${subject} | ${value} | ${note}`);
}

function rate(count: number, ms: number): string {
  return `${Math.round((count / ms) * 1000).toLocaleString('en-US')} jobs/s`;
}

const redisUrl = new URL(serviceUrls.redis);

async function sqlPg(text: string): Promise<void> {
  await pgQuery(text);
}

async function sqlMysql(text: string): Promise<void> {
  await mysqlQuery(text);
}

async function dropRedisPrefix(prefix: string): Promise<void> {
  const r = new Redis({ host: redisUrl.hostname, port: Number(redisUrl.port || 6379) });
  let cursor = '0';
  for (let i = 0; i < 1_000_000; i++) {
    const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}-*`, 'COUNT', 5000);
    if (keys.length) await r.del(...keys);
    cursor = next;
    if (cursor === '0') break;
  }
  r.disconnect();
}

interface BackendSpec {
  readonly name: string;
  readonly available: boolean;
  store(): BatchingStore;
  /** `gearbox server` flags. */
  flags(): string[];
  cleanup(): Promise<void>;
}

async function backends(): Promise<BackendSpec[]> {
  const hasPg = (await skipUnless('bench', 'postgres')) === false;
  const hasMysql = (await skipUnless('bench', 'mysql')) === false;
  const hasRedis = (await skipUnless('bench', 'redis')) === false;
  const sqliteFile = join(dir, 'bench.sqlite');
  const pgTable = `gbbench_${suffix}`;
  const myTable = `gbbench_${suffix}`;
  const prefix = `gbbench_${suffix}`;
  return [
    {
      name: 'memory (store API only)',
      available: true,
      store: () => new MemoryStore(),
      flags: () => ['-q', 'builtin'],
      cleanup: () => Promise.resolve(),
    },
    {
      name: 'sqlite',
      available: true,
      store: () => new SqliteStore({ file: sqliteFile }),
      flags: () => ['-q', 'libsqlite3', '--libsqlite3-db', sqliteFile],
      cleanup: () => Promise.resolve(rmSync(sqliteFile, { force: true })),
    },
    {
      name: 'postgres',
      available: hasPg,
      store: () => new PostgresStore({ conninfo: serviceUrls.postgres, table: pgTable }),
      flags: () => ['--store', `${serviceUrls.postgres}?table=${pgTable}`],
      cleanup: () => sqlPg(`DROP TABLE IF EXISTS ${pgTable}`),
    },
    {
      name: 'mariadb',
      available: hasMysql,
      store: () => new MysqlStore({ ...mysqlServer, table: myTable }),
      flags: () => ['--store', `${serviceUrls.mysql}?table=${myTable}`],
      cleanup: () => sqlMysql(`DROP TABLE IF EXISTS ${myTable}`),
    },
    {
      name: 'redis',
      available: hasRedis,
      store: () =>
        new RedisStore({ host: redisUrl.hostname, port: Number(redisUrl.port || 6379), prefix }),
      flags: () => [
        '-q',
        'redis',
        '--redis-server',
        redisUrl.hostname,
        '--redis-port',
        redisUrl.port || '6379',
        '--redis-prefix',
        prefix,
      ],
      cleanup: () => dropRedisPrefix(prefix),
    },
  ];
}

function job(i: number): StoredJob {
  return {
    functionName: 'bench_fn',
    uniqueKey: `u${i}`,
    generatedKey: false,
    priority: 1,
    data: PAYLOAD,
    whenToRun: 0,
  };
}

/** Adds `count` jobs, `perTurn` per event-loop turn without waiting, as a busy server would. */
async function apiRate(store: BatchingStore, count: number, perTurn: number): Promise<number> {
  const acks: Promise<void>[] = [];
  const start = performance.now();
  for (let i = 0; i < count;) {
    for (let k = 0; k < perTurn && i < count; k++, i++) acks.push(store.add(job(i)));
    await new Promise((r) => setImmediate(r));
  }
  await Promise.all(acks);
  return performance.now() - start;
}

async function apiSection(specs: BackendSpec[]): Promise<void> {
  for (const spec of specs) {
    if (!spec.available) {
      report('store API', spec.name, 'skipped', 'service not reachable');
      continue;
    }
    await spec.cleanup();
    const store = spec.store();
    await store.open();
    const commits = store.commits;
    const ms = await apiRate(store, JOBS, 100);
    report(
      'store API',
      `${spec.name}: ${JOBS} adds, 100 per turn`,
      rate(JOBS, ms),
      `${store.commits - commits} transactions`,
    );
    if (spec.name === 'sqlite') {
      // The same store with one job per transaction (await each add): what grouping buys.
      const n = Math.min(JOBS, 3000);
      const start = performance.now();
      for (let i = 0; i < n; i++) await store.add(job(JOBS + i));
      report(
        'store API',
        `sqlite: one add per transaction (${n})`,
        rate(n, performance.now() - start),
      );
    }
    await store.close();
    await spec.cleanup();
  }
}

/**
 * Streams SUBMIT_JOB_BG on `connections` connections, `window` unanswered each, with the shared
 * benchmark submitter (batched writes, no per-packet promise); jobs acknowledged per second.
 */
async function serverRate(
  port: number,
  total: number,
  connections = 8,
  window = 256,
): Promise<string> {
  const task = await prepareBackgroundSubmit({
    kind: 'bg-submit',
    port,
    functionName: 'bench_fn',
    connections,
    jobsPerConnection: Math.ceil(total / connections),
    payloadBytes: PAYLOAD.length,
    window,
    uniques: 'distinct',
  });
  try {
    const result = await task.start();
    return rate(result.counted, result.finishedAt - result.startedAt);
  } finally {
    task.close();
  }
}

async function withServer<T>(
  start: () => Promise<RunningServer>,
  use: (s: RunningServer) => Promise<T>,
): Promise<T> {
  const server = await start();
  try {
    return await use(server);
  } finally {
    await server.stop();
  }
}

async function serverSection(specs: BackendSpec[]): Promise<void> {
  const conns = '8 connections × 256 in flight';
  for (const spec of specs) {
    if (!spec.available) {
      report('through the server', `gearbox ${spec.name}`, 'skipped', 'service not reachable');
      continue;
    }
    await spec.cleanup();
    const name = spec.name.startsWith('memory') ? 'builtin (memory only)' : spec.name;
    const value = await withServer(
      () => startGearbox(spec.flags()),
      (s) => serverRate(s.port, SERVER_JOBS),
    );
    report('through the server', `gearbox ${name}: ${SERVER_JOBS} SUBMIT_JOB_BG`, value, conns);
    await spec.cleanup();
  }
  if ((await skipUnless('bench', 'gearmand')) !== false) {
    report('through the server', 'gearmand', 'skipped', 'gearmand not installed');
    return;
  }
  const builtin = await withServer(
    () => startGearmand(['-q', 'builtin']),
    (s) => serverRate(s.port, SERVER_JOBS),
  );
  report(
    'through the server',
    `gearmand 1.1.20 builtin: ${SERVER_JOBS} SUBMIT_JOB_BG`,
    builtin,
    conns,
  );
  const file = join(dir, 'gearmand.sqlite');
  const sqlite = await withServer(
    () => startGearmand(['-q', 'libsqlite3', '--libsqlite3-db', file]),
    (s) => serverRate(s.port, GEARMAND_JOBS),
  );
  report(
    'through the server',
    `gearmand 1.1.20 libsqlite3: ${GEARMAND_JOBS} SUBMIT_JOB_BG`,
    sqlite,
    conns,
  );
  rmSync(file, { force: true });
}

/** Writes `count` rows in gearmand's SQLite layout, straight through SQLite. */
function fillSqlite(file: string, count: number): void {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec(
    'CREATE TABLE IF NOT EXISTS gearman_queue (unique_key TEXT, function_name TEXT, priority INTEGER, data BLOB, when_to_run INTEGER, PRIMARY KEY(unique_key,function_name))',
  );
  const insert = db.prepare('INSERT INTO gearman_queue VALUES (?, ?, ?, ?, 0)');
  db.transaction(() => {
    for (let i = 0; i < count; i++) insert.run(`r${i}`, `fn${i % 10}`, i % 3, PAYLOAD);
  })();
  db.close();
}

async function timeReplay(store: BatchingStore): Promise<[number, number]> {
  const start = performance.now();
  await store.open();
  let n = 0;
  for await (const j of store.replay()) if (j.data.length >= 0) n++;
  const ms = performance.now() - start;
  await store.close();
  return [n, ms];
}

async function replaySection(specs: BackendSpec[]): Promise<void> {
  const file = join(dir, 'replay.sqlite');
  fillSqlite(file, REPLAY_ROWS);
  const [n, ms] = await timeReplay(new SqliteStore({ file }));
  report('replay', `sqlite store API: ${n} rows`, `${(ms / 1000).toFixed(2)} s`);
  const note = 'spawn until admin `status` shows every job queued';
  report(
    'replay',
    `gearbox server start with ${REPLAY_ROWS} queued jobs (sqlite)`,
    await readySeconds(
      process.execPath,
      [gearboxMain, 'server', '-q', 'libsqlite3', '--libsqlite3-db', file],
      REPLAY_ROWS,
    ),
    note,
  );
  if ((await skipUnless('bench', 'gearmand')) === false) {
    report(
      'replay',
      `gearmand 1.1.20 start with ${REPLAY_ROWS} queued jobs (libsqlite3)`,
      await readySeconds(
        tools.gearmand,
        ['-l', 'stderr', '-q', 'libsqlite3', '--libsqlite3-db', file],
        REPLAY_ROWS,
      ),
      note,
    );
  }
  rmSync(file, { force: true });

  const pgSpec = specs.find((s) => s.name === 'postgres');
  if (pgSpec?.available) {
    const table = `gbreplay_${suffix}`;
    await sqlPg(
      `CREATE TABLE ${table} (unique_key VARCHAR(64), function_name VARCHAR(255), priority INTEGER, data BYTEA, when_to_run INTEGER, UNIQUE(unique_key,function_name))`,
    );
    await sqlPg(
      `INSERT INTO ${table} SELECT 'r' || i, 'fn' || (i % 10), i % 3, decode('${PAYLOAD.toString('hex')}', 'hex'), 0 FROM generate_series(1, ${REPLAY_ROWS}) AS i`,
    );
    const [pn, pms] = await timeReplay(
      new PostgresStore({ conninfo: serviceUrls.postgres, table }),
    );
    report('replay', `postgres store API: ${pn} rows`, `${(pms / 1000).toFixed(2)} s`);
    await sqlPg(`DROP TABLE ${table}`);
  }
  const mySpec = specs.find((s) => s.name === 'mariadb');
  if (mySpec?.available) {
    const table = `gbreplay_${suffix}`;
    await sqlMysql(
      `CREATE TABLE ${table} (unique_key VARCHAR(64), function_name VARCHAR(255), priority INT, data LONGBLOB, when_to_run INT, UNIQUE KEY (unique_key, function_name))`,
    );
    try {
      // MariaDB's sequence engine makes the rows server-side.
      await sqlMysql(
        `INSERT INTO ${table} SELECT CONCAT('r', seq), CONCAT('fn', seq % 10), seq % 3, UNHEX('${PAYLOAD.toString('hex')}'), 0 FROM seq_1_to_${REPLAY_ROWS}`,
      );
      const [mn, mms] = await timeReplay(new MysqlStore({ ...mysqlServer, table }));
      report('replay', `mariadb store API: ${mn} rows`, `${(mms / 1000).toFixed(2)} s`);
    } catch (err) {
      report('replay', 'mariadb store API', 'skipped', String(err).slice(0, 100));
    }
    await sqlMysql(`DROP TABLE ${table}`);
  }
}

/** Asks `status` on the admin port; resolves to the reply, or undefined if none in `ms`. */
function adminStatus(port: number, ms: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let reply = '';
    const done = (value: string | undefined): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(value);
    };
    const timer = setTimeout(() => done(undefined), ms);
    socket.on('error', () => done(undefined));
    socket.on('connect', () => socket.write('status\r\n'));
    socket.on('data', (d: Buffer) => {
      reply += d.toString('latin1');
      if (reply === '.\n' || reply.endsWith('\n.\n')) done(reply);
    });
  });
}

/**
 * Seconds from spawning a server until it answers `status` with all `jobs` queued. gearmand
 * accepts connections before it has replayed (it answers only afterwards), so "it listens" is
 * not the measure. The server is stopped by its PID.
 */
async function readySeconds(command: string, args: string[], jobs: number): Promise<string> {
  const port = await freePort();
  const start = performance.now();
  const child = spawn(command, [...args, '-L', '127.0.0.1', '-p', String(port)], {
    stdio: 'ignore',
  });
  try {
    for (let attempt = 0; attempt < 3000 && performance.now() - start < 300_000; attempt++) {
      const reply = await adminStatus(port, 1000);
      const queued = (reply ?? '')
        .split('\n')
        .map((line) => Number(line.split('\t')[1] ?? 0))
        .reduce((a, n) => a + n, 0);
      if (queued >= jobs) return `${((performance.now() - start) / 1000).toFixed(2)} s`;
      if (reply === undefined || queued === 0) await new Promise((r) => setTimeout(r, 50));
    }
    return 'not ready within 300 s';
  } finally {
    if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
  }
}

const specs = await backends();
try {
  if (ONLY.has('api')) await apiSection(specs);
  if (ONLY.has('server')) await serverSection(specs);
  if (ONLY.has('replay')) await replaySection(specs);
} finally {
  for (const s of specs) if (s.available) await s.cleanup().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
}

console.log('\n| section | what | result | note |\n|---|---|---|---|');
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
