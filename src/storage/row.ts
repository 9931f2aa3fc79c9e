import type { StoredJob } from './job-store.js';

/** gearmand's queue-table columns, plus our `reducer`, in the order every statement names them. */
export const QUEUE_COLUMNS = [
  'unique_key',
  'function_name',
  'priority',
  'data',
  'when_to_run',
  'reducer',
] as const;

/** The key of gearmand's queue tables. */
export const QUEUE_KEY = ['unique_key', 'function_name'] as const;

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
