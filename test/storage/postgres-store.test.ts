import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { PostgresStore } from '../../src/storage/postgres-store.js';
import { StoreError } from '../../src/storage/store-error.js';
import { serviceUrls, skipUnless } from '../helpers/services.js';
import { pgQuery } from './databases.js';
import {
  job,
  jobStoreSuite,
  replayAll,
  type StoreTable,
  type TestStore,
} from './job-store-suite.js';

const skip = await skipUnless('postgres store', 'postgres');

const sql = pgQuery;

function tableName(): string {
  return `gbtest_${randomBytes(6).toString('hex')}`;
}

jobStoreSuite(
  {
    name: 'postgres',
    ordered: true,
    epoch: true,
    table(): Promise<StoreTable> {
      const table = tableName();
      return Promise.resolve({
        create: (log) =>
          new PostgresStore({
            conninfo: serviceUrls.postgres,
            table,
            log,
            reconnect: { initialDelayMs: 50, maxDelayMs: 500 },
          }),
        drop: async () => {
          await sql(`DROP TABLE IF EXISTS ${table}`);
        },
      });
    },
    async killConnection(store: TestStore): Promise<void> {
      assert.ok(store instanceof PostgresStore);
      const pid = store.backend.backendPid;
      assert.ok(pid !== undefined);
      const result = await sql('SELECT pg_terminate_backend($1) AS killed', [pid]);
      assert.equal((result.rows[0] as { killed: boolean }).killed, true);
    },
  },
  skip,
);

describe('PostgresStore specifics', { skip }, () => {
  it('creates gearmand’s layout and accepts libpq keyword/value conninfo', async () => {
    const table = tableName();
    const u = new URL(serviceUrls.postgres);
    const conninfo = `host=${u.hostname} port=${u.port || 5432} user='${decodeURIComponent(u.username)}' dbname=${u.pathname.slice(1)}`;
    const store = new PostgresStore({ conninfo, table });
    try {
      await store.open();
      await store.add(job());
      const { rows } = await sql(
        `SELECT column_name, data_type, character_maximum_length FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position`,
        [table],
      );
      assert.deepEqual(
        rows.map(
          (r: {
            column_name: string;
            data_type: string;
            character_maximum_length: number | null;
          }) => [r.column_name, r.data_type, r.character_maximum_length],
        ),
        [
          ['unique_key', 'character varying', 64],
          ['function_name', 'character varying', 255],
          ['priority', 'integer', null],
          ['data', 'bytea', null],
          ['when_to_run', 'integer', null],
          ['reducer', 'text', null],
        ],
      );
    } finally {
      await store.close();
      await sql(`DROP TABLE IF EXISTS ${table}`);
    }
  });

  it('fails one over-long job alone and stores its neighbours', async () => {
    const table = tableName();
    const store = new PostgresStore({ conninfo: serviceUrls.postgres, table });
    try {
      await store.open();
      const good = [job(), job()];
      const results = await Promise.allSettled([
        store.add(good[0] ?? job()),
        store.add(job({ functionName: 'f'.repeat(300) })),
        store.add(good[1] ?? job()),
      ]);
      assert.deepEqual(
        results.map((r) => r.status),
        ['fulfilled', 'rejected', 'fulfilled'],
      );
      const failure = results[1];
      assert.ok(failure?.status === 'rejected' && failure.reason instanceof StoreError);
      assert.equal(failure.reason.code, 'STORE_FAILED');
      assert.match(failure.reason.message, /postgres:.*too long/);
      assert.equal((await replayAll(store)).length, 2);
    } finally {
      await store.close();
      await sql(`DROP TABLE IF EXISTS ${table}`);
    }
  });

  it('says clearly when the database cannot be reached', async () => {
    const store = new PostgresStore({
      conninfo: 'host=127.0.0.1 port=1 user=nobody dbname=none connect_timeout=2',
    });
    await assert.rejects(store.open(), (err: unknown) => {
      assert.ok(err instanceof StoreError);
      assert.equal(err.code, 'STORE_UNAVAILABLE');
      assert.match(err.message, /postgres:127\.0\.0\.1:1\/none/);
      return true;
    });
  });
});
