import type { Priority } from '../../protocol/packet-types.js';
import type { Job } from './job.js';

/**
 * One function: its three FIFO priority lists (HIGH, NORMAL, LOW), its coalescing index, its
 * counters and the sleeping workers that can do it. Lists are intrusive singly linked lists
 * through `Job.next`, so enqueue and dequeue are O(1) without arrays that shift or grow.
 */
export class FunctionQueue {
  /** The name as bytes, for packets. */
  readonly nameBytes: Buffer;
  /** The name as text (its bytes read as UTF-8), as stores keep it. */
  readonly textName: string;
  private readonly heads: (Job | undefined)[] = [undefined, undefined, undefined];
  private readonly tails: (Job | undefined)[] = [undefined, undefined, undefined];
  /** Jobs in each list, ignored ones included (they count until a grab skips them). */
  readonly queued: [number, number, number] = [0, 0, 0];
  /** Epoch/scheduled jobs not yet due, by priority. */
  readonly delayed: [number, number, number] = [0, 0, 0];
  /** Durable jobs waiting for their store commit. */
  pending = 0;
  running = 0;
  /** Ability registrations (a connection registering twice counts twice, as in gearmand). */
  workers = 0;
  /** Sleeping workers (connection ids) that can do this function, longest asleep first. */
  readonly sleeping = new Set<number>();
  /** Live jobs by coalescing key. */
  readonly byUnique = new Map<string, Job>();
  /** maxqueue per priority; 0 = unlimited. */
  readonly maxQueue: [number, number, number] = [0, 0, 0];

  constructor(
    /** The name as a byte string. */
    readonly name: string,
  ) {
    this.nameBytes = Buffer.from(name, 'latin1');
    this.textName = this.nameBytes.toString('utf8');
  }

  /** Appends a job at the tail of its priority list. */
  push(job: Job): void {
    const p = job.priority;
    job.next = undefined;
    const tail = this.tails[p];
    if (tail === undefined) this.heads[p] = job;
    else tail.next = job;
    this.tails[p] = job;
    this.queued[p]++;
  }

  /** Takes the head of the highest non-empty priority list. */
  shift(): Job | undefined {
    for (let p: Priority = 0; p < 3; p++) {
      const job = this.heads[p];
      if (job === undefined) continue;
      this.heads[p] = job.next;
      if (job.next === undefined) this.tails[p] = undefined;
      job.next = undefined;
      this.queued[p as Priority]--;
      return job;
    }
    return undefined;
  }

  /** Whether any list holds a job (possibly an ignored one). */
  get hasQueued(): boolean {
    return this.queued[0] + this.queued[1] + this.queued[2] > 0;
  }

  /** Every job that counts against maxqueue: queued, delayed, pending and running. */
  get total(): number {
    return (
      this.queued[0] +
      this.queued[1] +
      this.queued[2] +
      this.delayed[0] +
      this.delayed[1] +
      this.delayed[2] +
      this.pending +
      this.running
    );
  }

  /** The jobs of one priority list, head first (for admin listings). */
  *list(priority: Priority): IterableIterator<Job> {
    for (let job = this.heads[priority]; job !== undefined; job = job.next) yield job;
  }
}
