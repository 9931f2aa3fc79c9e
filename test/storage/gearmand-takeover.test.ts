/**
 * Taking over gearmand's queue tables: Debian's gearmand (with its SQLite, MySQL and PostgreSQL
 * queues) stores background jobs, stops, and then our store — and `gearbox server` with
 * gearmand's own flags — finds every job with its function, unique, priority, data and time.
 * Also the other way round: gearmand still reads a table after we added our column to it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { BatchingStore } from '../../src/storage/batching-store.js';
import type { StoredJob } from '../../src/storage/job-store.js';
import { MysqlStore } from '../../src/storage/mysql-store.js';
import { PostgresStore } from '../../src/storage/postgres-store.js';
import { SqliteStore } from '../../src/storage/sqlite-store.js';
import { startGearbox, startGearmand } from '../helpers/processes.js';
import { skipUnless, type ServiceName } from '../helpers/services.js';
import { mysqlQuery, mysqlServer, pgConninfo, pgQuery } from './databases.js';
import { adminList, drain, epochSubmit, gearmanSubmit } from './gearman-peers.js';

const dir = mkdtempSync(join(tmpdir(), 'gearbox-takeover-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Backend {
  readonly name: string;
  readonly services: ServiceName[];
  /** gearmand's and gearbox server's queue flags for this table. */
  flags(table: string): string[];
  store(table: string): BatchingStore;
  drop(table: string): Promise<void>;
}

const backends: Backend[] = [
  {
    name: 'libsqlite3',
    services: ['gearmand', 'gearman-tools'],
    flags: (table) => [
      '-q',
      'libsqlite3',
      '--libsqlite3-db',
      join(dir, `${table}.sqlite`),
      '--libsqlite3-table',
      table,
    ],
    store: (table) => new SqliteStore({ file: join(dir, `${table}.sqlite`), table }),
    drop: (table) => Promise.resolve(rmSync(join(dir, `${table}.sqlite`), { force: true })),
  },
  {
    name: 'mysql',
    services: ['gearmand', 'gearman-tools', 'mysql'],
    flags: (table) => [
      '-q',
      'mysql',
      '--mysql-host',
      mysqlServer.host,
      '--mysql-port',
      String(mysqlServer.port),
      '--mysql-user',
      mysqlServer.user,
      ...(mysqlServer.password ? ['--mysql-password', mysqlServer.password] : []),
      '--mysql-db',
      mysqlServer.database,
      '--mysql-table',
      table,
    ],
    store: (table) => new MysqlStore({ ...mysqlServer, table }),
    drop: async (table) => {
      await mysqlQuery(`DROP TABLE IF EXISTS ${table}`);
    },
  },
  {
    // Debian's gearmand knows this queue as "Postgres" (or "postgres"), not "libpq".
    name: 'Postgres',
    services: ['gearmand', 'gearman-tools', 'postgres'],
    flags: (table) => ['-q', 'Postgres', '--libpq-conninfo', pgConninfo, '--libpq-table', table],
    store: (table) => new PostgresStore({ conninfo: pgConninfo, table }),
    drop: async (table) => {
      await pgQuery(`DROP TABLE IF EXISTS ${table}`);
    },
  },
];

interface Submitted {
  readonly fn: string;
  readonly unique: string;
  readonly priority: 0 | 1 | 2;
  readonly data: Buffer;
  readonly when: number;
}

async function replayAll(store: BatchingStore): Promise<Map<string, StoredJob>> {
  await store.open();
  const jobs = new Map<string, StoredJob>();
  try {
    for await (const j of store.replay()) jobs.set(`${j.functionName}/${j.uniqueKey}`, j);
  } finally {
    await store.close();
  }
  return jobs;
}

for (const backend of backends) {
  const skip = await skipUnless(`gearmand ${backend.name} takeover`, ...backend.services);
  describe(`taking over gearmand's ${backend.name} queue`, { skip }, () => {
    const table = `gbtake_${randomBytes(5).toString('hex')}`;
    const when = Math.floor(Date.now() / 1000) + 3600;
    const submitted: Submitted[] = [
      {
        fn: 'takeover_fn',
        unique: 'high-1',
        priority: 0,
        data: Buffer.from([0, 1, 0x68, 0xff, 0]),
        when: 0,
      },
      {
        fn: 'takeover_fn',
        unique: 'normal-1',
        priority: 1,
        data: Buffer.from('n\0o\0r\0m'),
        when: 0,
      },
      { fn: 'takeover_fn', unique: 'low-1', priority: 2, data: randomBytes(3000), when: 0 },
      {
        fn: 'fn-with-dash',
        unique: 'u-with-dash',
        priority: 1,
        data: Buffer.from('dash'),
        when: 0,
      },
      { fn: 'takeover_fn', unique: 'epoch-1', priority: 1, data: Buffer.from('later\0'), when },
    ];
    after(() => backend.drop(table));

    it('replays every job gearmand stored, with function, unique, priority, data and time', async () => {
      const gearmand = await startGearmand(backend.flags(table));
      try {
        for (const job of submitted) {
          if (job.when > 0)
            await epochSubmit(gearmand.port, job.fn, job.unique, job.when, job.data);
          else await gearmanSubmit(gearmand.port, job.fn, job.unique, job.priority, job.data);
        }
      } finally {
        await gearmand.stop();
      }
      const replayed = await replayAll(backend.store(table));
      assert.equal(replayed.size, submitted.length, [...replayed.keys()].join(', '));
      for (const job of submitted) {
        const got = replayed.get(`${job.fn}/${job.unique}`);
        assert.ok(got, `${job.fn}/${job.unique} replayed`);
        assert.equal(got.priority, job.priority, `${job.unique} priority`);
        assert.equal(got.data.toString('hex'), job.data.toString('hex'), `${job.unique} data`);
        assert.equal(got.whenToRun, job.when, `${job.unique} when_to_run`);
        assert.equal(got.generatedKey, false);
      }
    });

    it('leaves the table readable by gearmand after our store opened it', async () => {
      const gearmand = await startGearmand(backend.flags(table));
      try {
        const status = await adminList(gearmand.port, 'status');
        assert.ok(status.includes('takeover_fn\t4\t0\t0'), status.join('\n'));
        assert.ok(status.includes('fn-with-dash\t1\t0\t0'), status.join('\n'));
      } finally {
        await gearmand.stop();
      }
    });

    it('serves the jobs from gearbox server started with the same gearmand flags', async () => {
      const gearbox = await startGearbox(backend.flags(table));
      try {
        const uniques = await adminList(gearbox.port, 'show unique jobs');
        assert.deepEqual([...uniques].sort(), submitted.map((j) => j.unique).sort());
        const worker = await drain(gearbox.port, 'takeover_fn');
        worker.close();
        // Priority order, and the epoch job (an hour ahead) is not handed out.
        assert.deepEqual(
          worker.jobs.map((j) => [j.unique, j.data.toString('hex')]),
          submitted
            .filter((j) => j.fn === 'takeover_fn' && j.when === 0)
            .map((j) => [j.unique, j.data.toString('hex')]),
        );
      } finally {
        await gearbox.stop();
      }
      // The completed jobs' rows are gone from gearmand's table; the others stay.
      const left = await replayAll(backend.store(table));
      assert.deepEqual([...left.keys()].sort(), [
        'fn-with-dash/u-with-dash',
        'takeover_fn/epoch-1',
      ]);
    });
  });
}
