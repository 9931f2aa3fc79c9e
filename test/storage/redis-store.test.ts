import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { RedisStore, type RedisStoreOptions } from '../../src/storage/redis-store.js';
import { StoreError } from '../../src/storage/store-error.js';
import { serviceUrls, skipUnless } from '../helpers/services.js';
import {
  job,
  jobStoreSuite,
  replayAll,
  type StoreTable,
  type TestStore,
} from './job-store-suite.js';

const skip = await skipUnless('redis store', 'redis');

const url = new URL(serviceUrls.redis);
const server = { host: url.hostname, port: Number(url.port || 6379) };

async function withRedis<T>(use: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis({ ...server, lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    return await use(redis);
  } finally {
    redis.disconnect();
  }
}

async function deletePrefix(prefix: string): Promise<void> {
  await withRedis(async (redis) => {
    let cursor = '0';
    for (let i = 0; i < 100_000; i++) {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}-*`, 'COUNT', 1000);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
      if (cursor === '0') break;
    }
  });
}

function options(prefix: string, extra: Partial<RedisStoreOptions> = {}): RedisStoreOptions {
  return { ...server, prefix, reconnect: { initialDelayMs: 50, maxDelayMs: 500 }, ...extra };
}

function prefixName(): string {
  return `gbtest_${randomBytes(6).toString('hex')}`;
}

jobStoreSuite(
  {
    name: 'redis',
    ordered: false,
    epoch: false,
    table(): Promise<StoreTable> {
      const prefix = prefixName();
      return Promise.resolve({
        create: (log) => new RedisStore(options(prefix, { log })),
        drop: () => deletePrefix(prefix),
      });
    },
    async killConnection(store: TestStore): Promise<void> {
      assert.ok(store instanceof RedisStore);
      const id = store.backend.clientId;
      assert.ok(id !== undefined);
      const killed = await withRedis((redis) => redis.client('KILL', 'ID', String(id)));
      assert.equal(killed, 1);
    },
  },
  skip,
);

describe('RedisStore specifics', { skip }, () => {
  it('writes gearmand’s key and fields, and replays gearmand 1.1 keys without function/unique fields', async () => {
    const prefix = prefixName();
    const store = new RedisStore(options(prefix));
    try {
      await store.open();
      await store.add(
        job({
          functionName: 'resize-image',
          uniqueKey: 'id-7',
          priority: 0,
          data: Buffer.from('a\0b'),
        }),
      );
      const hash = await withRedis(async (redis) => {
        // A key as gearmand 1.1.20 writes it: only data and priority.
        await redis.hset(`${prefix}-legacy-uniq-with-dash`, {
          data: Buffer.from([0, 1, 2]),
          priority: '2',
        });
        return redis.hgetallBuffer(`${prefix}-resize-image-id-7`);
      });
      assert.deepEqual(Object.keys(hash).sort(), [
        'data',
        'function',
        'priority',
        'reducer',
        'unique',
      ]);
      assert.equal(hash.reducer?.toString(), '');
      assert.equal(hash.priority?.toString(), '0');
      assert.equal(hash.data?.toString('latin1'), 'a\0b');
      const rows = new Map((await replayAll(store)).map((j) => [j.functionName, j]));
      assert.equal(rows.get('resize-image')?.uniqueKey, 'id-7');
      assert.equal(rows.get('legacy')?.uniqueKey, 'uniq-with-dash');
      assert.equal(rows.get('legacy')?.priority, 2);
      assert.deepEqual([...(rows.get('legacy')?.data ?? [])], [0, 1, 2]);
    } finally {
      await store.close();
      await deletePrefix(prefix);
    }
  });

  it('says clearly when the server cannot be reached', async () => {
    const store = new RedisStore({ host: '127.0.0.1', port: 1 });
    await assert.rejects(store.open(), (err: unknown) => {
      assert.ok(err instanceof StoreError);
      assert.equal(err.code, 'STORE_UNAVAILABLE');
      assert.match(err.message, /redis:127\.0\.0\.1:1/);
      return true;
    });
  });
});
