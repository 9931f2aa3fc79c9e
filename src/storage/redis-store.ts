import { Redis } from 'ioredis';
import { errorMessage } from '../protocol/errors.js';
import { BatchingStore, type BatchingStoreOptions } from './batching-store.js';
import type { StoredJob } from './job-store.js';
import { rowToJob } from './row.js';
import type { Batch, CoalescingBackend } from './store-backend.js';
import { silentLogger, StoreError, type StoreLogger } from './store-error.js';

/** Where the Redis queue lives (gearmand's `--redis-*` flags). */
export interface RedisStoreOptions extends BatchingStoreOptions {
  readonly host: string;
  readonly port: number;
  readonly password?: string;
  /** gearmand's `--redis-prefix`, default `_gear_`. */
  readonly prefix?: string;
}

// Redis' proto-max-bulk-len default: no string value may be longer.
const MAX_DATA_BYTES = 512 * 1024 * 1024;
const SCAN_COUNT = 1000;

const CONNECTION_MESSAGES =
  /Connection is closed|Stream isn't writeable|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|LOADING|connection lost/i;

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/**
 * gearmand's Redis queue: one hash per job under `<prefix>-<function>-<unique>` with the fields
 * `data` and `priority`, plus `function` and `unique` (as gearmand's master writes them) so that
 * names containing `-` replay right, and `reducer` when there is one. Keys written by gearmand
 * 1.1 without `function`/`unique` are split at the first `-` after the prefix, as gearmand does.
 *
 * A flush is one MULTI/EXEC. Replay walks the keys with SCAN (never KEYS, which blocks the
 * server). Epoch jobs are refused, as gearmand's Redis queue refuses them: a hash has no run
 * time. Durability is what the Redis server is configured for: a write is acknowledged once it
 * is in memory; only `appendonly yes` with `appendfsync always` makes it survive power loss.
 */
export class RedisBackend implements CoalescingBackend {
  readonly order = 'coalesced';
  readonly description: string;
  readonly #options: RedisStoreOptions;
  readonly #prefix: string;
  readonly #log: StoreLogger;
  #redis: Redis | undefined;
  #clientId: number | undefined;

  constructor(options: RedisStoreOptions) {
    this.#options = options;
    this.#log = options.log ?? silentLogger;
    this.#prefix = options.prefix ?? '_gear_';
    this.description = `redis:${options.host}:${options.port} (prefix ${this.#prefix})`;
  }

  /** The server's id of the current connection (what `CLIENT KILL ID` takes). */
  get clientId(): number | undefined {
    return this.#clientId;
  }

  #key(functionName: string, uniqueKey: string): string {
    return `${this.#prefix}-${functionName}-${uniqueKey}`;
  }

  #newClient(): Redis {
    const o = this.#options;
    return new Redis({
      host: o.host,
      port: o.port,
      ...(o.password !== undefined ? { password: o.password } : {}),
      lazyConnect: true,
      // Reconnection is the store's (with its logging and its refusal of adds meanwhile).
      retryStrategy: () => null,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: 10_000,
    });
  }

  async connect(lost: (err: unknown) => void): Promise<void> {
    const redis = this.#newClient();
    this.#redis = redis;
    redis.on('error', (err: unknown) => {
      if (redis === this.#redis) lost(err);
    });
    redis.on('close', () => {
      if (redis === this.#redis) lost(new Error('connection closed by the server'));
    });
    await redis.connect();
    this.#clientId = Number(await redis.client('ID'));
    this.#log('DEBUG', `${this.description}: connected (client id ${this.#clientId})`);
  }

  disconnect(): Promise<void> {
    const redis = this.#redis;
    this.#redis = undefined;
    this.#clientId = undefined;
    redis?.disconnect();
    return Promise.resolve();
  }

  async commit(batch: Batch): Promise<void> {
    const redis = this.#redis;
    if (!redis) throw new Error('Connection is closed.');
    const multi = redis.multi();
    const keys = batch.deletes.map((k) => this.#key(k.functionName, k.uniqueKey));
    for (let i = 0; i < keys.length; i += 1000) multi.del(...keys.slice(i, i + 1000));
    for (const job of batch.upserts) {
      // Every field is written (an empty reducer means none), so a replaced job keeps nothing
      // of the old one without a DEL first.
      multi.hset(this.#key(job.functionName, job.uniqueKey), {
        data: job.data,
        priority: String(job.priority),
        function: job.functionName,
        unique: job.uniqueKey,
        reducer: job.reducer ?? '',
      });
    }
    const results = await multi.exec();
    if (results === null) throw new Error('Connection is closed. (transaction aborted)');
    for (const [err] of results) if (err) throw err;
  }

  async *rows(): AsyncIterable<StoredJob> {
    const redis = this.#redis;
    if (!redis) throw new Error('Connection is closed.');
    const match = `${escapeGlob(this.#prefix)}-*`;
    let cursor = '0';
    for (let round = 0; round < Number.MAX_SAFE_INTEGER; round++) {
      const [next, keys] = await redis.scan(cursor, 'MATCH', match, 'COUNT', SCAN_COUNT);
      cursor = next;
      if (keys.length > 0) {
        const pipeline = redis.pipeline();
        for (const key of keys) pipeline.hgetallBuffer(key);
        const results = (await pipeline.exec()) ?? [];
        for (let i = 0; i < keys.length; i++) {
          const [err, hash] = results[i] ?? [null, null];
          const key = keys[i] ?? '';
          if (err) {
            // Another type under our prefix (WRONGTYPE): not ours, say so and go on.
            this.#log('WARNING', `${this.description}: skipping key ${key}: ${err.message}`);
            continue;
          }
          const job = this.#parse(key, hash as Record<string, Buffer> | null);
          if (job) yield job;
        }
      }
      if (cursor === '0') break;
    }
  }

  #parse(key: string, hash: Record<string, Buffer> | null): StoredJob | undefined {
    if (!hash || !hash.data) return undefined;
    let functionName = hash.function?.toString('utf8');
    let uniqueKey = hash.unique?.toString('utf8');
    if (functionName === undefined || uniqueKey === undefined) {
      const rest = key.slice(this.#prefix.length + 1);
      const dash = rest.indexOf('-');
      if (dash < 0) {
        this.#log(
          'WARNING',
          `${this.description}: skipping key ${key}: not <prefix>-<function>-<unique>`,
        );
        return undefined;
      }
      functionName = rest.slice(0, dash);
      uniqueKey = rest.slice(dash + 1);
    }
    return rowToJob(
      functionName,
      uniqueKey,
      hash.priority?.toString('utf8'),
      hash.data,
      0,
      hash.reducer?.toString('utf8'),
    );
  }

  /** Redis refuses commands only for what they are (WRONGTYPE, OOM, …): `connection` or `refused`. */
  classify(err: unknown): 'connection' | 'refused' {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && /^E(CONN|PIPE|TIMEDOUT|HOSTUNREACH)/.test(code))
      return 'connection';
    return CONNECTION_MESSAGES.test(errorMessage(err)) ? 'connection' : 'refused';
  }

  refuse(job: StoredJob): StoreError | undefined {
    if (job.whenToRun > 0) {
      return new StoreError(
        'EPOCH_NOT_SUPPORTED',
        `${this.description}: the redis queue cannot keep epoch jobs (a run time); use the sqlite, postgres or mysql queue for them — gearmand's redis queue refuses them too`,
      );
    }
    if (job.data.length <= MAX_DATA_BYTES) return undefined;
    return new StoreError(
      'JOB_TOO_LARGE',
      `${this.description}: job ${job.functionName}/${job.uniqueKey} is ${job.data.length} bytes; Redis stores at most ${MAX_DATA_BYTES}`,
    );
  }
}

/** The Redis queue: {@link BatchingStore} over a {@link RedisBackend}. */
export class RedisStore extends BatchingStore<RedisBackend> {
  constructor(options: RedisStoreOptions) {
    super(new RedisBackend(options), options);
  }
}
