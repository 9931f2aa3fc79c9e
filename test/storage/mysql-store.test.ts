import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { MysqlStore, type MysqlStoreOptions } from '../../src/storage/mysql-store.js';
import { StoreError } from '../../src/storage/store-error.js';
import { skipUnless } from '../helpers/services.js';
import { mysqlQuery, mysqlServer } from './databases.js';
import {
  job,
  jobStoreSuite,
  replayAll,
  type StoreTable,
  type TestStore,
} from './job-store-suite.js';

const skip = await skipUnless('mysql store', 'mysql');

const server = mysqlServer;
const sql = mysqlQuery;

function options(table: string, extra: Partial<MysqlStoreOptions> = {}): MysqlStoreOptions {
  return { ...server, table, reconnect: { initialDelayMs: 50, maxDelayMs: 500 }, ...extra };
}

function tableName(): string {
  return `gbtest_${randomBytes(6).toString('hex')}`;
}

jobStoreSuite(
  {
    name: 'mysql',
    ordered: true,
    epoch: true,
    table(): Promise<StoreTable> {
      const table = tableName();
      return Promise.resolve({
        create: (log) => new MysqlStore(options(table, { log })),
        drop: async () => {
          await sql(`DROP TABLE IF EXISTS ${table}`);
        },
      });
    },
    async killConnection(store: TestStore): Promise<void> {
      assert.ok(store instanceof MysqlStore);
      const id = store.backend.connectionId;
      assert.ok(id !== undefined);
      await sql(`KILL ${id}`);
    },
  },
  skip,
);

describe('MysqlStore specifics', { skip }, () => {
  it('refuses a job larger than max_allowed_packet at once and stores its neighbours', async () => {
    const table = tableName();
    const store = new MysqlStore(options(table));
    try {
      await store.open();
      const tooBig = job({ data: Buffer.alloc(store.backend.maxAllowedPacket + 1, 7) });
      const [a, b] = [job(), job({ data: randomBytes(2 * 1024 * 1024) })];
      const results = await Promise.allSettled([store.add(a), store.add(tooBig), store.add(b)]);
      assert.deepEqual(
        results.map((r) => r.status),
        ['fulfilled', 'rejected', 'fulfilled'],
      );
      const failure = results[1];
      assert.ok(failure?.status === 'rejected' && failure.reason instanceof StoreError);
      assert.equal(failure.reason.code, 'JOB_TOO_LARGE');
      assert.match(failure.reason.message, /max_allowed_packet/);
      assert.ok(store.available);
      const rows = await replayAll(store);
      assert.deepEqual(rows.map((r) => r.uniqueKey).sort(), [a.uniqueKey, b.uniqueKey].sort());
      assert.ok(rows.find((r) => r.uniqueKey === b.uniqueKey)?.data.equals(b.data));
    } finally {
      await store.close();
      await sql(`DROP TABLE IF EXISTS ${table}`);
    }
  });

  it('treats uniques that differ only in case or trailing space as different jobs', async () => {
    const table = tableName();
    const store = new MysqlStore(options(table));
    try {
      await store.open();
      await Promise.all([
        store.add(job({ uniqueKey: 'Key' })),
        store.add(job({ uniqueKey: 'key' })),
        store.add(job({ uniqueKey: 'key ' })),
      ]);
      assert.equal((await replayAll(store)).length, 3);
    } finally {
      await store.close();
      await sql(`DROP TABLE IF EXISTS ${table}`);
    }
  });

  it('says clearly when the database cannot be reached', async () => {
    const store = new MysqlStore({ ...server, port: 1, table: 'x' });
    await assert.rejects(store.open(), (err: unknown) => {
      assert.ok(err instanceof StoreError);
      assert.equal(err.code, 'STORE_UNAVAILABLE');
      assert.match(err.message, /mysql:127\.0\.0\.1:1\//);
      return true;
    });
  });
});
