import type { CoreState } from './core-state.js';
import type { FunctionQueue } from './function-queue.js';
import { ServerJobState, type ServerJob } from './server-job.js';
import type { SleepMachine } from './sleep-machine.js';

/**
 * Where acknowledged jobs wait to run: their function's priority lists, or the delay heap until
 * their time (see the job states in server-job.ts). A job that becomes runnable wakes a worker.
 */
export class RunQueue {
  constructor(
    private readonly state: CoreState,
    private readonly sleep: SleepMachine,
  ) {}

  /**
   * Puts an acknowledged job where it can run: its list now (queued since `now`, core time), or
   * the delay heap.
   */
  makeRunnable(job: ServerJob, now: number, wakeWorkers = true): void {
    const state = this.state;
    if (job.when > 0 && job.when * 1000 > state.clock.now()) {
      job.state = ServerJobState.DELAYED;
      job.fn.delayed[job.priority]++;
      state.delayed.push(job);
      return;
    }
    this.enqueue(job, now);
    if (wakeWorkers) this.sleep.wake(job.fn, 1);
  }

  /** Puts a job at the tail of its list (a new, due or requeued job), queued since `now`. */
  enqueue(job: ServerJob, now: number): void {
    job.state = ServerJobState.QUEUED;
    job.since = now;
    job.fn.push(job);
  }

  /** Moves every due delayed job into its list and wakes workers for them. */
  promoteDue(): void {
    const state = this.state;
    const heap = state.delayed;
    let top = heap.peek();
    if (top === undefined) return;
    const now = state.clock.now();
    const since = state.now();
    while (top !== undefined && top.when * 1000 <= now) {
      heap.pop();
      top.fn.delayed[top.priority]--;
      if (top.ignored) {
        state.forget(top);
        top.state = ServerJobState.DONE;
      } else {
        this.enqueue(top, since);
        this.sleep.wake(top.fn, 1);
      }
      top = heap.peek();
    }
  }

  /** The next runnable job of `fn`, freeing the ignored ones it passes. */
  takeNext(fn: FunctionQueue): ServerJob | undefined {
    for (;;) {
      const job = fn.shift();
      if (job === undefined || !job.ignored) return job;
      this.state.forget(job);
      job.state = ServerJobState.DONE;
    }
  }
}
