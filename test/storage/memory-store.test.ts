import { MemoryStore } from '../../src/storage/memory-store.js';
import { jobStoreSuite, type StoreTable } from './job-store-suite.js';

// The memory store forgets everything when the object goes, so a "table" is one shared store
// whose close() is a no-op for the rows: a reopened store sees the same map.
jobStoreSuite(
  {
    name: 'memory',
    ordered: true,
    epoch: true,
    table(): Promise<StoreTable> {
      const rows = MemoryStore.newRows();
      return Promise.resolve({
        create: (log) => new MemoryStore({ log, rows }),
        drop: () => Promise.resolve(rows.clear()),
      });
    },
  },
  false,
);
