import type { Job } from './job.js';

const PAGE_BITS = 10;
const PAGE_SIZE = 1 << PAGE_BITS;
const SLOT_MASK = PAGE_SIZE - 1;

interface Page {
  readonly slots: (Job | undefined)[];
  live: number;
}

/**
 * Jobs by handle number. Handle numbers are handed out in sequence, so a paged array beats a
 * hash map here: no hashing, no rehashing of a million-entry table as it grows, 8 bytes a slot.
 * A page is freed once its last job is gone.
 */
export class JobTable {
  private readonly pages: (Page | undefined)[] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(id: number): Job | undefined {
    return this.pages[id >>> PAGE_BITS]?.slots[id & SLOT_MASK];
  }

  set(job: Job): void {
    const index = job.id >>> PAGE_BITS;
    let page = this.pages[index];
    if (page === undefined) {
      page = { slots: new Array<Job | undefined>(PAGE_SIZE).fill(undefined), live: 0 };
      this.pages[index] = page;
    }
    const slot = job.id & SLOT_MASK;
    if (page.slots[slot] === undefined) {
      page.live++;
      this.count++;
    }
    page.slots[slot] = job;
  }

  delete(id: number): void {
    const index = id >>> PAGE_BITS;
    const page = this.pages[index];
    const slot = id & SLOT_MASK;
    if (page?.slots[slot] === undefined) return;
    page.slots[slot] = undefined;
    this.count--;
    if (--page.live === 0) this.pages[index] = undefined;
  }

  /** Every job, in handle order. */
  *values(): IterableIterator<Job> {
    for (const page of this.pages) {
      if (page === undefined) continue;
      for (const job of page.slots) if (job !== undefined) yield job;
    }
  }
}
