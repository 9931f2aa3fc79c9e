/**
 * Progress of the replay at start: a server with a large stored queue is not ready for
 * seconds (a million SQLite jobs: about 4 s), and silence that long looks like a hang. The
 * meter stays quiet for a replay shorter than a second; a longer one is reported then, every
 * few seconds after, and once at the end.
 */

/** One report on a replay in progress (or just over, with `done`). */
export interface ReplayProgress {
  /** The store, as its `description` says (`sqlite:/var/lib/gearbox/queue.sqlite`). */
  readonly store: string;
  /** Jobs replayed so far. */
  readonly replayed: number;
  /** Jobs the store held at the start, when it can say (see {@link CountingStore}). */
  readonly total: number | undefined;
  readonly elapsedMs: number;
  /** Jobs per second so far. */
  readonly rate: number;
  /** The time left at that rate, when `total` is known. */
  readonly remainingMs: number | undefined;
  /** The replay is over: the last report. */
  readonly done: boolean;
}

/**
 * A job store that can count its rows before replaying them, so that the progress can say how
 * long is left. Optional: a store without `countJobs` gets reports of the jobs so far.
 */
export interface CountingStore {
  countJobs(): Promise<number>;
}

/** Whether a store offers {@link CountingStore.countJobs}. */
export function canCount(store: object): store is CountingStore {
  return typeof (store as Partial<CountingStore>).countJobs === 'function';
}

/** When the meter reports. */
export interface ReplayMeterTiming {
  /** The first report, if the replay is still going (default 1000 ms). */
  readonly firstAfterMs?: number;
  /** Between reports after the first (default 2000 ms). */
  readonly everyMs?: number;
}

/** Jobs between two looks at the clock: the replay loop is hot, the clock is not free. */
const CLOCK_EVERY = 1024;

/** Counts replayed jobs and calls `report` when it is time to say how far the replay is. */
export class ReplayMeter {
  private replayed = 0;
  private reports = 0;
  private nextReportAt: number;
  private readonly startedAt: number;
  private readonly everyMs: number;

  constructor(
    private readonly report: (progress: ReplayProgress) => void,
    private readonly store: string,
    private readonly total: number | undefined,
    timing: ReplayMeterTiming = {},
    private readonly now: () => number = () => performance.now(),
  ) {
    this.startedAt = now();
    this.nextReportAt = this.startedAt + (timing.firstAfterMs ?? 1000);
    this.everyMs = timing.everyMs ?? 2000;
  }

  /** One more job replayed. */
  tick(): void {
    this.replayed += 1;
    if (this.replayed % CLOCK_EVERY !== 0) return;
    const now = this.now();
    if (now < this.nextReportAt) return;
    this.nextReportAt = now + this.everyMs;
    this.emit(now, false);
  }

  /** The replay is over: a last report, if any was made (a short replay stays quiet). */
  finish(): void {
    if (this.reports > 0) this.emit(this.now(), true);
  }

  private emit(now: number, done: boolean): void {
    this.reports += 1;
    const elapsedMs = now - this.startedAt;
    const rate = elapsedMs > 0 ? (this.replayed * 1000) / elapsedMs : 0;
    let remainingMs: number | undefined;
    if (done) remainingMs = 0;
    else if (this.total !== undefined && rate > 0)
      remainingMs = (Math.max(0, this.total - this.replayed) * 1000) / rate;
    this.report({
      store: this.store,
      replayed: this.replayed,
      total: this.total,
      elapsedMs,
      rate,
      remainingMs,
      done,
    });
  }
}

const count = (n: number): string => Math.round(n).toLocaleString('en-US');
const duration = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/**
 * A report as one line: `replaying sqlite:/q.sqlite: 412,000 of 1,000,000 jobs (41%),
 * 400,000 jobs/s, about 1.5 s left`; without a total, `412,000 jobs so far`; at the end,
 * `replayed 1,000,000 jobs from sqlite:/q.sqlite in 2.5 s (400,000 jobs/s)`.
 */
export function describeReplayProgress(p: ReplayProgress): string {
  const store = p.store;
  const rate = `${count(p.rate)} jobs/s`;
  if (p.done)
    return `replayed ${count(p.replayed)} jobs from ${store} in ${duration(p.elapsedMs)} (${rate})`;
  const done =
    p.total === undefined
      ? `${count(p.replayed)} jobs so far`
      : `${count(p.replayed)} of ${count(p.total)} jobs (${Math.floor((p.replayed * 100) / Math.max(1, p.total))}%)`;
  const left = p.remainingMs === undefined ? '' : `, about ${duration(p.remainingMs)} left`;
  return `replaying ${store}: ${done}, ${rate}${left}`;
}
