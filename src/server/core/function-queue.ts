import type { Priority } from '../../protocol/packet-types.js';
import { byteStringToText } from './byte-strings.js';
import type { FunctionStats } from './job-stats.js';
import { LazyMap, LazySet } from './lazy-collections.js';
import type { ServerJob } from './server-job.js';

/**
 * One function: its three FIFO priority lists (HIGH, NORMAL, LOW), its coalescing index, its
 * counters, its statistics and the sleeping workers that can do it. Lists are intrusive singly linked lists
 * through `ServerJob.next`, so enqueue and dequeue are O(1) without arrays that shift or grow.
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
  private ends: (ServerJob | undefined)[] | undefined = undefined;
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
  readonly byUnique = new LazyMap<string, ServerJob>();
  /** maxqueue per priority; 0 = unlimited. */
  readonly maxQueue: [number, number, number] = [0, 0, 0];
  /** Counters and time distributions, made by the first event they count. */
  stats: FunctionStats | undefined = undefined;

  constructor(
    /** The name as a byte string. */
    readonly name: string,
  ) {
    this.textName = byteStringToText(name);
  }

  /** The name as bytes, for packets. */
  get nameBytes(): Buffer {
    return (this.nameBuffer ??= Buffer.from(this.name, 'latin1'));
  }

  /** Appends a job at the tail of its priority list. */
  push(job: ServerJob): void {
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
  shift(): ServerJob | undefined {
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

  /**
   * When the longest-waiting queued job was queued (core time), or undefined with none queued:
   * each list is in the order jobs were queued, so it is the earliest of the three heads.
   */
  oldestQueuedSince(): number | undefined {
    const ends = this.ends;
    if (ends === undefined) return undefined;
    let oldest: number | undefined;
    for (let p = 0; p < 3; p++) {
      const head = ends[p];
      if (head !== undefined && (oldest === undefined || head.since < oldest)) oldest = head.since;
    }
    return oldest;
  }
}
