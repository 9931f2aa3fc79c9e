import type { ServerJob } from './server-job.js';

const PAGE_BITS = 10;
const PAGE_SIZE = 1 << PAGE_BITS;
const SLOT_MASK = PAGE_SIZE - 1;

interface Page {
  readonly slots: (ServerJob | undefined)[];
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

  get(id: number): ServerJob | undefined {
    return this.pages[id >>> PAGE_BITS]?.slots[id & SLOT_MASK];
  }

  set(job: ServerJob): void {
    const index = job.id >>> PAGE_BITS;
    let page = this.pages[index];
    if (page === undefined) {
      page = { slots: new Array<ServerJob | undefined>(PAGE_SIZE).fill(undefined), live: 0 };
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
  values(): IterableIterator<ServerJob> {
    return this.valuesFrom(0);
  }

  /** The jobs numbered `from` or more, in handle order. */
  *valuesFrom(from: number): IterableIterator<ServerJob> {
    const pages = this.pages;
    let slot = Math.max(0, from) & SLOT_MASK;
    for (let index = Math.max(0, from) >>> PAGE_BITS; index < pages.length; index++, slot = 0) {
      const page = pages[index];
      if (page === undefined) continue;
      for (; slot < PAGE_SIZE; slot++) {
        const job = page.slots[slot];
        if (job !== undefined) yield job;
      }
    }
  }
}
