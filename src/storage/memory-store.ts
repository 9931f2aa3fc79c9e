import { BatchingStore, type Batch, type BatchingStoreOptions } from './batching-store.js';
import type { StoredJob } from './job-store.js';

/** Rows of a memory store, by function and key. */
export type MemoryRows = Map<string, StoredJob>;

/** Options of the memory store. */
export interface MemoryStoreOptions extends BatchingStoreOptions {
  readonly rows?: MemoryRows;
}

/**
 * A store that keeps rows in memory, with the same batching and ordering as the database
 * backends. Nothing survives the process; it exists for tests and for `-q builtin`-like use
 * through the same interface.
 */
export class MemoryStore extends BatchingStore {
  readonly description = 'memory';
  // A Map keeps insertion order, and a replaced row moves to the end, as in SQLite's INSERT OR REPLACE.
  readonly #rows: MemoryRows;

  /** `rows` lets several store objects share one set of rows, as a database file would. */
  constructor(options: MemoryStoreOptions = {}) {
    super(options);
    this.#rows = options.rows ?? MemoryStore.newRows();
  }

  /** An empty set of rows to share between store objects. */
  static newRows(): MemoryRows {
    return new Map();
  }

  protected connect(): Promise<void> {
    return Promise.resolve();
  }

  protected disconnect(): Promise<void> {
    return Promise.resolve();
  }

  protected override commit(batch: Batch): Promise<void> {
    for (const key of batch.deletes) this.#rows.delete(`${key.functionName}\u0000${key.uniqueKey}`);
    for (const job of batch.upserts) {
      const id = `${job.functionName}\u0000${job.uniqueKey}`;
      this.#rows.delete(id);
      this.#rows.set(id, { ...job, data: Buffer.from(job.data) });
    }
    return Promise.resolve();
  }

  protected async *rows(): AsyncIterable<StoredJob> {
    // A snapshot, so rows added while replaying are not replayed too.
    for (const job of [...this.#rows.values()]) yield await Promise.resolve(job);
  }

  protected isConnectionError(): boolean {
    return false;
  }
}
