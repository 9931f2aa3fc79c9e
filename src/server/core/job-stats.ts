/*
 * What the core counts about jobs, per function and in total, for metrics. Counting is on the
 * hot path, so counters are slots of a preallocated array and a time distribution is a fixed
 * typed array of bucket counts: nothing is allocated per job, and an observer turns them into numbers
 * (cumulative buckets, as Prometheus histograms want) only when it reads them.
 */

/** The slots of a counter array. */
export const Count = {
  /** New jobs (coalesced submissions not counted; a replayed job counts). */
  CREATED: 0,
  /** WORK_COMPLETE from the worker. */
  COMPLETED: 1,
  /** WORK_FAIL from the worker, or a CAN_DO_TIMEOUT expiry with `failOnTimeout`. */
  FAILED: 2,
  /** WORK_EXCEPTION from the worker. */
  EXCEPTIONS: 3,
  /** Admin `cancel job`. */
  CANCELLED: 4,
  /** Back in the queue because the worker vanished, sent CANT_DO or RESET_ABILITIES. */
  REQUEUED_WORKER_LOST: 5,
  /** Back in the queue because the worker's CAN_DO_TIMEOUT expired. */
  REQUEUED_TIMEOUT: 6,
  /** Submissions answered with a live job's handle. */
  COALESCED: 7,
  /** Ended with WORK_FAIL after `-j` attempts (instead of a requeue). */
  RETRIES_EXHAUSTED: 8,
} as const;
/** One of {@link Count}. */
export type Count = (typeof Count)[keyof typeof Count];

/** A counter array, one slot per {@link Count}. */
export type Counts = [number, number, number, number, number, number, number, number, number];

/** Job counters since the core started (per function, or all functions together). */
export interface JobCounters {
  readonly created: number;
  readonly completed: number;
  readonly failed: number;
  readonly exceptions: number;
  /**
   * Admin cancels. A job cancelled while running may still report a result, which is counted
   * too (the worker did run it).
   */
  readonly cancelled: number;
  readonly requeuedWorkerLost: number;
  readonly requeuedTimeout: number;
  readonly coalesced: number;
  readonly retriesExhausted: number;
}

/** A fresh counter array. */
export function newCounts(): Counts {
  return [0, 0, 0, 0, 0, 0, 0, 0, 0];
}

/** The counters of an array (a fresh object). */
export function countersOf(counts: Counts | undefined): JobCounters {
  const at = (slot: Count): number => (counts === undefined ? 0 : counts[slot]);
  return {
    created: at(Count.CREATED),
    completed: at(Count.COMPLETED),
    failed: at(Count.FAILED),
    exceptions: at(Count.EXCEPTIONS),
    cancelled: at(Count.CANCELLED),
    requeuedWorkerLost: at(Count.REQUEUED_WORKER_LOST),
    requeuedTimeout: at(Count.REQUEUED_TIMEOUT),
    coalesced: at(Count.COALESCED),
    retriesExhausted: at(Count.RETRIES_EXHAUSTED),
  };
}

/**
 * The upper bounds (inclusive, ms) of the time buckets, from a millisecond to an hour: job
 * systems see both sub-millisecond hand-offs and jobs that wait for hours.
 */
export const TIME_BUCKETS_MS: readonly number[] = [
  1, 2, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000, 300_000, 900_000,
  3_600_000,
];

/** A distribution as an observer reads it: bucket counts over fixed bounds. */
export interface Distribution {
  /** The buckets' upper bounds, inclusive (ms for times: {@link TIME_BUCKETS_MS}). */
  readonly bounds: readonly number[];
  /**
   * Cumulative counts: entry i counts the times ≤ bounds[i]; one more entry at the end (+Inf)
   * counts them all.
   */
  readonly cumulative: readonly number[];
  /** How many times were observed. */
  readonly count: number;
  /** Their sum. */
  readonly sum: number;
}

/** Bucket counts (not cumulative) and the sum of times observed. */
export class TimeHistogram {
  private readonly counts = new Float64Array(TIME_BUCKETS_MS.length + 1);
  private total = 0;

  /** Counts one time in ms (a negative one, from a clock set back, as 0). */
  observe(ms: number): void {
    const bounds = TIME_BUCKETS_MS;
    let i = 0;
    while (i < bounds.length && ms > (bounds[i] as number)) i++;
    this.counts[i] = (this.counts[i] ?? 0) + 1;
    if (ms > 0) this.total += ms;
  }

  /** What an observer reads (fresh arrays). */
  read(): Distribution {
    const cumulative: number[] = [];
    let running = 0;
    for (const n of this.counts) cumulative.push((running += n));
    return { bounds: TIME_BUCKETS_MS, cumulative, count: running, sum: this.total };
  }
}

/** A function's counters and time distributions. */
export class FunctionStats {
  readonly counts = newCounts();
  /** How long jobs were queued before a worker took them. */
  readonly waitTimes = new TimeHistogram();
  /** How long a worker ran a job that it answered (complete, fail, exception). */
  readonly runTimes = new TimeHistogram();
}

/** An empty distribution, for a function that has seen no job. */
export const NO_TIMES: Distribution = new TimeHistogram().read();
