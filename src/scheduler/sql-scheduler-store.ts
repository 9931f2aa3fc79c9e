import { classifySqlError } from '../sql/sql-errors.js';
import type { SqlDatabase, SqlExecutor } from '../sql/sql-database.js';
import { checkTableName } from '../sql/table-name.js';
import { CronExpression } from './cron.js';
import { SCHEDULER_DEFAULTS } from './defaults.js';
import { SchedulerError } from './errors.js';
import type {
  CancelTarget,
  ClaimBatch,
  FailOutcome,
  JobState,
  JobStatus,
  Lease,
  NewScheduledJob,
  ScheduleResult,
  SchedulerStore,
} from './scheduler-store.js';
import { jobId, nextTick, num, numOrNull, text, toStatus } from './scheduler-rows.js';
import { dbNow, schedulerTableSpec, type SchedulerTable } from './scheduler-table.js';
import { claim, reapExpired } from './sql-claims.js';
import { complete, fail, release, renew } from './sql-leases.js';
import { checkRunAt } from './time-range.js';

/**
 * The scheduler store over SQL: one table, shared by every instance. All times are Unix
 * milliseconds from the database's clock. The claim lives in `sql-claims.ts`, the fenced writes
 * to claimed jobs in `sql-leases.ts`; see docs/scheduler.md for the statements' reasoning.
 */
export class SqlSchedulerStore implements SchedulerStore {
  readonly description: string;
  private readonly table: SchedulerTable;
  private readonly t: string;

  constructor(
    private readonly db: SqlDatabase,
    table: string = SCHEDULER_DEFAULTS.table,
  ) {
    this.t = checkTableName(table);
    this.table = { db, name: this.t };
    this.description = `${db.description}/${table}`;
  }

  async open(): Promise<void> {
    for (const statement of this.db.dialect.createTable(this.t, schedulerTableSpec)) {
      try {
        await this.db.execute(statement);
      } catch (err) {
        // Two instances starting together may race on CREATE INDEX IF NOT EXISTS.
        if (classifySqlError(this.db.dialect.engine, err) !== 'unique') throw err;
      }
    }
  }

  now(): Promise<number> {
    return dbNow(this.table);
  }

  async schedule(job: NewScheduledJob): Promise<ScheduleResult> {
    const cron = job.timing.kind === 'cron' ? new CronExpression(job.timing.expression) : undefined;
    return this.db.transaction(async (tx) => {
      const now = await dbNow(this.table, tx);
      let runAt: number;
      let state: JobState = 'pending';
      if (job.timing.kind === 'at') runAt = job.timing.at;
      else if (job.timing.kind === 'after') runAt = now + job.timing.delayMs;
      else {
        const first = cron ? nextTick(cron, now, job.timing.timeZone) : null;
        if (first === null)
          throw new SchedulerError(
            'INVALID_CRON',
            `cron expression '${job.timing.expression}' never fires`,
          );
        runAt = first;
        state = 'recurring';
      }
      // Checked here as well as in the request: `after` is added to the database's clock, and
      // callers of the library may build a job themselves. Throwing rolls the transaction back.
      checkRunAt(runAt, job.timing.kind === 'after' ? `the run time (now + 'after')` : `'at'`);
      const id = await tx.insertIgnore(this.t, {
        function_name: job.functionName,
        unique_key: job.unique ?? null,
        active_unique: job.unique ?? null,
        payload: job.payload,
        priority: job.priority,
        background: job.background ? 1 : 0,
        run_at: runAt,
        cron_expr: job.timing.kind === 'cron' ? job.timing.expression : null,
        time_zone: job.timing.kind === 'cron' ? job.timing.timeZone : null,
        state,
        attempts: 0,
        max_attempts: job.maxAttempts,
        backoff_ms: job.backoffMs,
        claims: 0,
        created_at: now,
        updated_at: now,
      });
      if (id === null) {
        const rows = await tx.query(
          `SELECT id, run_at FROM ${this.t} WHERE function_name = ? AND active_unique = ?`,
          [job.functionName, job.unique ?? null],
        );
        const row = rows[0];
        if (!row)
          throw new SchedulerError(
            'STORE_FAILED',
            'the insert was skipped but no pending job exists',
          );
        return { id: text(row.id), runAt: num(row.run_at), existing: true };
      }
      await this.announce(tx, runAt);
      return { id, runAt, existing: false };
    });
  }

  /** Tells the other instances of a job due at `runAt`, when the transaction commits. */
  private async announce(tx: SqlExecutor, runAt: number): Promise<void> {
    const notifications = this.db.notifications;
    if (notifications) await tx.query(notifications.notifySql(this.t), [String(runAt)]);
  }

  claim(limit: number, leaseMs: number, owner: string): Promise<ClaimBatch> {
    return claim(this.table, limit, leaseMs, owner);
  }

  renew(leases: readonly Lease[], leaseMs: number): Promise<number> {
    return renew(this.table, leases, leaseMs);
  }

  complete(leases: readonly Lease[]): Promise<Set<string>> {
    return complete(this.table, leases);
  }

  fail(lease: Lease, error: string, retryDelayMs: number): Promise<FailOutcome> {
    return fail(this.table, lease, error, retryDelayMs);
  }

  release(lease: Lease, delayMs: number, error: string): Promise<boolean> {
    return release(this.table, lease, delayMs, error);
  }

  reap(): Promise<number> {
    return this.db.transaction(async (tx) =>
      reapExpired(this.table, tx, await dbNow(this.table, tx)),
    );
  }

  async nextWakeAt(): Promise<number | null> {
    const rows = await this.db.query(
      `SELECT
         (SELECT MIN(run_at) FROM ${this.t} WHERE state = 'pending') AS pending,
         (SELECT MIN(run_at) FROM ${this.t} WHERE state = 'recurring') AS recurring,
         (SELECT MIN(lease_until) FROM ${this.t} WHERE state = 'running') AS lease`,
    );
    const row = rows[0] ?? {};
    const times = [row.pending, row.recurring, row.lease]
      .map(numOrNull)
      .filter((t): t is number => t !== null);
    return times.length === 0 ? null : Math.min(...times);
  }

  async cancel(target: CancelTarget): Promise<boolean> {
    const byId = 'id' in target ? jobId(target.id) : undefined;
    const { nowMs } = this.db.dialect;
    return this.db.transaction(async (tx) => {
      const rows =
        'id' in target
          ? await tx.query(
              `SELECT id FROM ${this.t} WHERE id = ? AND state IN ('pending', 'running', 'recurring')`,
              [byId],
            )
          : await tx.query(
              `SELECT id FROM ${this.t} WHERE function_name = ? AND active_unique = ?`,
              [target.functionName, target.unique],
            );
      const row = rows[0];
      if (!row) return false;
      const id = num(row.id);
      await tx.execute(
        `UPDATE ${this.t} SET state = 'cancelled', active_unique = NULL, lease_until = NULL,
           finished_at = ${nowMs}, updated_at = ${nowMs}
         WHERE (id = ? AND state IN ('pending', 'running', 'recurring'))
            OR (schedule_id = ? AND state = 'pending')`,
        [id, id],
      );
      return true;
    });
  }

  async status(id: string): Promise<JobStatus | null> {
    const rows = await this.db.query(`SELECT * FROM ${this.t} WHERE id = ?`, [jobId(id)]);
    return rows[0] ? toStatus(rows[0]) : null;
  }

  async listDead(options: { functionName?: string; limit: number }): Promise<JobStatus[]> {
    const limit = Math.max(1, Math.min(1000, Math.floor(options.limit)));
    const rows =
      options.functionName === undefined
        ? await this.db.query(
            `SELECT * FROM ${this.t} WHERE state = 'dead' ORDER BY finished_at DESC, id DESC LIMIT ?`,
            [limit],
          )
        : await this.db.query(
            `SELECT * FROM ${this.t} WHERE state = 'dead' AND function_name = ?
             ORDER BY finished_at DESC, id DESC LIMIT ?`,
            [options.functionName, limit],
          );
    return rows.map(toStatus);
  }

  async rerun(id: string): Promise<ScheduleResult> {
    const key = jobId(id);
    try {
      return await this.db.transaction(async (tx) => {
        const now = await dbNow(this.table, tx);
        const changed = await tx.execute(
          `UPDATE ${this.t} SET state = 'pending', attempts = 0, active_unique = unique_key,
             run_at = ?, finished_at = NULL, updated_at = ?
           WHERE id = ? AND state = 'dead'`,
          [now, now, key],
        );
        if (changed === 0) throw new SchedulerError('NOT_FOUND', `no dead job with id ${id}`);
        await this.announce(tx, now);
        return { id, runAt: now, existing: false };
      });
    } catch (err) {
      if (classifySqlError(this.db.dialect.engine, err) === 'unique')
        throw new SchedulerError('CONFLICT', `job ${id}: another job with its unique is pending`, {
          cause: err,
        });
      throw err;
    }
  }

  purge(olderThanMs: number): Promise<number> {
    return this.db.execute(
      `DELETE FROM ${this.t} WHERE state IN ('done', 'cancelled') AND finished_at < ${this.db.dialect.nowMs} - ?`,
      [olderThanMs],
    );
  }

  async subscribe(listener: (runAt: number) => void): Promise<(() => Promise<void>) | null> {
    const notifications = this.db.notifications;
    if (!notifications) return null;
    return notifications.listen(this.t, (payload) => {
      const runAt = Number(payload);
      if (Number.isFinite(runAt)) listener(runAt);
    });
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
