/**
 * The writes an instance makes to jobs it has claimed — renewing, completing, failing, releasing —
 * each fenced by the claim's token (`claims`), so that an instance whose lease was taken over
 * changes nothing.
 */
import { fencedRows } from '../sql/fencing.js';
import { placeholderList } from '../sql/dialect.js';
import type { FailOutcome, Lease } from './scheduler-store.js';
import { clip, jobId, num, text } from './scheduler-rows.js';
import type { SchedulerTable } from './scheduler-table.js';

function held(leases: readonly Lease[]): { sql: string; params: number[] } {
  return fencedRows(
    leases.map((l) => ({ id: jobId(l.id), token: l.token })),
    { id: 'id', token: 'claims' },
  );
}

/** Extends the leases still held by `leaseMs` from now; resolves to how many were. */
export async function renew(
  { db, name: t }: SchedulerTable,
  leases: readonly Lease[],
  leaseMs: number,
): Promise<number> {
  if (leases.length === 0) return 0;
  const match = held(leases);
  return db.execute(
    `UPDATE ${t} SET lease_until = ${db.dialect.nowMs} + ?
     WHERE state = 'running' AND (${match.sql})`,
    [leaseMs, ...match.params],
  );
}

/** Marks done the jobs whose leases are still held; resolves to their ids. */
export async function complete(
  { db, name: t }: SchedulerTable,
  leases: readonly Lease[],
): Promise<Set<string>> {
  if (leases.length === 0) return new Set();
  const match = held(leases);
  const { nowMs } = db.dialect;
  const done = `UPDATE ${t} SET state = 'done', active_unique = NULL, lease_until = NULL,
       finished_at = ${nowMs}, updated_at = ${nowMs}`;
  // One autocommitted statement that says which rows it changed (a batch of completions was a
  // transaction of four round trips).
  if (db.dialect.updateReturning) {
    const rows = await db.query(
      `${done} WHERE state = 'running' AND (${match.sql}) RETURNING id`,
      match.params,
    );
    return new Set(rows.map((r) => text(r.id)));
  }
  // Without UPDATE … RETURNING: lock the rows our tokens still hold, then mark them done by
  // primary key; on MySQL the UPDATE travels with the COMMIT (two round trips).
  return db.transaction(async (tx) => {
    const rows = await tx.query(
      `SELECT id FROM ${t} WHERE state = 'running' AND (${match.sql}) ${db.dialect.forUpdate()}`,
      match.params,
    );
    const ids = rows.map((r) => num(r.id));
    if (ids.length > 0)
      await tx.executeAndCommit(`${done} WHERE id IN (${placeholderList(ids.length)})`, ids);
    return new Set(ids.map(String));
  });
}

/** Records a failed attempt: due again after `retryDelayMs`, or dead once attempts run out. */
export async function fail(
  { db, name: t }: SchedulerTable,
  lease: Lease,
  error: string,
  retryDelayMs: number,
): Promise<FailOutcome> {
  const id = jobId(lease.id);
  const { nowMs } = db.dialect;
  return db.transaction(async (tx) => {
    const rows = await tx.query(
      `SELECT attempts, max_attempts FROM ${t}
       WHERE id = ? AND claims = ? AND state = 'running' ${db.dialect.forUpdate()}`,
      [id, lease.token],
    );
    const row = rows[0];
    if (!row) return 'stale';
    const dead = num(row.attempts) + 1 >= num(row.max_attempts);
    await tx.execute(
      dead
        ? `UPDATE ${t} SET state = 'dead', attempts = attempts + 1, active_unique = NULL,
             lease_until = NULL, last_error = ?, finished_at = ${nowMs},
             updated_at = ${nowMs} WHERE id = ?`
        : `UPDATE ${t} SET state = 'pending', attempts = attempts + 1, lease_until = NULL,
             last_error = ?, run_at = ${nowMs} + ?, updated_at = ${nowMs}
           WHERE id = ?`,
      dead ? [clip(error), id] : [clip(error), Math.max(0, Math.round(retryDelayMs)), id],
    );
    return dead ? 'dead' : 'retry';
  });
}

/**
 * Puts a claimed job back, due in `delayMs` (or at its own later time), without counting an
 * attempt; false when the lease was no longer held.
 */
export async function release(
  { db, name: t }: SchedulerTable,
  lease: Lease,
  delayMs: number,
  error: string,
): Promise<boolean> {
  const { nowMs } = db.dialect;
  const changed = await db.execute(
    `UPDATE ${t} SET state = 'pending', lease_until = NULL, last_error = ?,
       run_at = CASE WHEN run_at > ${nowMs} + ? THEN run_at ELSE ${nowMs} + ? END,
       updated_at = ${nowMs}
     WHERE id = ? AND claims = ? AND state = 'running'`,
    [clip(error), delayMs, delayMs, jobId(lease.id), lease.token],
  );
  return changed > 0;
}
