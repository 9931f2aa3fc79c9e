import type { SqlErrorKind } from '../sql/sql-errors.js';
import type { StoredJob, StoredJobKey } from './job-store.js';
import type { StoreError } from './store-error.js';

/** One transaction's worth of work, with at most one operation per key. */
export interface Batch {
  /** Rows to insert, or to replace when the key exists. */
  readonly upserts: readonly StoredJob[];
  /** Rows to delete; a missing row is not an error. */
  readonly deletes: readonly StoredJobKey[];
}

/** An add or a remove, as `coalesce` and an in-order backend see it. */
export type StoredJobKeyOperation =
  | { readonly kind: 'add'; readonly job: StoredJob }
  | { readonly kind: 'remove'; readonly key: StoredJobKey };

/**
 * What an in-order commit reports: `failures` is `undefined` when every operation committed,
 * otherwise one entry per operation, in order — `undefined` for one that committed, its error
 * for one that did not; `transactions` is how many transactions the database committed for it.
 */
export interface InOrderResult {
  readonly failures: readonly (Error | undefined)[] | undefined;
  readonly transactions: number;
}

/** What every backend does, whatever the way it commits. */
interface BackendCommon {
  /** A name for logs and error messages, e.g. `sqlite:/var/lib/gearbox/queue.sqlite (table q)`. */
  readonly description: string;
  /**
   * Connects (a fresh connection each time) and makes sure the table exists. `lost` is to be
   * called when that connection fails while idle, so that adds are refused at once instead of
   * failing one transaction later.
   */
  connect(lost: (err: unknown) => void): Promise<void>;
  /** Drops the connection, if any; never rejects. */
  disconnect(): Promise<void>;
  /** Every row, as stored (keys verbatim). */
  rows(): AsyncIterable<StoredJob>;
  /**
   * What an error means (as `classifySqlError` says for the SQL databases): `connection` makes
   * the store reconnect, `too-large` fails the job with JOB_TOO_LARGE, anything else with
   * STORE_FAILED.
   */
  classify(err: unknown): SqlErrorKind;
  /** A reason to refuse this job before sending it, or undefined when it may be stored. */
  refuse(job: StoredJob): StoreError | undefined;
}

/**
 * A backend that takes a batch reduced to the last operation per key and applies it in one
 * transaction — a database with many writers, where a batch is best sent as few statements.
 */
export interface CoalescingBackend extends BackendCommon {
  readonly order: 'coalesced';
  /** Applies the batch in one transaction; resolves after COMMIT. */
  commit(batch: Batch): Promise<void>;
}

/**
 * A backend that applies what it is given strictly in call order (one writer), uncoalesced, and
 * reports a failure per operation instead of failing them all: it isolates a bad job itself, so
 * its neighbours and later batches keep their order.
 */
export interface InOrderBackend extends BackendCommon {
  readonly order: 'in-order';
  /**
   * How many turn-ending batches may be in flight at once; the backend may commit several
   * together.
   */
  readonly turnsInFlight: number;
  /**
   * Applies the operations; rejects when the connection or the transaction is lost.
   *
   * `endsTurn` false marks an eager batch, sent while the caller's event-loop turn is still
   * queueing operations so the database starts early: it is applied but not committed; it
   * commits with the next turn-ending batch, and resolves then. So a turn's operations still
   * share one transaction.
   */
  commitInOrder(
    operations: readonly StoredJobKeyOperation[],
    endsTurn: boolean,
  ): Promise<InOrderResult>;
}

/** The database work of a store; `BatchingStore` does the rest. */
export type StoreBackend = CoalescingBackend | InOrderBackend;

/** A string that identifies a row: function and key, NUL-separated. */
export function keyOf(key: StoredJobKey): string {
  return `${key.functionName}\u0000${key.uniqueKey}`;
}

/**
 * Reduces operations in call order to their end state: the last operation on a key wins, which
 * is what applying them one by one would leave (an add then a remove leaves no row).
 */
export function coalesce(operations: readonly StoredJobKeyOperation[]): Batch {
  const last = new Map<string, StoredJobKeyOperation>();
  for (const op of operations) {
    const key = op.kind === 'add' ? op.job : op.key;
    const id = keyOf(key);
    // Delete first so the map's order is the order of each key's last operation.
    last.delete(id);
    last.set(id, op);
  }
  const upserts: StoredJob[] = [];
  const deletes: StoredJobKey[] = [];
  for (const op of last.values()) {
    if (op.kind === 'add') upserts.push(op.job);
    else deletes.push(op.key);
  }
  return { upserts, deletes };
}
