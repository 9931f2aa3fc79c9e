import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { MysqlStore } from '../../src/storage/mysql-store.js';
import { createStore, defaultSqlitePath, parseStoreUrl } from '../../src/storage/open-store.js';
import { PostgresStore } from '../../src/storage/postgres-store.js';
import { RedisStore } from '../../src/storage/redis-store.js';
import { SqliteStore } from '../../src/storage/sqlite-store.js';
import { job, replayAll } from './job-store-suite.js';

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

  it('says what is wrong with a bad URL, without echoing the password', () => {
    for (const [url, why] of [
      ['nothing', /expected sqlite:/],
      ['ftp://x/y', /unknown store type "ftp"/],
      ['mysql://root:topsecret@host', /no database/],
      ['redis://h:99999', /bad port|not a URL/],
      ['sqlite:', /no file name/],
      ['sqlite://host/path', /absolute/],
      ['postgres:///db', /no host/],
    ] as const) {
      assert.throws(
        () => parseStoreUrl(url),
        (err: unknown) => {
          assert.ok(err instanceof TypeError, url);
          assert.match(err.message, why);
          assert.doesNotMatch(err.message, /topsecret/);
          return true;
        },
      );
    }
  });
});

describe('defaultSqlitePath', () => {
  it('uses GEARBOX_DATA_DIR, then XDG_STATE_HOME, then ~/.local/state', () => {
    assert.equal(defaultSqlitePath({ GEARBOX_DATA_DIR: '/srv/gb' }), '/srv/gb/queue.sqlite');
    assert.equal(defaultSqlitePath({ XDG_STATE_HOME: '/st' }), '/st/gearbox/queue.sqlite');
    assert.equal(defaultSqlitePath({}), join(homedir(), '.local/state/gearbox/queue.sqlite'));
  });
});

describe('createStore', () => {
  it('makes the backend a configuration names, and nothing for builtin', async () => {
    assert.equal(await createStore({ type: 'builtin' }), undefined);
    assert.ok(
      (await createStore(parseStoreUrl('postgres://127.0.0.1/test'))) instanceof PostgresStore,
    );
    assert.ok(
      (await createStore(parseStoreUrl('mysql://root@127.0.0.1/test'))) instanceof MysqlStore,
    );
    assert.ok((await createStore(parseStoreUrl('redis://127.0.0.1'))) instanceof RedisStore);
    const dir = mkdtempSync(join(tmpdir(), 'gearbox-open-store-'));
    try {
      const lines: string[] = [];
      const store = await createStore(
        parseStoreUrl(`sqlite://${dir}/q.sqlite?table=t1`),
        (level, m) => lines.push(`${level} ${m}`),
      );
      assert.ok(store instanceof SqliteStore);
      await store.open();
      await store.add(job());
      await store.close();
      const again = await createStore({ type: 'sqlite', file: join(dir, 'q.sqlite'), table: 't1' });
      assert.ok(again);
      await again.open();
      assert.equal((await replayAll(again)).length, 1);
      await again.close();
      assert.ok(
        lines.some((l) => l.includes(`sqlite:${dir}/q.sqlite (table t1)`)),
        lines.join('\n'),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
