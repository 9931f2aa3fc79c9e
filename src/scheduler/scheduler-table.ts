import type { TableSpec } from '../sql/dialect.js';
import type { SqlDatabase, SqlExecutor } from '../sql/sql-database.js';

/** The scheduler's table in one database: what the statements of every part of the store need. */
export interface SchedulerTable {
  readonly db: SqlDatabase;
  /** The table's name, checked (it goes into SQL text). */
  readonly name: string;
}

/**
 * The one table: a row per job, schedule (state `recurring`) or cron run. `active_unique` holds
 * the unique id while the job is live and NULL afterwards, so the unique key admits one live job
 * per (function, unique); `(schedule_id, tick)` admits one run per cron tick; `claims` is the
 * fencing token, raised by every claim.
 */
export const schedulerTableSpec: TableSpec = {
  columns: [
    ['id', 'id'],
    ['function_name', { varchar: 512 }, 'NOT NULL'],
    ['unique_key', { varchar: 255 }],
    ['active_unique', { varchar: 255 }],
    ['payload', 'blob', 'NOT NULL'],
    ['priority', 'smallint', 'NOT NULL'],
    ['background', 'smallint', 'NOT NULL'],
    ['run_at', 'bigint', 'NOT NULL'],
    ['cron_expr', { varchar: 255 }],
    ['time_zone', { varchar: 64 }],
    ['schedule_id', 'bigint'],
    ['tick', 'bigint'],
    ['state', { varchar: 10 }, 'NOT NULL'],
    ['attempts', 'int', 'NOT NULL DEFAULT 0'],
    ['max_attempts', 'int', 'NOT NULL'],
    ['backoff_ms', 'bigint', 'NOT NULL'],
    ['claims', 'int', 'NOT NULL DEFAULT 0'],
    ['lease_until', 'bigint'],
    ['lease_owner', { varchar: 128 }],
    ['last_error', 'text'],
    ['created_at', 'bigint', 'NOT NULL'],
    ['updated_at', 'bigint', 'NOT NULL'],
    ['finished_at', 'bigint'],
  ],
  unique: [
    { name: 'active', columns: ['function_name', 'active_unique'] },
    { name: 'tick', columns: ['schedule_id', 'tick'] },
  ],
  indexes: [
    { name: 'due', columns: ['state', 'run_at'] },
    { name: 'lease', columns: ['state', 'lease_until'] },
  ],
};

/** The database's clock, in Unix ms, read through `exec` (the pool or a transaction). */
export async function dbNow(table: SchedulerTable, exec: SqlExecutor = table.db): Promise<number> {
  const rows = await exec.query(`SELECT ${table.db.dialect.nowMs} AS now`);
  return Number(rows[0]?.now);
}
