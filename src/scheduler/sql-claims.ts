/**
 * The claim: due rows marked running under a lease, with the housekeeping that makes rows due —
 * reaping expired leases and firing cron ticks. See docs/scheduler.md for the statements'
 * reasoning.
 */
import { placeholderList } from '../sql/dialect.js';
import type { SqlExecutor } from '../sql/sql-database.js';
import { CronExpression } from './cron.js';
import type { ClaimBatch } from './scheduler-store.js';
import {
  num,
  strOrNull,
  text,
  toBuffer,
  toClaimedJob,
  nextTick,
  truthy,
} from './scheduler-rows.js';
import type { SchedulerTable } from './scheduler-table.js';

/**
 * Claims up to `limit` due jobs for `owner` for `leaseMs`. Where the database can run it as one
 * statement (a data-modifying WITH), the claim is that statement, followed by the transaction
 * only when it reports housekeeping to do.
 */
export async function claim(
  table: SchedulerTable,
  limit: number,
  leaseMs: number,
  owner: string,
): Promise<ClaimBatch> {
  if (!table.db.dialect.writableCte) return claimInTransaction(table, limit, leaseMs, owner);
  const first = await claimInOneStatement(table, limit, leaseMs, owner);
  if (!first.housekeeping) return first.batch;
  // Rarely: expired leases to reap or cron ticks to fire. The transaction does both and claims
  // what they made due.
  const rest = await claimInTransaction(table, limit - first.batch.jobs.length, leaseMs, owner);
  const jobs = [...first.batch.jobs, ...rest.jobs].sort((a, b) => a.runAt - b.runAt);
  return { dbNow: rest.dbNow, jobs };
}

/**
 * The claim as one autocommitted statement (PostgreSQL), which also tells whether there are
 * expired leases or cron ticks (then `claimInTransaction` follows). Due rows stay locked only
 * while the server runs it, never across a round trip to this process. With the claim
 * transaction's five round trips, an instance stalled between two of them (starved of CPU,
 * or its database backend was) kept the due rows it had locked, the other instances skipped
 * them, and those jobs waited for it: the isolated 100–800 ms late jobs of the benchmark's tail.
 */
async function claimInOneStatement(
  { db, name: t }: SchedulerTable,
  limit: number,
  leaseMs: number,
  owner: string,
): Promise<{ batch: ClaimBatch; housekeeping: boolean }> {
  const rows = await db.query(
    `WITH clock AS MATERIALIZED (SELECT ${db.dialect.nowMs} AS now),
     due AS (
       SELECT id FROM ${t} WHERE state = 'pending' AND run_at <= (SELECT now FROM clock)
       ORDER BY run_at LIMIT ? ${db.dialect.forUpdate({ skipLocked: true })}),
     claimed AS (
       UPDATE ${t} AS j SET state = 'running', claims = j.claims + 1,
         lease_until = (SELECT now FROM clock) + ?, lease_owner = ?,
         updated_at = (SELECT now FROM clock)
       FROM due WHERE j.id = due.id
       RETURNING j.id, j.function_name, j.payload, j.priority, j.background, j.run_at,
         j.attempts, j.max_attempts, j.backoff_ms, j.claims)
     SELECT k.now, k.expired, k.ticks, c.*
     FROM (SELECT now,
             EXISTS (SELECT 1 FROM ${t} WHERE state = 'running' AND lease_until <= now) AS expired,
             EXISTS (SELECT 1 FROM ${t} WHERE state = 'recurring' AND run_at <= now) AS ticks
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
function claimInTransaction(
  table: SchedulerTable,
  limit: number,
  leaseMs: number,
  owner: string,
): Promise<ClaimBatch> {
  const { db, name: t } = table;
  const { nowMs } = db.dialect;
  return db.transaction(async (tx) => {
    // One round trip for the clock and for whether there is reaping or a cron tick to do,
    // which there rarely is.
    const [probe] = await tx.query(
      `SELECT ${nowMs} AS now,
         EXISTS (SELECT 1 FROM ${t} WHERE state = 'running' AND lease_until <= ${nowMs}) AS expired,
         EXISTS (SELECT 1 FROM ${t} WHERE state = 'recurring' AND run_at <= ${nowMs}) AS ticks`,
    );
    const now = num(probe?.now);
    // Expired leases go back to the queue first, so a job whose instance died is claimed again
    // by whichever instance comes next.
    if (truthy(probe?.expired)) await reapExpired(table, tx, now);
    // Cron ticks next; at least one schedule even with no room left, so schedules move on.
    if (truthy(probe?.ticks)) await fireTicks(table, tx, now, Math.max(1, limit));
    const rows =
      limit > 0
        ? await tx.query(
            `SELECT id, function_name, payload, priority, background, run_at, attempts,
               max_attempts, backoff_ms, claims
             FROM ${t} WHERE state = 'pending' AND run_at <= ?
             ORDER BY run_at LIMIT ? ${db.dialect.forUpdate({ skipLocked: true })}`,
            [now, limit],
          )
        : [];
    if (rows.length > 0) {
      const ids = rows.map((r) => num(r.id));
      await tx.executeAndCommit(
        `UPDATE ${t} SET state = 'running', claims = claims + 1, lease_until = ?,
           lease_owner = ?, updated_at = ?
         WHERE id IN (${placeholderList(ids.length)})`,
        [now + leaseMs, owner, now, ...ids],
      );
    }
    const jobs = rows.map((r) => toClaimedJob(r, num(r.claims) + 1));
    return { dbNow: now, jobs };
  });
}

/**
 * Each due schedule inserts its run for this tick (at most one per (schedule, tick), by the
 * unique key) and moves on to its next tick, in the claim's commit.
 */
async function fireTicks(
  { db, name: t }: SchedulerTable,
  tx: SqlExecutor,
  now: number,
  limit: number,
): Promise<void> {
  const schedules = await tx.query(
    `SELECT id, function_name, payload, priority, background, run_at, cron_expr, time_zone,
       max_attempts, backoff_ms
     FROM ${t} WHERE state = 'recurring' AND run_at <= ?
     ORDER BY run_at LIMIT ? ${db.dialect.forUpdate({ skipLocked: true })}`,
    [now, limit],
  );
  for (const s of schedules) {
    const tick = num(s.run_at);
    await tx.insertIgnore(t, {
      function_name: s.function_name,
      payload: toBuffer(s.payload),
      priority: num(s.priority),
      background: num(s.background),
      run_at: tick,
      schedule_id: num(s.id),
      tick,
      state: 'pending',
      attempts: 0,
      max_attempts: num(s.max_attempts),
      backoff_ms: num(s.backoff_ms),
      claims: 0,
      created_at: now,
      updated_at: now,
    });
    // Ticks missed while no instance ran are not replayed: one run, then the next future tick.
    const next = nextTick(
      new CronExpression(text(s.cron_expr)),
      Math.max(now, tick),
      strOrNull(s.time_zone) ?? 'UTC',
    );
    await tx.execute(
      next === null
        ? `UPDATE ${t} SET state = 'done', active_unique = NULL, finished_at = ?, updated_at = ? WHERE id = ?`
        : `UPDATE ${t} SET run_at = ?, updated_at = ? WHERE id = ?`,
      [next ?? now, now, num(s.id)],
    );
  }
}

/**
 * Locks expired leases with SKIP LOCKED, then updates them by primary key. Never waits: a
 * plain locking UPDATE over the lease index waited for rows an instance was completing — for
 * as long as that instance was paused (SIGSTOP), stalling every other instance's claims — and
 * on InnoDB it also locked the entry just past the range and deadlocked against completions.
 * A row skipped now is reaped by a later claim.
 */
export async function reapExpired(
  { db, name: t }: SchedulerTable,
  tx: SqlExecutor,
  now: number,
): Promise<number> {
  const expired = await tx.query(
    `SELECT id FROM ${t} WHERE state = 'running' AND lease_until <= ?
     LIMIT 1000 ${db.dialect.forUpdate({ skipLocked: true })}`,
    [now],
  );
  if (expired.length === 0) return 0;
  const ids = expired.map((r) => num(r.id));
  return tx.execute(
    `UPDATE ${t} SET state = 'pending', lease_until = NULL, updated_at = ?
     WHERE id IN (${placeholderList(ids.length)}) AND state = 'running' AND lease_until <= ?`,
    [now, ...ids, now],
  );
}
