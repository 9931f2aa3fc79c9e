import pg from 'pg';
import { postgresDialect } from '../sql/dialect.js';
import { describePostgres, postgresClientConfig } from '../sql/postgres-connection.js';
import { classifySqlError, type SqlErrorKind } from '../sql/sql-errors.js';
import { checkTableName } from '../sql/table-name.js';
import { BatchingStore, type BatchingStoreOptions } from './batching-store.js';
import type { StoredJob } from './job-store.js';
import { QUEUE_COLUMNS, QUEUE_KEY, tableRowToJob, type QueueTableRow } from './row.js';
import type { Batch, CoalescingBackend } from './store-backend.js';
import { silentLogger, StoreError, type StoreLogger } from './store-error.js';

/** Where the PostgreSQL queue lives. */
export interface PostgresStoreOptions extends BatchingStoreOptions {
  /** gearmand's `--libpq-conninfo`: libpq keyword/value form or a postgres:// URI. */
  readonly conninfo: string;
  /** gearmand's `--libpq-table`, default `queue`. */
  readonly table?: string;
}

// Buffers travel hex-encoded inside bytea arrays, so a job's text form is twice its size and a
// PostgreSQL message may not exceed 1 GB.
const MAX_DATA_BYTES = 500 * 1024 * 1024;
// Above this, a batch is split into several statements inside one explicit transaction.
const STATEMENT_BYTES = 64 * 1024 * 1024;

/**
 * gearmand's `libpq` queue: `CREATE TABLE IF NOT EXISTS <table> (unique_key VARCHAR(64),
 * function_name VARCHAR(255), priority INTEGER, data BYTEA, when_to_run INTEGER,
 * UNIQUE(unique_key,function_name))`, plus our nullable `reducer` column, which gearmand ignores.
 * The table name is not quoted, so it folds to lower case exactly as in gearmand's SQL.
 *
 * A flush is one statement — a data-modifying CTE that deletes and upserts from arrays — so a
 * batch of any size costs one round trip and one WAL flush.
 */
export class PostgresBackend implements CoalescingBackend {
  readonly order = 'coalesced';
  readonly description: string;
  readonly #config: pg.ClientConfig;
  readonly #table: string;
  readonly #log: StoreLogger;
  /** The flush statement's text: delete the removed keys, upsert the rest, from arrays. */
  readonly #flush: string;
  #client: pg.Client | undefined;
  #backendPid: number | undefined;

  constructor(options: PostgresStoreOptions) {
    this.#config = postgresClientConfig(options.conninfo);
    this.#log = options.log ?? silentLogger;
    const t = checkTableName(options.table ?? 'queue');
    this.#table = t;
    this.description = `postgres:${describePostgres(this.#config)} (table ${t})`;
    this.#flush =
      `WITH gone AS (DELETE FROM ${t} WHERE (unique_key, function_name) IN (SELECT * FROM unnest($1::text[], $2::text[]))) ` +
      postgresDialect.upsert(
        t,
        QUEUE_COLUMNS,
        QUEUE_KEY,
        'SELECT * FROM unnest($3::text[], $4::text[], $5::int[], $6::bytea[], $7::int[], $8::text[])',
      );
  }

  /** The server process of the current connection (what `pg_terminate_backend` takes). */
  get backendPid(): number | undefined {
    return this.#backendPid;
  }

  /** A connected client; `lost` hears of its errors while it is the store's connection. */
  async #newClient(lost: (err: unknown) => void): Promise<pg.Client> {
    const client = new pg.Client(this.#config);
    // Without a listener an idle connection's error would crash the process.
    client.on('error', (err) => {
      if (client === this.#client) lost(err);
    });
    await client.connect();
    return client;
  }

  async connect(lost: (err: unknown) => void): Promise<void> {
    const client = await this.#newClient(lost);
    this.#client = client;
    const t = this.#table;
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${t} (unique_key VARCHAR(64), function_name VARCHAR(255), priority INTEGER, data BYTEA, when_to_run INTEGER, UNIQUE(unique_key,function_name))`,
    );
    await client.query(`ALTER TABLE ${t} ADD COLUMN IF NOT EXISTS when_to_run INTEGER`);
    await client.query(`ALTER TABLE ${t} ADD COLUMN IF NOT EXISTS reducer TEXT`);
    const pid = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    this.#backendPid = pid.rows[0]?.pid;
    this.#log('DEBUG', `${this.description}: connected (backend pid ${String(this.#backendPid)})`);
  }

  async disconnect(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    this.#backendPid = undefined;
    if (!client) return;
    await client.end().catch(() => {});
  }

  async commit(batch: Batch): Promise<void> {
    const client = this.#client;
    if (!client) throw new Error('Connection terminated: not connected');
    const chunks = this.#chunks(batch);
    if (chunks.length === 1 && chunks[0]) {
      await client.query(chunks[0]);
      return;
    }
    await client.query('BEGIN');
    try {
      for (const chunk of chunks) await client.query(chunk);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    }
  }

  #chunks(batch: Batch): pg.QueryConfig[] {
    const statements: pg.QueryConfig[] = [];
    let upserts: StoredJob[] = [];
    let bytes = 0;
    const flushUpserts = (deletes: Batch['deletes']): void => {
      statements.push({
        name: `gearbox-flush-${this.#table}`,
        text: this.#flush,
        values: [
          deletes.map((k) => k.uniqueKey),
          deletes.map((k) => k.functionName),
          upserts.map((j) => j.uniqueKey),
          upserts.map((j) => j.functionName),
          upserts.map((j) => j.priority),
          upserts.map((j) => j.data),
          upserts.map((j) => j.whenToRun),
          upserts.map((j) => j.reducer ?? null),
        ],
      });
      upserts = [];
      bytes = 0;
    };
    let deletes: Batch['deletes'] = batch.deletes;
    for (const job of batch.upserts) {
      if (bytes > 0 && bytes + job.data.length > STATEMENT_BYTES) {
        flushUpserts(deletes);
        deletes = [];
      }
      upserts.push(job);
      bytes += job.data.length;
    }
    flushUpserts(deletes);
    return statements;
  }

  async *rows(): AsyncIterable<StoredJob> {
    // Its own connection: the replay transaction must not swallow concurrent commits. Its
    // errors surface through the statements.
    const client = await this.#newClient(() => undefined);
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      await client.query(
        `DECLARE gearbox_replay NO SCROLL CURSOR FOR SELECT ${QUEUE_COLUMNS.join(', ')} FROM ${this.#table}`,
      );
      for (let round = 0; round < Number.MAX_SAFE_INTEGER; round++) {
        // Binary results: bytea arrives as raw bytes instead of hex text (three times faster).
        // node-postgres supports `binary`; its type definitions do not list it.
        const fetch: pg.QueryConfig & { binary: boolean } = {
          text: 'FETCH 10000 FROM gearbox_replay',
          binary: true,
        };
        const { rows } = await client.query<QueueTableRow>(fetch);
        if (rows.length === 0) break;
        for (const row of rows) {
          yield tableRowToJob(row);
        }
      }
      await client.query('COMMIT');
    } finally {
      await client.end().catch(() => {});
    }
  }

  classify(err: unknown): SqlErrorKind {
    return classifySqlError('postgres', err);
  }

  refuse(job: StoredJob): StoreError | undefined {
    if (job.data.length <= MAX_DATA_BYTES) return undefined;
    return new StoreError(
      'JOB_TOO_LARGE',
      `${this.description}: job ${job.functionName}/${job.uniqueKey} is ${job.data.length} bytes; this PostgreSQL queue stores at most ${MAX_DATA_BYTES}`,
    );
  }
}

/** The PostgreSQL queue: {@link BatchingStore} over a {@link PostgresBackend}. */
export class PostgresStore extends BatchingStore<PostgresBackend> {
  constructor(options: PostgresStoreOptions) {
    super(new PostgresBackend(options), options);
  }
}
