import type { Priority } from '../protocol/packet-types.js';
import { CronExpression } from './cron.js';
import { SCHEDULER_DEFAULTS } from './defaults.js';
import { SchedulerError } from './errors.js';
import { checkTableName, type SqlBackend, type SqlExecutor, type SqlRow } from './sql-backend.js';
import { checkRunAt, LATEST_RUN_AT_MS } from './time-range.js';
import type {
  CancelTarget,
  ClaimBatch,
  ClaimedJob,
  FailOutcome,
  JobState,
  JobStatus,
  Lease,
  NewScheduledJob,
  ScheduleResult,
  SchedulerStore,
} from './scheduler-store.js';

/** A column value as text; drivers give strings, numbers or bigints for our columns. */
function text(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  return '';
}
const num = (v: unknown): number => Number(v);
/** A boolean column: PostgreSQL gives true/false, MySQL and SQLite 1/0. */
const truthy = (v: unknown): boolean => v === true || Number(v) === 1;
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const strOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : text(v));

function toBuffer(v: unknown): Buffer {
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof Uint8Array) return Buffer.from(v);
  return Buffer.from(text(v));
}

function toStatus(row: SqlRow): JobStatus {
  return {
    id: text(row.id),
    functionName: text(row.function_name),
    unique: strOrNull(row.unique_key),
    state: text(row.state) as JobState,
    attempts: num(row.attempts),
    maxAttempts: num(row.max_attempts),
    runAt: num(row.run_at),
    lastError: strOrNull(row.last_error),
    cron: strOrNull(row.cron_expr),
    timeZone: strOrNull(row.time_zone),
    scheduleId: strOrNull(row.schedule_id),
    createdAt: num(row.created_at),
    updatedAt: num(row.updated_at),
  };
}

/** A claimed row as the scheduler sees it; `token` is the claim's value of `claims`. */
function toClaimedJob(r: SqlRow, token: number): ClaimedJob {
  return {
    id: text(r.id),
    token,
    functionName: text(r.function_name),
    payload: toBuffer(r.payload),
    priority: num(r.priority) as Priority,
    background: num(r.background) === 1,
    runAt: num(r.run_at),
    attempts: num(r.attempts),
    maxAttempts: num(r.max_attempts),
    backoffMs: num(r.backoff_ms),
  };
}

/** Keeps error texts a sane size in the table. */
function clip(text: string): string {
  return text.length > 2000 ? `${text.slice(0, 2000)}…` : text;
}

/**
 * A job id as the tables key it: a positive integer, given as a string. Ids travel to the
 * database as numbers, so one past 2^53 would be rounded to another job's id.
 */
function checkId(id: string): string {
  if (!/^\d{1,16}$/.test(id) || !Number.isSafeInteger(Number(id)))
    throw new SchedulerError('INVALID_REQUEST', `invalid job id '${id}'`);
  return id;
}

/** A cron schedule's next tick after `after`, or null when there is none in the accepted range. */
function nextTick(cron: CronExpression, after: number, timeZone: string): number | null {
  const next = cron.next(after, timeZone);
  return next !== null && next <= LATEST_RUN_AT_MS ? next : null;
}

/**
 * The scheduler store over SQL: one table, shared by every instance. All times are Unix
 * milliseconds from the database's clock. See docs/scheduler.md for the statements' reasoning.
 */
export class SqlSchedulerStore implements SchedulerStore {
  readonly description: string;
  private readonly t: string;

  constructor(
    private readonly db: SqlBackend,
    table: string = SCHEDULER_DEFAULTS.table,
  ) {
    this.t = checkTableName(table);
    this.description = `${db.description}/${table}`;
  }

  async open(): Promise<void> {
    for (const statement of this.db.dialect.schema(this.t)) {
      try {
        await this.db.execute(statement);
      } catch (err) {
        // Two instances starting together may race on CREATE INDEX IF NOT EXISTS.
        if (!this.db.isUniqueViolation(err)) throw err;
      }
    }
  }

  private get nowSql(): string {
    return this.db.dialect.nowMs;
  }

  async now(): Promise<number> {
    const rows = await this.db.query(`SELECT ${this.nowSql} AS now`);
    return num(rows[0]?.now);
  }

  private static async nowIn(tx: SqlExecutor, nowSql: string): Promise<number> {
    const rows = await tx.query(`SELECT ${nowSql} AS now`);
    return num(rows[0]?.now);
  }

  async schedule(job: NewScheduledJob): Promise<ScheduleResult> {
    const cron = job.timing.kind === 'cron' ? new CronExpression(job.timing.expression) : undefined;
    return this.db.transaction(async (tx) => {
      const now = await SqlSchedulerStore.nowIn(tx, this.nowSql);
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
      const id = await tx.insertIgnore(
        `INSERT_IGNORE INTO ${this.t} (function_name, unique_key, active_unique, payload, priority,
           background, run_at, cron_expr, time_zone, state, attempts, max_attempts, backoff_ms,
           claims, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, 0, ?, ?)`,
        [
          job.functionName,
          job.unique ?? null,
          job.unique ?? null,
          job.payload,
          job.priority,
          job.background ? 1 : 0,
          runAt,
          job.timing.kind === 'cron' ? job.timing.expression : null,
          job.timing.kind === 'cron' ? job.timing.timeZone : null,
          state,
          job.maxAttempts,
          job.backoffMs,
          now,
          now,
        ],
      );
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
      if (this.db.notifySql) await tx.query(this.db.notifySql(this.t), [String(runAt)]);
      return { id, runAt, existing: false };
    });
  }

  async claim(limit: number, leaseMs: number, owner: string): Promise<ClaimBatch> {
    if (this.db.dialect.name !== 'postgres') return this.claimInTransaction(limit, leaseMs, owner);
    const first = await this.claimInOneStatement(limit, leaseMs, owner);
    if (!first.housekeeping) return first.batch;
    // Rarely: expired leases to reap or cron ticks to fire. The transaction does both and claims
    // what they made due.
    const rest = await this.claimInTransaction(limit - first.batch.jobs.length, leaseMs, owner);
    const jobs = [...first.batch.jobs, ...rest.jobs].sort((a, b) => a.runAt - b.runAt);
    return { dbNow: rest.dbNow, jobs };
  }

  /**
   * PostgreSQL: the claim as one autocommitted statement, which also tells whether there are
   * expired leases or cron ticks (then `claimInTransaction` follows). Due rows stay locked only
   * while the server runs it, never across a round trip to this process. With the claim
   * transaction's five round trips, an instance stalled between two of them (starved of CPU,
   * or its database backend was) kept the due rows it had locked, the other instances skipped
   * them, and those jobs waited for it: the isolated 100–800 ms late jobs of the benchmark's tail.
   */
  private async claimInOneStatement(
    limit: number,
    leaseMs: number,
    owner: string,
  ): Promise<{ batch: ClaimBatch; housekeeping: boolean }> {
    const rows = await this.db.query(
      `WITH clock AS MATERIALIZED (SELECT ${this.nowSql} AS now),
       due AS (
         SELECT id FROM ${this.t} WHERE state = 'pending' AND run_at <= (SELECT now FROM clock)
         ORDER BY run_at LIMIT ? FOR UPDATE SKIP LOCKED),
       claimed AS (
         UPDATE ${this.t} AS j SET state = 'running', claims = j.claims + 1,
           lease_until = (SELECT now FROM clock) + ?, lease_owner = ?,
           updated_at = (SELECT now FROM clock)
         FROM due WHERE j.id = due.id
         RETURNING j.id, j.function_name, j.payload, j.priority, j.background, j.run_at,
           j.attempts, j.max_attempts, j.backoff_ms, j.claims)
       SELECT k.now, k.expired, k.ticks, c.*
       FROM (SELECT now,
               EXISTS (SELECT 1 FROM ${this.t} WHERE state = 'running' AND lease_until <= now) AS expired,
               EXISTS (SELECT 1 FROM ${this.t} WHERE state = 'recurring' AND run_at <= now) AS ticks
             FROM clock) k
       LEFT JOIN claimed c ON true`,
      [limit, leaseMs, owner],
    );
    const head = rows[0];
    const jobs = rows
      .filter((r) => r.id !== null && r.id !== undefined)
      // RETURNING gives the new token, and the rows in no particular order.
      .map((r) => toClaimedJob(r, num(r.claims)))
      .sort((a, b) => a.runAt - b.runAt);
    return {
      batch: { dbNow: num(head?.now), jobs },
      housekeeping: truthy(head?.expired) || truthy(head?.ticks),
    };
  }

  /**
   * The claim as one short transaction (MySQL, SQLite, and PostgreSQL's housekeeping): the
   * clock and the housekeeping probe, reaping, cron ticks, then the due rows locked with SKIP
   * LOCKED and marked running by an UPDATE sent with the COMMIT.
   */
  private claimInTransaction(limit: number, leaseMs: number, owner: string): Promise<ClaimBatch> {
    const lock = this.db.dialect.lockRows;
    return this.db.transaction(async (tx) => {
      // One round trip for the clock and for whether there is reaping or a cron tick to do,
      // which there rarely is.
      const [probe] = await tx.query(
        `SELECT ${this.nowSql} AS now,
           EXISTS (SELECT 1 FROM ${this.t} WHERE state = 'running' AND lease_until <= ${this.nowSql}) AS expired,
           EXISTS (SELECT 1 FROM ${this.t} WHERE state = 'recurring' AND run_at <= ${this.nowSql}) AS ticks`,
      );
      const now = num(probe?.now);
      // Expired leases go back to the queue first, so a job whose instance died is claimed again
      // by whichever instance comes next.
      if (truthy(probe?.expired)) await this.reapIn(tx, now);
      // Cron ticks next: each due schedule inserts its run for this tick (at most one per
      // (schedule, tick) by the unique key) and moves on to its next tick, in the same commit.
      const schedules = truthy(probe?.ticks)
        ? await tx.query(
            `SELECT id, function_name, payload, priority, background, run_at, cron_expr, time_zone,
               max_attempts, backoff_ms
             FROM ${this.t} WHERE state = 'recurring' AND run_at <= ?
             ORDER BY run_at LIMIT ? ${lock}`,
            // At least one: a claim with no room left still moves the schedules on.
            [now, Math.max(1, limit)],
          )
        : [];
      for (const s of schedules) {
        const tick = num(s.run_at);
        await tx.insertIgnore(
          `INSERT_IGNORE INTO ${this.t} (function_name, payload, priority, background, run_at,
             schedule_id, tick, state, attempts, max_attempts, backoff_ms, claims, created_at,
             updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, 0, ?, ?)`,
          [
            s.function_name,
            toBuffer(s.payload),
            num(s.priority),
            num(s.background),
            tick,
            num(s.id),
            tick,
            num(s.max_attempts),
            num(s.backoff_ms),
            now,
            now,
          ],
        );
        // Ticks missed while no instance ran are not replayed: one run, then the next future tick.
        const next = nextTick(
          new CronExpression(text(s.cron_expr)),
          Math.max(now, tick),
          strOrNull(s.time_zone) ?? 'UTC',
        );
        await tx.execute(
          next === null
            ? `UPDATE ${this.t} SET state = 'done', active_unique = NULL, finished_at = ?, updated_at = ? WHERE id = ?`
            : `UPDATE ${this.t} SET run_at = ?, updated_at = ? WHERE id = ?`,
          [next ?? now, now, num(s.id)],
        );
      }
      const rows =
        limit > 0
          ? await tx.query(
              `SELECT id, function_name, payload, priority, background, run_at, attempts,
                 max_attempts, backoff_ms, claims
               FROM ${this.t} WHERE state = 'pending' AND run_at <= ?
               ORDER BY run_at LIMIT ? ${lock}`,
              [now, limit],
            )
          : [];
      if (rows.length > 0) {
        const ids = rows.map((r) => num(r.id));
        await tx.executeAndCommit(
          `UPDATE ${this.t} SET state = 'running', claims = claims + 1, lease_until = ?,
             lease_owner = ?, updated_at = ?
           WHERE id IN (${ids.map(() => '?').join(', ')})`,
          [now + leaseMs, owner, now, ...ids],
        );
      }
      const jobs = rows.map((r) => toClaimedJob(r, num(r.claims) + 1));
      return { dbNow: now, jobs };
    });
  }

  private leaseMatch(leases: readonly Lease[]): { sql: string; params: number[] } {
    // Leases grouped by token: `claims = ? AND id IN (…)` per token, of which a batch has one or
    // a few. An `(id = ? AND claims = ?) OR …` term per lease cost every row the whole list (k² for
    // a batch of k) and three parameters per lease to format and parse. Every form keeps an
    // `id IN` list, so every database goes by the primary key (a scan would lock rows other
    // transactions are claiming and invite deadlocks on InnoDB).
    const byToken = new Map<number, number[]>();
    for (const l of leases) {
      const ids = byToken.get(l.token) ?? [];
      ids.push(num(checkId(l.id)));
      byToken.set(l.token, ids);
    }
    const list = (ids: number[]): string => ids.map(() => '?').join(', ');
    const groups = [...byToken.entries()];
    const [only] = groups;
    if (groups.length === 1 && only)
      return { sql: `claims = ? AND id IN (${list(only[1])})`, params: [only[0], ...only[1]] };
    const all = groups.flatMap(([, ids]) => ids);
    return {
      sql: `id IN (${list(all)}) AND (${groups.map(([, ids]) => `(claims = ? AND id IN (${list(ids)}))`).join(' OR ')})`,
      params: [...all, ...groups.flatMap(([token, ids]) => [token, ...ids])],
    };
  }

  async renew(leases: readonly Lease[], leaseMs: number): Promise<number> {
    if (leases.length === 0) return 0;
    const match = this.leaseMatch(leases);
    return this.db.execute(
      `UPDATE ${this.t} SET lease_until = ${this.nowSql} + ?
       WHERE state = 'running' AND (${match.sql})`,
      [leaseMs, ...match.params],
    );
  }

  async complete(leases: readonly Lease[]): Promise<Set<string>> {
    if (leases.length === 0) return new Set();
    const match = this.leaseMatch(leases);
    const done = `UPDATE ${this.t} SET state = 'done', active_unique = NULL, lease_until = NULL,
         finished_at = ${this.nowSql}, updated_at = ${this.nowSql}`;
    // PostgreSQL: one autocommitted statement that says which rows it changed (a batch of
    // completions was a transaction of four round trips).
    if (this.db.dialect.name === 'postgres') {
      const rows = await this.db.query(
        `${done} WHERE state = 'running' AND (${match.sql}) RETURNING id`,
        match.params,
      );
      return new Set(rows.map((r) => text(r.id)));
    }
    // Elsewhere no UPDATE … RETURNING: lock the rows our tokens still hold, then mark them done
    // by primary key; on MySQL the UPDATE travels with the COMMIT (two round trips).
    return this.db.transaction(async (tx) => {
      const rows = await tx.query(
        `SELECT id FROM ${this.t} WHERE state = 'running' AND (${match.sql}) ${this.db.dialect.lockRows.replace(' SKIP LOCKED', '')}`,
        match.params,
      );
      const ids = rows.map((r) => num(r.id));
      if (ids.length > 0)
        await tx.executeAndCommit(`${done} WHERE id IN (${ids.map(() => '?').join(', ')})`, ids);
      return new Set(ids.map(String));
    });
  }

  async fail(lease: Lease, error: string, retryDelayMs: number): Promise<FailOutcome> {
    return this.db.transaction(async (tx) => {
      const rows = await tx.query(
        `SELECT attempts, max_attempts FROM ${this.t}
         WHERE id = ? AND claims = ? AND state = 'running' ${this.db.dialect.lockRows.replace(' SKIP LOCKED', '')}`,
        [num(checkId(lease.id)), lease.token],
      );
      const row = rows[0];
      if (!row) return 'stale';
      const dead = num(row.attempts) + 1 >= num(row.max_attempts);
      await tx.execute(
        dead
          ? `UPDATE ${this.t} SET state = 'dead', attempts = attempts + 1, active_unique = NULL,
               lease_until = NULL, last_error = ?, finished_at = ${this.nowSql},
               updated_at = ${this.nowSql} WHERE id = ?`
          : `UPDATE ${this.t} SET state = 'pending', attempts = attempts + 1, lease_until = NULL,
               last_error = ?, run_at = ${this.nowSql} + ?, updated_at = ${this.nowSql}
             WHERE id = ?`,
        dead
          ? [clip(error), num(lease.id)]
          : [clip(error), Math.max(0, Math.round(retryDelayMs)), num(lease.id)],
      );
      return dead ? 'dead' : 'retry';
    });
  }

  async release(lease: Lease, delayMs: number, error: string): Promise<boolean> {
    const changed = await this.db.execute(
      `UPDATE ${this.t} SET state = 'pending', lease_until = NULL, last_error = ?,
         run_at = CASE WHEN run_at > ${this.nowSql} + ? THEN run_at ELSE ${this.nowSql} + ? END,
         updated_at = ${this.nowSql}
       WHERE id = ? AND claims = ? AND state = 'running'`,
      [clip(error), delayMs, delayMs, num(checkId(lease.id)), lease.token],
    );
    return changed > 0;
  }

  async reap(): Promise<number> {
    return this.db.transaction(async (tx) =>
      this.reapIn(tx, await SqlSchedulerStore.nowIn(tx, this.nowSql)),
    );
  }

  /**
   * Locks expired leases with SKIP LOCKED, then updates them by primary key. Never waits: a
   * plain locking UPDATE over the lease index waited for rows an instance was completing — for
   * as long as that instance was paused (SIGSTOP), stalling every other instance's claims — and
   * on InnoDB it also locked the entry just past the range and deadlocked against completions.
   * A row skipped now is reaped by a later claim.
   */
  private async reapIn(tx: SqlExecutor, now: number): Promise<number> {
    const expired = await tx.query(
      `SELECT id FROM ${this.t} WHERE state = 'running' AND lease_until <= ?
       LIMIT 1000 ${this.db.dialect.lockRows}`,
      [now],
    );
    if (expired.length === 0) return 0;
    const ids = expired.map((r) => num(r.id));
    return tx.execute(
      `UPDATE ${this.t} SET state = 'pending', lease_until = NULL, updated_at = ?
       WHERE id IN (${ids.map(() => '?').join(', ')}) AND state = 'running' AND lease_until <= ?`,
      [now, ...ids, now],
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
    return this.db.transaction(async (tx) => {
      const rows =
        'id' in target
          ? await tx.query(
              `SELECT id FROM ${this.t} WHERE id = ? AND state IN ('pending', 'running', 'recurring')`,
              [num(checkId(target.id))],
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
           finished_at = ${this.nowSql}, updated_at = ${this.nowSql}
         WHERE (id = ? AND state IN ('pending', 'running', 'recurring'))
            OR (schedule_id = ? AND state = 'pending')`,
        [id, id],
      );
      return true;
    });
  }

  async status(id: string): Promise<JobStatus | null> {
    const rows = await this.db.query(`SELECT * FROM ${this.t} WHERE id = ?`, [num(checkId(id))]);
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
    try {
      return await this.db.transaction(async (tx) => {
        const now = await SqlSchedulerStore.nowIn(tx, this.nowSql);
        const changed = await tx.execute(
          `UPDATE ${this.t} SET state = 'pending', attempts = 0, active_unique = unique_key,
             run_at = ?, finished_at = NULL, updated_at = ?
           WHERE id = ? AND state = 'dead'`,
          [now, now, num(checkId(id))],
        );
        if (changed === 0) throw new SchedulerError('NOT_FOUND', `no dead job with id ${id}`);
        if (this.db.notifySql) await tx.query(this.db.notifySql(this.t), [String(now)]);
        return { id, runAt: now, existing: false };
      });
    } catch (err) {
      if (this.db.isUniqueViolation(err))
        throw new SchedulerError('CONFLICT', `job ${id}: another job with its unique is pending`, {
          cause: err,
        });
      throw err;
    }
  }

  async purge(olderThanMs: number): Promise<number> {
    return this.db.execute(
      `DELETE FROM ${this.t} WHERE state IN ('done', 'cancelled') AND finished_at < ${this.nowSql} - ?`,
      [olderThanMs],
    );
  }

  async subscribe(listener: (runAt: number) => void): Promise<(() => Promise<void>) | null> {
    if (!this.db.listen) return null;
    return this.db.listen(this.t, (payload) => {
      const runAt = Number(payload);
      if (Number.isFinite(runAt)) listener(runAt);
    });
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
