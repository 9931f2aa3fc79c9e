import type { StoredJob } from './job-store.js';

/**
 * Table names go into SQL text (no database lets them be parameters), so only plain identifiers
 * are accepted — gearmand's own defaults (`gearman_queue`, `queue`) are such names.
 */
export function checkTableName(table: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(table)) {
    throw new TypeError(
      `invalid queue table name ${JSON.stringify(table)}: use letters, digits and '_' (at most 63), not starting with a digit`,
    );
  }
  return table;
}

function text(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (value === null || value === undefined) return '';
  return typeof value === 'number' || typeof value === 'bigint'
    ? String(value)
    : JSON.stringify(value);
}

function integer(value: unknown): number {
  const n = typeof value === 'bigint' ? Number(value) : Number(value ?? 0);
  return Number.isFinite(n) ? Math.trunc(n) : 0;
}

/**
 * A row as any backend reads it back, normalised: gearmand wrote some columns as text, some
 * drivers return numbers as strings or bigints, and old tables have no `when_to_run`. A priority
 * outside 0–2 becomes NORMAL, as gearmand would queue it.
 */
export function rowToJob(
  functionName: unknown,
  uniqueKey: unknown,
  priority: unknown,
  data: unknown,
  whenToRun: unknown,
  reducer: unknown,
): StoredJob {
  const p = integer(priority);
  const job: StoredJob = {
    functionName: text(functionName),
    uniqueKey: text(uniqueKey),
    generatedKey: false,
    priority: p === 0 || p === 2 ? p : 1,
    data: Buffer.isBuffer(data) ? data : Buffer.from(text(data), 'utf8'),
    whenToRun: Math.max(0, integer(whenToRun)),
  };
  const r = reducer === null || reducer === undefined ? '' : text(reducer);
  return r === '' ? job : { ...job, reducer: r };
}

/** A row of gearmand's queue table read by column name (PostgreSQL, MySQL). */
export interface QueueTableRow {
  readonly unique_key: unknown;
  readonly function_name: unknown;
  readonly priority: unknown;
  readonly data: unknown;
  readonly when_to_run: unknown;
  readonly reducer?: unknown;
}

/** {@link rowToJob} for a row with gearmand's column names. */
export function tableRowToJob(row: QueueTableRow): StoredJob {
  return rowToJob(
    row.function_name,
    row.unique_key,
    row.priority,
    row.data,
    row.when_to_run,
    row.reducer,
  );
}
