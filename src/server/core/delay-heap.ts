import type { ServerJob } from './server-job.js';

/**
 * A binary min-heap of jobs ordered by their run time (`when`), then by handle number, so
 * undue epoch jobs wait outside the priority lists and a grab never walks past them.
 */
export class DelayHeap {
  private readonly items: ServerJob[] = [];

  get size(): number {
    return this.items.length;
  }

  /** The job due first. */
  peek(): ServerJob | undefined {
    return this.items[0];
  }

  push(job: ServerJob): void {
    const items = this.items;
    items.push(job);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const above = items[parent] as ServerJob;
      if (!earlier(job, above)) break;
      items[i] = above;
      i = parent;
    }
    items[i] = job;
  }

  pop(): ServerJob | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    let i = 0;
    const n = items.length;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      let child = left;
      if (right < n && earlier(items[right] as ServerJob, items[left] as ServerJob)) child = right;
      const below = items[child] as ServerJob;
      if (!earlier(below, last)) break;
      items[i] = below;
      i = child;
    }
    items[i] = last;
    return top;
  }
}

function earlier(a: ServerJob, b: ServerJob): boolean {
  return a.when < b.when || (a.when === b.when && a.id < b.id);
}
