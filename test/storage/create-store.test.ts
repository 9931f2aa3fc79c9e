import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { MysqlStore } from '../../src/storage/mysql-store.js';
import { parseStoreUrl } from '../../src/sql/store-url.js';
import { createStore, defaultSqlitePath } from '../../src/storage/create-store.js';
import { PostgresStore } from '../../src/storage/postgres-store.js';
import { RedisStore } from '../../src/storage/redis-store.js';
import { SqliteStore } from '../../src/storage/sqlite-store.js';
import { job, replayAll } from './job-store-suite.js';

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
