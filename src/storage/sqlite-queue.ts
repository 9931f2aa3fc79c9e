import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

/** A key as it crosses to the SQLite thread. */
export interface SqliteKey {
  readonly uniqueKey: string;
  readonly functionName: string;
}

/** A row as it crosses to the SQLite thread (a Buffer arrives there as a Uint8Array). */
export interface SqliteRowIn extends SqliteKey {
  readonly priority: number;
  readonly data: Uint8Array;
  readonly whenToRun: number;
  readonly reducer: string | null;
}

/**
 * gearmand's SQLite queue table, opened for writing: WAL with `synchronous=FULL` (a commit is on
 * disk before it returns — power loss included — and costs one fsync of the log), the table
 * created if missing, `when_to_run` added to old tables as gearmand does, and our nullable
 * `reducer` column added (gearmand names its columns, so it does not notice). Returns a function
 * that applies deletes then upserts in one transaction.
 */
export function openSqliteQueue(
  file: string,
  table: string,
): { commit(upserts: readonly SqliteRowIn[], deletes: readonly SqliteKey[]): void; close(): void } {
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
  const insert = db.prepare(
    `INSERT OR REPLACE INTO ${table} (unique_key, function_name, priority, data, when_to_run, reducer) VALUES (?, ?, ?, ?, ?, ?)`,
  );
  const remove = db.prepare(`DELETE FROM ${table} WHERE unique_key = ? AND function_name = ?`);
  const transaction = db.transaction(
    (upserts: readonly SqliteRowIn[], deletes: readonly SqliteKey[]) => {
      for (const key of deletes) remove.run(key.uniqueKey, key.functionName);
      for (const row of upserts) {
        const data = Buffer.isBuffer(row.data)
          ? row.data
          : Buffer.from(row.data.buffer, row.data.byteOffset, row.data.byteLength);
        insert.run(row.uniqueKey, row.functionName, row.priority, data, row.whenToRun, row.reducer);
      }
    },
  );
  return {
    commit: (upserts, deletes) => transaction(upserts, deletes),
    close: () => db.close(),
  };
}
