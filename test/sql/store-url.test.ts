/**
 * One store-URL parser for `gearbox server --store` and `gearbox scheduler --store`: the same
 * forms (postgres:// URLs, libpq's keyword/value conninfo, mysql:// URLs, sqlite paths) open the
 * same databases on both sides, and a bad one gets the same message from both.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { openSchedulerStore } from '../../src/scheduler/open-scheduler-store.js';
import { SchedulerError } from '../../src/scheduler/errors.js';
import { parseStoreUrl } from '../../src/sql/store-url.js';
import { createStore } from '../../src/storage/create-store.js';
import { runGearbox, spawnGearbox } from '../helpers/gearbox-cli.js';
import { startGearbox } from '../helpers/processes.js';
import { serviceUrls, skipUnless, type ServiceName } from '../helpers/services.js';
import { randomTable, testJob } from '../scheduler/store-backends.js';
import { mysqlQuery, pgConninfo, pgQuery } from '../storage/databases.js';
import { job, replayAll } from '../storage/job-store-suite.js';

describe('parseStoreUrl', () => {
  it('reads sqlite URLs, absolute and relative, with a table', () => {
    assert.deepEqual(parseStoreUrl('sqlite:///var/lib/gearbox/q.sqlite'), {
      type: 'sqlite',
      file: '/var/lib/gearbox/q.sqlite',
    });
    assert.deepEqual(parseStoreUrl('sqlite:data/q.sqlite?table=jobs'), {
      type: 'sqlite',
      file: resolve('data/q.sqlite'),
      table: 'jobs',
    });
  });

  it('reads postgres, mysql and redis URLs', () => {
    assert.deepEqual(
      parseStoreUrl('postgresql://u:p@db.local:5433/gear?table=q2&application_name=x'),
      {
        type: 'postgres',
        conninfo: 'postgresql://u:p@db.local:5433/gear?application_name=x',
        table: 'q2',
      },
    );
    assert.deepEqual(parseStoreUrl('postgres://127.0.0.1/test'), {
      type: 'postgres',
      conninfo: 'postgres://127.0.0.1/test',
    });
    assert.deepEqual(parseStoreUrl('mysql://gear:s%40cret@10.0.0.1/jobs?table=gq'), {
      type: 'mysql',
      host: '10.0.0.1',
      port: 3306,
      user: 'gear',
      password: 's@cret',
      database: 'jobs',
      table: 'gq',
    });
    assert.deepEqual(parseStoreUrl('redis://:pw@cache:6380/myprefix'), {
      type: 'redis',
      host: 'cache',
      port: 6380,
      password: 'pw',
      prefix: 'myprefix',
    });
    assert.deepEqual(parseStoreUrl('redis://127.0.0.1'), {
      type: 'redis',
      host: '127.0.0.1',
      port: 6379,
    });
    assert.deepEqual(parseStoreUrl('builtin:'), { type: 'builtin' });
  });

  it("reads libpq's keyword/value conninfo, as --libpq-conninfo takes it, with a table", () => {
    assert.deepEqual(parseStoreUrl('host=db1 port=5433 user=gear dbname=jobs'), {
      type: 'postgres',
      conninfo: 'host=db1 port=5433 user=gear dbname=jobs',
    });
    assert.deepEqual(parseStoreUrl(" host = db1 password='a b' dbname=jobs table=q2 "), {
      type: 'postgres',
      conninfo: "host = db1 password='a b' dbname=jobs table=q2",
      table: 'q2',
    });
  });

  it('says what is wrong with a bad URL, without echoing the password', () => {
    for (const [url, why] of [
      ['nothing', /expected sqlite:/],
      ['ftp://x/y', /unknown store type "ftp"/],
      ['mysql://root:topsecret@host', /no database/],
      ['redis://h:99999', /bad port|not a URL/],
      ['sqlite:', /no file name/],
      ['sqlite://host/path', /absolute/],
      ['postgres:///db', /no host/],
      ["host='db1 password=topsecret", /unterminated quoted value/],
      ['host=db1 password=topsecret port=99999', /invalid PostgreSQL port "99999"/],
      ["host=db1 password='top secret' port=x", /invalid PostgreSQL port "x"/],
      ['postgres://u:topsecret@db1/q?port=0', /invalid PostgreSQL port "0"/],
    ] as const) {
      assert.throws(
        () => parseStoreUrl(url),
        (err: unknown) => {
          assert.ok(err instanceof TypeError, url);
          assert.match(err.message, why);
          assert.doesNotMatch(err.message, /topsecret|top secret/);
          return true;
        },
      );
    }
  });
});

const dir = mkdtempSync(join(tmpdir(), 'gearbox-store-url-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Every form, the database it needs, and how to drop a table there. */
const forms: {
  readonly name: string;
  readonly needs: ServiceName[];
  readonly url: () => string;
  readonly drop: (table: string) => Promise<unknown>;
}[] = [
  {
    name: 'a postgres:// URL',
    needs: ['postgres'],
    url: () => serviceUrls.postgres,
    drop: (t) => pgQuery(`DROP TABLE IF EXISTS ${t}`),
  },
  {
    name: 'a libpq conninfo (host=… dbname=…)',
    needs: ['postgres'],
    url: () => pgConninfo,
    drop: (t) => pgQuery(`DROP TABLE IF EXISTS ${t}`),
  },
  {
    name: 'a mysql:// URL',
    needs: ['mysql'],
    url: () => serviceUrls.mysql,
    drop: (t) => mysqlQuery(`DROP TABLE IF EXISTS ${t}`),
  },
  {
    name: 'a sqlite: path',
    needs: [],
    url: () => `sqlite:${join(dir, 'forms.sqlite')}`,
    drop: () => Promise.resolve(),
  },
];

describe('every store-URL form, on the server side and the scheduler side', async () => {
  for (const form of forms) {
    const skip = await skipUnless(`store URL: ${form.name}`, ...form.needs);

    it(
      `${form.name} opens a job store and a scheduler store on the same database`,
      { skip },
      async () => {
        const jobsTable = randomTable();
        const schedulerTable = randomTable();
        try {
          const location = parseStoreUrl(form.url());
          assert.ok(location.type !== 'builtin' && location.type !== 'redis');
          const jobs = await createStore({ ...location, table: jobsTable });
          assert.ok(jobs);
          await jobs.open();
          const stored = job();
          await jobs.add(stored);
          assert.deepEqual(
            (await replayAll(jobs)).map((j) => j.uniqueKey),
            [stored.uniqueKey],
          );
          await jobs.close();
          const scheduler = await openSchedulerStore(form.url(), {
            table: schedulerTable,
            waitMs: 0,
          });
          try {
            const { id } = await scheduler.schedule(testJob());
            assert.equal((await scheduler.status(id))?.state, 'pending');
          } finally {
            await scheduler.close();
          }
        } finally {
          await form.drop(jobsTable);
          await form.drop(schedulerTable);
        }
      },
    );
  }

  it('the scheduler takes ?table= (or table=) from the URL, and refuses two different tables', async () => {
    const file = join(dir, 'tables.sqlite');
    const store = await openSchedulerStore(`sqlite:${file}?table=from_url`, { waitMs: 0 });
    assert.match(store.description, /\/from_url$/);
    await store.close();
    await assert.rejects(
      openSchedulerStore(`sqlite:${file}?table=from_url`, { table: 'other', waitMs: 0 }),
      (err: unknown) => err instanceof SchedulerError && err.code === 'INVALID_REQUEST',
    );
  });

  it('a bad URL gets the same message from the parser and the scheduler; redis is refused', async () => {
    for (const url of ['ftp://x/y', 'host=db1 port=99999', 'sqlite:', 'mysql://u:topsecret@h']) {
      let parserMessage = '';
      assert.throws(
        () => parseStoreUrl(url),
        (err: unknown) => err instanceof TypeError && (parserMessage = err.message) !== '',
      );
      await assert.rejects(openSchedulerStore(url), (err: unknown) => {
        assert.ok(err instanceof SchedulerError);
        assert.equal(err.code, 'INVALID_REQUEST');
        assert.equal(err.message, parserMessage);
        return true;
      });
    }
    await assert.rejects(openSchedulerStore('redis://127.0.0.1'), /needs a SQL database/);
  });
});

describe('the CLIs: gearbox server --store and gearbox scheduler --store', async () => {
  const skip = await skipUnless('store URL forms in the CLIs', 'postgres');

  it('refuse a bad URL with the same message and status 2', async () => {
    const bad = 'host=127.0.0.1 password=topsecret port=99999';
    const expected = `invalid --store URL ${JSON.stringify(bad.replace('topsecret', '***'))}: invalid PostgreSQL port "99999"`;
    const server = await runGearbox(['server', '-p', '0', '--store', bad]);
    const scheduler = await runGearbox(['scheduler', '--store', bad]);
    for (const result of [server, scheduler]) {
      assert.equal(result.code, 2, result.stderr);
      assert.ok(result.stderr.includes(expected), result.stderr);
      assert.doesNotMatch(result.stderr, /topsecret/);
    }
  });

  it(
    'bug: gearbox scheduler --store refused the libpq conninfo form that --libpq-conninfo takes',
    { skip },
    async () => {
      const table = randomTable();
      const jobsTable = randomTable();
      const server = await startGearbox(['--store', `${pgConninfo} table=${jobsTable}`]);
      const child = spawnGearbox([
        'scheduler',
        '--store',
        pgConninfo,
        '--table',
        table,
        '--servers',
        `127.0.0.1:${server.port}`,
      ]);
      let stderr = '';
      child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((done) => child.once('exit', done));
      try {
        // Bounded: a loaded machine may take seconds to start it and create the table.
        const deadline = Date.now() + 30_000;
        while (!/instance .*, pid/.test(stderr) && child.exitCode === null && Date.now() < deadline)
          await new Promise((r) => setTimeout(r, 50));
        assert.match(stderr, new RegExp(`gearbox scheduler: postgres:\\S+/${table}, instance`));
        assert.match(
          server.stderr(),
          new RegExp(`jobs kept in postgres:\\S+ \\(table ${jobsTable}\\)`),
        );
        if (child.pid !== undefined) process.kill(child.pid, 'SIGTERM');
        assert.equal(await exited, 0, stderr);
      } finally {
        if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
        await server.stop();
        await pgQuery(`DROP TABLE IF EXISTS ${table}`);
        await pgQuery(`DROP TABLE IF EXISTS ${jobsTable}`);
      }
    },
  );
});
