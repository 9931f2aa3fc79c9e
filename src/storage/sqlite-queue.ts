import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { readOperations, type PackedOperations } from './sqlite-batch.js';

/** The writer's side of the queue table. */
export interface SqliteQueue {
  /**
   * Applies the batches' operations in order, in one transaction; when that fails, each in a
   * transaction of its own, reporting a failure per operation — numbered across the batches, in
   * order; `undefined` for those that committed.
   */
  applyInOrder(batches: readonly PackedOperations[]): {
    readonly transactions: number;
    readonly failures: readonly unknown[] | undefined;
  };
  close(): void;
}

/** Rows per multi-row INSERT: a quarter less time per row than one statement per row. */
const ROWS_PER_INSERT = 16;
const COLUMNS = 6;

/**
 * gearmand's SQLite queue table, opened for writing: WAL with `synchronous=FULL` (a commit is on
 * disk before it returns — power loss included — and costs one fsync of the log), the table
 * created if missing, `when_to_run` added to old tables as gearmand does, and our nullable
 * `reducer` column added (gearmand names its columns, so it does not notice).
 */
export function openSqliteQueue(file: string, table: string): SqliteQueue {
  mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('busy_timeout = 5000');
    db.exec(
      `CREATE TABLE IF NOT EXISTS ${table} (unique_key TEXT, function_name TEXT, priority INTEGER, data BLOB, when_to_run INTEGER, PRIMARY KEY(unique_key,function_name))`,
    );
    const columns = new Set(
      (db.pragma(`table_info(${table})`) as { name: string }[]).map((c) => c.name.toLowerCase()),
    );
    if (!columns.has('when_to_run')) db.exec(`ALTER TABLE ${table} ADD COLUMN when_to_run INTEGER`);
    if (!columns.has('reducer')) db.exec(`ALTER TABLE ${table} ADD COLUMN reducer TEXT`);
  } catch (err) {
    db.close();
    throw err;
  }
  const columns = '(unique_key, function_name, priority, data, when_to_run, reducer)';
  const insertStatement = (rows: number): Database.Statement =>
    db.prepare(
      `INSERT OR REPLACE INTO ${table} ${columns} VALUES ${Array(rows).fill('(?, ?, ?, ?, ?, ?)').join(', ')}`,
    );
  const insertOne = insertStatement(1);
  const insertMany = insertStatement(ROWS_PER_INSERT);
  const remove = db.prepare(`DELETE FROM ${table} WHERE unique_key = ? AND function_name = ?`);

  // Adds wait here until a full multi-row INSERT, a remove or the end of the batch; order holds.
  const rows: unknown[] = new Array<unknown>(ROWS_PER_INSERT * COLUMNS);
  let waiting = 0;
  const insertWaiting = (): void => {
    if (waiting === ROWS_PER_INSERT) insertMany.run(rows);
    else
      for (let i = 0; i < waiting; i++) insertOne.run(rows.slice(i * COLUMNS, (i + 1) * COLUMNS));
    waiting = 0;
  };
  const apply = (
    isRemove: boolean,
    functionName: string,
    uniqueKey: string,
    priority: number,
    whenToRun: number,
    reducer: string | null,
    data: Buffer,
  ): void => {
    if (isRemove) {
      if (waiting > 0) insertWaiting();
      remove.run(uniqueKey, functionName);
      return;
    }
    const at = waiting * COLUMNS;
    rows[at] = uniqueKey;
    rows[at + 1] = functionName;
    rows[at + 2] = priority;
    rows[at + 3] = data;
    rows[at + 4] = whenToRun;
    rows[at + 5] = reducer;
    if (++waiting === ROWS_PER_INSERT) insertWaiting();
  };
  const applyAll = db.transaction((batches: readonly PackedOperations[]) => {
    waiting = 0;
    for (const batch of batches) readOperations(batch, apply);
    if (waiting > 0) insertWaiting();
  });
  const applyOne = db.transaction((...operation: Parameters<typeof apply>) => {
    waiting = 0;
    apply(...operation);
    if (waiting > 0) insertWaiting();
  });
  return {
    applyInOrder(batches) {
      try {
        applyAll(batches);
        return { transactions: 1, failures: undefined };
      } catch {
        // Rolled back. One bad row (too big, say) must not sink its neighbours: one at a time.
        const failures: unknown[] = [];
        for (const batch of batches) {
          readOperations(batch, (...operation) => {
            try {
              applyOne(...operation);
              failures.push(undefined);
            } catch (err) {
              failures.push(err);
            }
          });
        }
        return { transactions: failures.length, failures };
      }
    },
    close: () => db.close(),
  };
}
