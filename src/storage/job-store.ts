import type { StoredJob, StoredJobKey } from '../protocol/stored-job.js';

// The stored-job contract lives in the protocol layer, which the server core may import.
export type { StoredJob, StoredJobKey };
export {
  GENERATED_KEY_PREFIX,
  isGeneratedKey as isGeneratedUniqueKey,
} from '../protocol/stored-job.js';

/**
 * Called once when a store operation is over: with no error once it is committed. `tag` is the
 * number the caller gave with the operation, so one function can serve every job.
 */
export type Settled = (error: Error | undefined, tag: number) => void;

/**
 * Where background jobs live while they exist. Operations are applied in the order they are
 * called; `add` resolves only once the job is durably committed, so the server can send
 * `JOB_CREATED` after it. Implementations group the calls of one event-loop turn into one
 * transaction. No connection or transaction type is exposed.
 */
export interface JobStore {
  /** A name for logs, e.g. `sqlite:/var/lib/gearbox/queue.sqlite`. */
  readonly description: string;
  /** Connects and creates the table if needed. */
  open(): Promise<void>;
  /** Commits a job (insert or replace by key). Rejects with a `StoreError` on failure. */
  add(job: StoredJob): Promise<void>;
  /**
   * `add` without a promise or a closure per job, for a busy server (they cost it measurable
   * time): `settled` is called once with `tag` — with no error after the commit, or with the
   * `StoreError` that kept the job out — and never before `addThen` returns.
   */
  addThen(job: StoredJob, settled: Settled, tag: number): void;
  /** Deletes a job; resolves when committed. A missing row is not an error. */
  remove(key: StoredJobKey): Promise<void>;
  /** Every stored job, for replay at start. */
  replay(): AsyncIterable<StoredJob>;
  /** Flushes what is pending and closes. */
  close(): Promise<void>;
}
