import { closeSync, openSync, writeSync } from 'node:fs';
import { errorMessage } from '../protocol/errors.js';
import type { SchedulerEvent } from './scheduler.js';

/** One line of the history log. */
export interface HistoryRecord {
  readonly type: SchedulerEvent['type'];
  readonly at: number;
  readonly owner: string;
  readonly id?: string;
  readonly token?: number;
  readonly runAt?: number;
  readonly accepted?: boolean;
  readonly outcome?: string;
  readonly reason?: string;
}

/** Turns an event into its history line. */
export function historyRecord(owner: string, e: SchedulerEvent): HistoryRecord {
  if (e.type === 'error')
    return {
      type: e.type,
      at: e.at,
      owner,
      reason: `${e.where}: ${errorMessage(e.error)}`,
    };
  const base = {
    type: e.type,
    at: e.at,
    owner,
    id: e.job.id,
    token: e.job.token,
    runAt: e.job.runAt,
  };
  if (e.type === 'completed') return { ...base, accepted: e.accepted };
  if (e.type === 'failed') return { ...base, outcome: e.outcome, reason: e.reason };
  if (e.type === 'released') return { ...base, reason: e.reason };
  return base;
}

/**
 * An append-only JSON-lines log of what an instance did (claims, dispatches, outcomes), written
 * synchronously so that it survives SIGKILL up to the last event: the audit trail the fault
 * test's history checker reads.
 */
export class HistoryLog {
  private fd: number | null;

  constructor(
    path: string,
    private readonly owner: string,
  ) {
    this.fd = openSync(path, 'a');
  }

  write(event: SchedulerEvent): void {
    if (this.fd === null) return;
    writeSync(this.fd, `${JSON.stringify(historyRecord(this.owner, event))}\n`);
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
