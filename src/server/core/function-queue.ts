import type { Priority } from '../../protocol/packet-types.js';
import type { Job } from './job.js';
import { LazyMap, LazySet } from './lazy-collections.js';

/** Whether a byte string is plain ASCII, so that its UTF-8 reading is itself. */
function isAscii(value: string): boolean {
  // eslint-disable-next-line no-control-regex
  return /^[\x00-\x7f]*$/.test(value);
}

/**
 * One function: its three FIFO priority lists (HIGH, NORMAL, LOW), its coalescing index, its
 * counters and the sleeping workers that can do it. Lists are intrusive singly linked lists
 * through `Job.next`, so enqueue and dequeue are O(1) without arrays that shift or grow.
 *
 * A server may know hundreds of thousands of functions that never see a job (`create function`,
 * one per tenant), so what only a used function needs is made when first needed: the list ends
 * on the first push, the index and the sleeping set on their first insertion, the name's bytes
 * on the first packet that carries them; an ASCII name is its own text. The counter tuples are
 * array literals, whose elements V8 shares until the first write.
 */
export class FunctionQueue {
  /** The name as text (its bytes read as UTF-8), as stores keep it. */
  readonly textName: string;
  private nameBuffer: Buffer | undefined = undefined;
  /** Heads of the HIGH, NORMAL and LOW lists, then their tails; made by the first push. */
  private ends: (Job | undefined)[] | undefined = undefined;
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
  readonly sleeping = new LazySet<number>();
  /** Live jobs by coalescing key. */
  readonly byUnique = new LazyMap<string, Job>();
  /** maxqueue per priority; 0 = unlimited. */
  readonly maxQueue: [number, number, number] = [0, 0, 0];

  constructor(
    /** The name as a byte string. */
    readonly name: string,
  ) {
    this.textName = isAscii(name) ? name : Buffer.from(name, 'latin1').toString('utf8');
  }

  /** The name as bytes, for packets. */
  get nameBytes(): Buffer {
    return (this.nameBuffer ??= Buffer.from(this.name, 'latin1'));
  }

  /** Appends a job at the tail of its priority list. */
  push(job: Job): void {
    const p = job.priority;
    const ends = (this.ends ??= [undefined, undefined, undefined, undefined, undefined, undefined]);
    job.next = undefined;
    const tail = ends[3 + p];
    if (tail === undefined) ends[p] = job;
    else tail.next = job;
    ends[3 + p] = job;
    this.queued[p]++;
  }

  /** Takes the head of the highest non-empty priority list. */
  shift(): Job | undefined {
    const ends = this.ends;
    if (ends === undefined) return undefined;
    for (let p: Priority = 0; p < 3; p++) {
      const job = ends[p];
      if (job === undefined) continue;
      ends[p] = job.next;
      if (job.next === undefined) ends[3 + p] = undefined;
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
    for (let job = this.ends?.[priority]; job !== undefined; job = job.next) yield job;
  }
}
