import { createConnection } from 'mysql2';
import mysql from 'mysql2/promise';
import { mysqlDialect, placeholderList } from '../sql/dialect.js';
import {
  describeMysql,
  mysqlConnectionOptions,
  type MysqlConnection,
} from '../sql/mysql-connection.js';
import { classifySqlError, type SqlErrorKind } from '../sql/sql-errors.js';
import { checkTableName } from '../sql/table-name.js';
import { BatchingStore, type BatchingStoreOptions } from './batching-store.js';
import type { StoredJob, StoredJobKey } from './job-store.js';
import { QUEUE_COLUMNS, QUEUE_KEY, tableRowToJob, type QueueTableRow } from './row.js';
import type { Batch, CoalescingBackend } from './store-backend.js';
import { silentLogger, StoreError, type StoreLogger } from './store-error.js';

/** Where the MySQL / MariaDB queue lives (gearmand's `--mysql-*` flags). */
export interface MysqlStoreOptions extends BatchingStoreOptions, MysqlConnection {
  /** gearmand's `--mysql-table`, default `gearman_queue`. */
  readonly table?: string;
}

// Rows with more data than this go alone through a prepared statement (binary, not hex-escaped).
const LARGE_ROW_BYTES = 256 * 1024;
// Room for the statement text and the row's other columns inside max_allowed_packet.
const PACKET_OVERHEAD = 64 * 1024;
const DELETE_CHUNK = 500;

type Statement = (c: mysql.Connection) => Promise<unknown>;

/**
 * gearmand's MySQL queue: `unique_key VARCHAR(64), function_name VARCHAR(255), priority INT,
 * data LONGBLOB, when_to_run INT, UNIQUE KEY (unique_key, function_name)`, plus our nullable
 * `reducer` column. Tables we create compare keys byte for byte (a binary, no-pad collation), so
 * `A` and `a` are different jobs as in every other backend; a taken-over table keeps its own
 * collation.
 *
 * Small rows go in multi-row INSERT … ON DUPLICATE KEY UPDATE statements sized to stay under the
 * server's `max_allowed_packet`; a job that could never fit is refused with JOB_TOO_LARGE up
 * front — gearmand instead loses the connection and retries forever (issue #126).
 */
export class MysqlBackend implements CoalescingBackend {
  readonly order = 'coalesced';
  readonly description: string;
  readonly #options: mysql.ConnectionOptions;
  readonly #table: string;
  readonly #log: StoreLogger;
  #connection: mysql.Connection | undefined;
  #connectionId: number | undefined;
  #maxPacket = 16 * 1024 * 1024;

  constructor(options: MysqlStoreOptions) {
    this.#options = mysqlConnectionOptions(options);
    this.#table = checkTableName(options.table ?? 'gearman_queue');
    this.#log = options.log ?? silentLogger;
    this.description = `${describeMysql(options)} (table ${this.#table})`;
  }

  /** The server's id of the current connection (what `KILL` takes). */
  get connectionId(): number | undefined {
    return this.#connectionId;
  }

  /** The server's `max_allowed_packet`, read at connect. */
  get maxAllowedPacket(): number {
    return this.#maxPacket;
  }

  async connect(lost: (err: unknown) => void): Promise<void> {
    const connection = await mysql.createConnection(this.#options);
    // Without a listener an idle connection's error would crash the process.
    connection.on('error', (err: unknown) => {
      if (connection === this.#connection) lost(err);
    });
    this.#connection = connection;
    const t = this.#table;
    // Keys compare byte for byte and without padding ('a' ≠ 'a '): MariaDB's utf8mb4_nopad_bin,
    // MySQL 8's utf8mb4_0900_bin, else utf8mb4_bin (which still pads).
    const [collations] = await connection.query<mysql.RowDataPacket[]>(
      "SHOW COLLATION WHERE Collation IN ('utf8mb4_nopad_bin', 'utf8mb4_0900_bin')",
    );
    const collation = String(collations[0]?.Collation ?? 'utf8mb4_bin');
    const text = `CHARACTER SET utf8mb4 COLLATE ${collation}`;
    await connection.query(
      `CREATE TABLE IF NOT EXISTS ${t} (unique_key VARCHAR(64) ${text}, function_name VARCHAR(255) ${text}, priority INT, data LONGBLOB, when_to_run INT, reducer TEXT, UNIQUE KEY (unique_key, function_name))`,
    );
    const [columns] = await connection.query<mysql.RowDataPacket[]>(
      'SELECT COLUMN_NAME AS name FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?',
      [t],
    );
    const names = new Set(columns.map((c) => String(c.name).toLowerCase()));
    if (!names.has('when_to_run'))
      await connection.query(`ALTER TABLE ${t} ADD COLUMN when_to_run INT`);
    if (!names.has('reducer')) await connection.query(`ALTER TABLE ${t} ADD COLUMN reducer TEXT`);
    const [info] = await connection.query<mysql.RowDataPacket[]>(
      'SELECT @@max_allowed_packet AS maxPacket, CONNECTION_ID() AS id',
    );
    this.#maxPacket = Number(info[0]?.maxPacket ?? this.#maxPacket);
    this.#connectionId = Number(info[0]?.id);
    this.#log(
      'DEBUG',
      `${this.description}: connected (connection id ${this.#connectionId}, max_allowed_packet ${this.#maxPacket})`,
    );
  }

  async disconnect(): Promise<void> {
    const connection = this.#connection;
    this.#connection = undefined;
    this.#connectionId = undefined;
    if (!connection) return;
    await connection.end().catch(() => connection.destroy());
  }

  async commit(batch: Batch): Promise<void> {
    const connection = this.#connection;
    if (!connection)
      throw Object.assign(new Error('not connected'), { code: 'PROTOCOL_CONNECTION_LOST' });
    const statements = this.#statements(batch);
    if (statements.length === 1 && statements[0]) {
      // One statement is its own transaction under autocommit.
      await statements[0](connection);
      return;
    }
    await connection.query('START TRANSACTION');
    try {
      for (const statement of statements) await statement(connection);
      await connection.query('COMMIT');
    } catch (err) {
      await connection.query('ROLLBACK').catch(() => {});
      throw err;
    }
  }

  #statements(batch: Batch): Statement[] {
    const t = this.#table;
    const statements: Statement[] = [];
    for (let i = 0; i < batch.deletes.length; i += DELETE_CHUNK) {
      const keys: StoredJobKey[] = batch.deletes.slice(i, i + DELETE_CHUNK);
      const where = keys.map(() => '(unique_key = ? AND function_name = ?)').join(' OR ');
      const values = keys.flatMap((k) => [k.uniqueKey, k.functionName]);
      statements.push((c) => c.query(`DELETE FROM ${t} WHERE ${where}`, values));
    }
    const row = `(${placeholderList(QUEUE_COLUMNS.length)})`;
    const upsert = (rows: number): string =>
      mysqlDialect.upsert(
        t,
        QUEUE_COLUMNS,
        QUEUE_KEY,
        `VALUES ${Array(rows).fill(row).join(', ')}`,
      );
    const budget = Math.max(1024 * 1024, this.#maxPacket - PACKET_OVERHEAD);
    let rows: StoredJob[] = [];
    let bytes = 0;
    const pushRows = (): void => {
      if (rows.length === 0) return;
      const chunk = rows;
      const values = chunk.flatMap(rowValues);
      statements.push((c) => c.query(upsert(chunk.length), values));
      rows = [];
      bytes = 0;
    };
    for (const job of batch.upserts) {
      if (job.data.length > LARGE_ROW_BYTES) {
        statements.push((c) => c.execute(upsert(1), rowValues(job)));
        continue;
      }
      // Text protocol: a buffer travels as hex, strings may be escaped to twice their size.
      const size = 2 * job.data.length + 2 * (job.uniqueKey.length + job.functionName.length) + 64;
      if (bytes + size > budget) pushRows();
      rows.push(job);
      bytes += size;
    }
    pushRows();
    return statements;
  }

  async *rows(): AsyncIterable<StoredJob> {
    // Its own connection, streaming, so a million rows neither sit in memory nor block commits.
    const connection = createConnection(this.#options);
    // Errors surface through the stream; this keeps an 'error' event from being unhandled.
    connection.on('error', () => {});
    try {
      const stream = connection
        .query(`SELECT ${QUEUE_COLUMNS.join(', ')} FROM ${this.#table}`)
        .stream({ highWaterMark: 1000 });
      for await (const row of stream as AsyncIterable<QueueTableRow>) {
        yield tableRowToJob(row);
      }
    } finally {
      connection.destroy();
    }
  }

  classify(err: unknown): SqlErrorKind {
    return classifySqlError('mysql', err);
  }

  refuse(job: StoredJob): StoreError | undefined {
    const limit = this.#maxPacket - PACKET_OVERHEAD;
    if (job.data.length <= limit) return undefined;
    return new StoreError(
      'JOB_TOO_LARGE',
      `${this.description}: job ${job.functionName}/${job.uniqueKey} is ${job.data.length} bytes; the server's max_allowed_packet (${this.#maxPacket}) allows at most ${limit}`,
    );
  }
}

/** gearmand's column order, for a row's statement parameters. */
function rowValues(job: StoredJob): (string | number | Buffer | null)[] {
  return [
    job.uniqueKey,
    job.functionName,
    job.priority,
    job.data,
    job.whenToRun,
    job.reducer ?? null,
  ];
}

/** The MySQL / MariaDB queue: {@link BatchingStore} over a {@link MysqlBackend}. */
export class MysqlStore extends BatchingStore<MysqlBackend> {
  constructor(options: MysqlStoreOptions) {
    super(new MysqlBackend(options), options);
  }
}
