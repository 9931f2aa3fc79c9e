import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { errorMessage } from '../protocol/errors.js';
import { placeholderList, sqliteDialect } from '../sql/dialect.js';
import { QUEUE_COLUMNS, QUEUE_KEY } from './row.js';
import { readOperations, type PackedOperations } from './sqlite-batch.js';
import { SqliteSpace, WAL_SIZE_LIMIT } from './sqlite-space.js';

/** A row SQLite refused: the operation's index in its batch, and the error. */
export type RowFailure = [index: number, error: unknown];

/**
 * The writer's side of the queue table: batches are applied inside one open transaction, which
 * `commit` ends.
 */
export interface SqliteQueue {
  /**
   * Applies the batch's operations in order inside the open transaction (beginning one when
   * none is open). A row SQLite refuses (a statement-level error, which leaves the transaction
   * open) is reported and its neighbours are kept. Throws when the transaction itself was lost —
   * SQLite rolled it back, and everything applied since `commit` with it.
   */
  apply(batch: PackedOperations): RowFailure[];
  /** Commits the open transaction, if any; throws after rolling back when that fails. */
  commit(): void;
  /** Rolls back the open transaction, if any. */
  rollback(): void;
  /** Whether rows were deleted since the last `reclaim`, so that free space may be due back. */
  readonly reclaimDue: boolean;
  /**
   * One bounded step of giving free space back to the file system (see SqliteSpace); does
   * nothing inside a transaction. Returns true when another step is due. Throws what SQLite
   * throws; the queue itself is unaffected.
   */
  reclaim(): boolean;
  close(): void;
}

/** Rows per multi-row INSERT: a quarter less time per row than one statement per row. */
const ROWS_PER_INSERT = 16;
const COLUMNS = QUEUE_COLUMNS.length;
/** Steps the open runs at most to give back what an earlier run left free. */
const OPEN_RECLAIM_STEPS = 10_000;

/**
 * gearmand's SQLite queue table, opened for writing: WAL with `synchronous=FULL` (a commit is on
 * disk before it returns — power loss included — and costs one fsync of the log), the table
 * created if missing, `when_to_run` added to old tables as gearmand does, and our nullable
 * `reducer` column added (gearmand names its columns, so it does not notice). A new file gets
 * `auto_vacuum=INCREMENTAL`, and free space an earlier run left is given back before the queue
 * is used (SqliteSpace).
 */
export function openSqliteQueue(
  file: string,
  table: string,
  warn: (message: string) => void,
): SqliteQueue {
  mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file);
  let space: SqliteSpace;
  try {
    // Before anything writes page 1 (journal_mode=WAL does): later it takes a VACUUM to change.
    db.pragma('auto_vacuum = INCREMENTAL');
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('busy_timeout = 5000');
    db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT}`);
    db.exec(
      `CREATE TABLE IF NOT EXISTS ${table} (unique_key TEXT, function_name TEXT, priority INTEGER, data BLOB, when_to_run INTEGER, PRIMARY KEY(unique_key,function_name))`,
    );
    const columns = new Set(
      (db.pragma(`table_info(${table})`) as { name: string }[]).map((c) => c.name.toLowerCase()),
    );
    if (!columns.has('when_to_run')) db.exec(`ALTER TABLE ${table} ADD COLUMN when_to_run INTEGER`);
    if (!columns.has('reducer')) db.exec(`ALTER TABLE ${table} ADD COLUMN reducer TEXT`);
    space = new SqliteSpace(db, file, table);
  } catch (err) {
    db.close();
    throw err;
  }
  try {
    for (let i = 0; i < OPEN_RECLAIM_STEPS && space.step(); i++);
  } catch (err) {
    // Space is not worth failing the open for; the next drain tries again.
    warn(`${file}: cannot give free space back at open: ${errorMessage(err)}`);
  }
  const row = `(${placeholderList(COLUMNS)})`;
  const insertStatement = (rows: number): Database.Statement =>
    db.prepare(
      sqliteDialect.upsert(
        table,
        QUEUE_COLUMNS,
        QUEUE_KEY,
        `VALUES ${Array(rows).fill(row).join(', ')}`,
      ),
    );
  const insertOne = insertStatement(1);
  const insertMany = insertStatement(ROWS_PER_INSERT);
  const remove = db.prepare(`DELETE FROM ${table} WHERE unique_key = ? AND function_name = ?`);

  const begin = db.prepare('BEGIN');
  const commit = db.prepare('COMMIT');
  const rollback = db.prepare('ROLLBACK');

  /** Runs a statement; a refused row is reported unless the transaction went with it. */
  const attempt = (run: () => void, index: number, failures: RowFailure[]): void => {
    try {
      run();
    } catch (err) {
      if (!db.inTransaction) throw err;
      failures.push([index, err]);
    }
  };

  // Adds wait here until a full multi-row INSERT, a remove or the end of the batch; order holds.
  const rows: unknown[] = new Array<unknown>(ROWS_PER_INSERT * COLUMNS);
  const rowIndexes: number[] = new Array<number>(ROWS_PER_INSERT);
  let waiting = 0;
  let removed = false;
  const insertWaiting = (failures: RowFailure[]): void => {
    const count = waiting;
    waiting = 0;
    try {
      if (count === ROWS_PER_INSERT) {
        try {
          insertMany.run(rows);
          return;
        } catch (err) {
          // The statement was undone as a whole; find the row at fault one by one below.
          if (!db.inTransaction) throw err;
        }
      }
      for (let i = 0; i < count; i++) {
        const row = rows.slice(i * COLUMNS, (i + 1) * COLUMNS);
        attempt(() => insertOne.run(row), rowIndexes[i] as number, failures);
      }
    } finally {
      // SQLite has its own copy now: a data view left here would keep the whole batch alive.
      rows.fill(undefined, 0, count * COLUMNS);
    }
  };

  return {
    apply(batch) {
      if (!db.inTransaction) begin.run();
      const failures: RowFailure[] = [];
      let index = 0;
      waiting = 0;
      readOperations(
        batch,
        (isRemove, functionName, uniqueKey, priority, whenToRun, reducer, data) => {
          if (isRemove) {
            removed = true;
            if (waiting > 0) insertWaiting(failures);
            attempt(() => remove.run(uniqueKey, functionName), index++, failures);
            return;
          }
          const at = waiting * COLUMNS;
          rows[at] = uniqueKey;
          rows[at + 1] = functionName;
          rows[at + 2] = priority;
          rows[at + 3] = data;
          rows[at + 4] = whenToRun;
          rows[at + 5] = reducer;
          rowIndexes[waiting] = index++;
          if (++waiting === ROWS_PER_INSERT) insertWaiting(failures);
        },
      );
      if (waiting > 0) insertWaiting(failures);
      return failures;
    },
    commit() {
      if (!db.inTransaction) return;
      try {
        commit.run();
      } catch (err) {
        if (db.inTransaction) rollback.run();
        throw err;
      }
    },
    rollback() {
      if (db.inTransaction) rollback.run();
    },
    get reclaimDue() {
      return removed;
    },
    reclaim() {
      if (db.inTransaction) return false;
      removed = false;
      return space.step();
    },
    close: () => db.close(),
  };
}
