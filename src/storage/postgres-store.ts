import pg from 'pg';
import { BatchingStore, type Batch, type BatchingStoreOptions } from './batching-store.js';
import { describePostgres, parseConninfo, type PostgresConnection } from './conninfo.js';
import type { StoredJob } from './job-store.js';
import { checkTableName, tableRowToJob, type QueueTableRow } from './row.js';
import { StoreError } from './store-error.js';

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

const CONNECTION_MESSAGES =
  /Connection terminated|connection error|not queryable|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|timeout expired|Client was closed/i;

/**
 * gearmand's `libpq` queue: `CREATE TABLE IF NOT EXISTS <table> (unique_key VARCHAR(64),
 * function_name VARCHAR(255), priority INTEGER, data BYTEA, when_to_run INTEGER,
 * UNIQUE(unique_key,function_name))`, plus our nullable `reducer` column, which gearmand ignores.
 * The table name is not quoted, so it folds to lower case exactly as in gearmand's SQL.
 *
 * A flush is one statement — a data-modifying CTE that deletes and upserts from arrays — so a
 * batch of any size costs one round trip and one WAL flush.
 */
export class PostgresStore extends BatchingStore {
  readonly description: string;
  readonly #connection: PostgresConnection;
  readonly #table: string;
  #client: pg.Client | undefined;
  #backendPid: number | undefined;

  constructor(options: PostgresStoreOptions) {
    super(options);
    this.#connection = parseConninfo(options.conninfo);
    this.#table = checkTableName(options.table ?? 'queue');
    this.description = `postgres:${describePostgres(this.#connection)} (table ${this.#table})`;
  }

  /** The server process of the current connection (what `pg_terminate_backend` takes). */
  get backendPid(): number | undefined {
    return this.#backendPid;
  }

  async #newClient(): Promise<pg.Client> {
    const client = new pg.Client({ connectionTimeoutMillis: 10_000, ...this.#connection });
    // Without a listener an idle connection's error would crash the process.
    client.on('error', (err) => {
      if (client === this.#client) this.connectionLost(err);
    });
    await client.connect();
    return client;
  }

  protected async connect(): Promise<void> {
    const client = await this.#newClient();
    this.#client = client;
    const t = this.#table;
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${t} (unique_key VARCHAR(64), function_name VARCHAR(255), priority INTEGER, data BYTEA, when_to_run INTEGER, UNIQUE(unique_key,function_name))`,
    );
    await client.query(`ALTER TABLE ${t} ADD COLUMN IF NOT EXISTS when_to_run INTEGER`);
    await client.query(`ALTER TABLE ${t} ADD COLUMN IF NOT EXISTS reducer TEXT`);
    const pid = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    this.#backendPid = pid.rows[0]?.pid;
    this.log('DEBUG', `${this.description}: connected (backend pid ${String(this.#backendPid)})`);
  }

  protected async disconnect(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    this.#backendPid = undefined;
    if (!client) return;
    await client.end().catch(() => {});
  }

  protected override async commit(batch: Batch): Promise<void> {
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
    const t = this.#table;
    const statements: pg.QueryConfig[] = [];
    let upserts: StoredJob[] = [];
    let bytes = 0;
    const flushUpserts = (deletes: Batch['deletes']): void => {
      statements.push({
        name: `gearbox-flush-${t}`,
        text:
          `WITH gone AS (DELETE FROM ${t} WHERE (unique_key, function_name) IN (SELECT * FROM unnest($1::text[], $2::text[]))) ` +
          `INSERT INTO ${t} (unique_key, function_name, priority, data, when_to_run, reducer) ` +
          `SELECT * FROM unnest($3::text[], $4::text[], $5::int[], $6::bytea[], $7::int[], $8::text[]) ` +
          `ON CONFLICT (unique_key, function_name) DO UPDATE SET priority = EXCLUDED.priority, data = EXCLUDED.data, when_to_run = EXCLUDED.when_to_run, reducer = EXCLUDED.reducer`,
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

  protected async *rows(): AsyncIterable<StoredJob> {
    // Its own connection: the replay transaction must not swallow concurrent commits.
    const client = await this.#newClient();
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      await client.query(
        `DECLARE gearbox_replay NO SCROLL CURSOR FOR SELECT unique_key, function_name, priority, data, when_to_run, reducer FROM ${this.#table}`,
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

  protected isConnectionError(err: unknown): boolean {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string') {
      // Class 08: connection exception; 57P0x: the server is shutting down or killed us.
      if (/^08|^57P0[1-3]$/.test(code)) return true;
      if (/^E[A-Z]+$/.test(code)) return /ECONN|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND/.test(code);
    }
    return CONNECTION_MESSAGES.test(err instanceof Error ? err.message : String(err));
  }

  protected override isTooLargeError(err: unknown): boolean {
    const code = (err as { code?: unknown }).code;
    const message = err instanceof Error ? err.message : '';
    return code === '54000' || /invalid memory alloc request size|out of memory/i.test(message);
  }

  protected override refuse(job: StoredJob): StoreError | undefined {
    if (job.data.length <= MAX_DATA_BYTES) return undefined;
    return new StoreError(
      'JOB_TOO_LARGE',
      `${this.description}: job ${job.functionName}/${job.uniqueKey} is ${job.data.length} bytes; this PostgreSQL queue stores at most ${MAX_DATA_BYTES}`,
    );
  }
}
