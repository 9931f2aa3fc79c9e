import { BatchingStore, type BatchingStoreOptions } from './batching-store.js';
import type { StoredJob } from './job-store.js';
import { keyOf, type Batch, type CoalescingBackend } from './store-backend.js';

/** Rows of a memory store, by function and key. */
export type MemoryRows = Map<string, StoredJob>;

/** Options of the memory store. */
export interface MemoryStoreOptions extends BatchingStoreOptions {
  /** Lets several store objects share one set of rows, as a database file would. */
  readonly rows?: MemoryRows;
}

/** Rows in a Map, which keeps insertion order; a replaced row moves to the end, as in SQLite. */
export class MemoryBackend implements CoalescingBackend {
  readonly order = 'coalesced';
  readonly description = 'memory';

  constructor(private readonly table: MemoryRows = new Map()) {}

  connect(): Promise<void> {
    return Promise.resolve();
  }

  disconnect(): Promise<void> {
    return Promise.resolve();
  }

  commit(batch: Batch): Promise<void> {
    for (const key of batch.deletes) this.table.delete(keyOf(key));
    for (const job of batch.upserts) {
      const id = keyOf(job);
      this.table.delete(id);
      this.table.set(id, { ...job, data: Buffer.from(job.data) });
    }
    return Promise.resolve();
  }

  async *rows(): AsyncIterable<StoredJob> {
    // A snapshot, so rows added while replaying are not replayed too.
    for (const job of [...this.table.values()]) yield await Promise.resolve(job);
  }

  classify(): 'refused' {
    return 'refused';
  }

  refuse(): undefined {
    return undefined;
  }
}

/**
 * A store that keeps rows in memory, with the same batching and ordering as the database
 * backends. Nothing survives the process; it exists for tests and benchmarks.
 */
export class MemoryStore extends BatchingStore<MemoryBackend> {
  constructor(options: MemoryStoreOptions = {}) {
    super(new MemoryBackend(options.rows), options);
  }

  /** An empty set of rows to share between store objects. */
  static newRows(): MemoryRows {
    return new Map();
  }
}
