import { EventEmitter } from 'node:events';
import { JobResult } from './job-result.js';

/** A progress report from the worker, in the order it arrived. */
export type JobUpdate =
  /** WORK_DATA: a partial result. */
  | { readonly type: 'data'; readonly data: Buffer }
  /** WORK_WARNING: a warning the job carried on after. */
  | { readonly type: 'warning'; readonly data: Buffer }
  /** WORK_STATUS: how far along the job is (the numbers are the worker's, verbatim). */
  | { readonly type: 'status'; readonly numerator: number; readonly denominator: number }
  /**
   * WORK_COMPLETE: the last item of an iteration over the job; `data` is the result's bytes
   * (so code that prints every `data` prints the result too) and `result` the same as
   * `await job.result()` gives.
   */
  | { readonly type: 'complete'; readonly data: Buffer; readonly result: JobResult };

/** What the worker sent while the job ran (everything but the completion). */
type ProgressUpdate = Exclude<JobUpdate, { type: 'complete' }>;

/** The events a {@link Job} emits. */
export type JobEvents = {
  /** JOB_CREATED: the server accepted the job under this handle. */
  created: [handle: string];
  data: [data: Buffer];
  warning: [data: Buffer];
  status: [numerator: number, denominator: number];
};

/** How the client drives a job; handed to the executor given to the constructor. */
export interface JobControl {
  created(handle: string): void;
  update(update: ProgressUpdate): void;
  complete(data: Buffer): void;
  fail(error: Error): void;
}

/**
 * A foreground job in flight. Follow it with events (`created`, `data`, `warning`, `status`)
 * or with `for await (const update of job)`; await {@link Job.result} for the outcome, which
 * rejects with a typed error (`JobExceptionError`, `JobFailedError`, `TimeoutError`,
 * `AbortError`, `ConnectionError`, `ServerError`).
 */
export class Job extends EventEmitter<JobEvents> implements AsyncIterable<JobUpdate> {
  /** The job handle, once the server has answered (see `created`). */
  handle: string | undefined;
  private readonly outcome: Promise<JobResult>;
  private readonly handleKnown: Promise<string>;
  private settled = false;
  private readonly updates: ProgressUpdate[] = [];
  private completion: JobResult | undefined;
  private wakeIterators: Array<() => void> = [];
  private failure: Error | undefined;

  constructor(
    /** The function name the job was submitted to. */
    readonly functionName: string,
    /** The unique id it was submitted with ('' for none). */
    readonly unique: string,
    executor: (control: JobControl) => void,
  ) {
    super();
    let resolveResult!: (result: JobResult) => void;
    let rejectResult!: (error: Error) => void;
    let resolveHandle!: (handle: string) => void;
    let rejectHandle!: (error: Error) => void;
    this.outcome = new Promise<JobResult>((resolve, reject) => {
      resolveResult = resolve;
      rejectResult = reject;
    });
    this.handleKnown = new Promise<string>((resolve, reject) => {
      resolveHandle = resolve;
      rejectHandle = reject;
    });
    // Callers who only listen to events must not see an unhandled rejection.
    this.outcome.catch(() => undefined);
    this.handleKnown.catch(() => undefined);
    executor({
      created: (handle) => {
        if (this.settled || this.handle !== undefined) return;
        this.handle = handle;
        resolveHandle(handle);
        this.emit('created', handle);
      },
      update: (update) => {
        if (this.settled) return;
        this.updates.push(update);
        this.wake();
        if (update.type === 'status') this.emit('status', update.numerator, update.denominator);
        else this.emit(update.type, update.data);
      },
      complete: (data) => {
        if (this.settled) return;
        this.settled = true;
        this.completion = new JobResult(this.handle ?? '', data);
        resolveResult(this.completion);
        this.wake();
      },
      fail: (error) => {
        if (this.settled) return;
        this.settled = true;
        this.failure = error;
        rejectHandle(error);
        rejectResult(error);
        this.wake();
      },
    });
  }

  /** Whether the job has finished (completed, failed, timed out or been abandoned). */
  get done(): boolean {
    return this.settled;
  }

  /** Resolves with the outcome: the result bytes, or rejects with a typed error. */
  result(): Promise<JobResult> {
    return this.outcome;
  }

  /** Resolves with the handle once the server has created the job. */
  created(): Promise<string> {
    return this.handleKnown;
  }

  /**
   * Yields every progress update (from the start of the job, whenever iteration begins), then
   * one `complete` item with the result, and ends; throws the job's error when it fails.
   */
  async *[Symbol.asyncIterator](): AsyncIterator<JobUpdate> {
    let index = 0;
    for (;;) {
      while (index < this.updates.length) {
        const update = this.updates[index++];
        if (update !== undefined) yield update;
      }
      if (this.settled) {
        if (this.failure) throw this.failure;
        const result = this.completion;
        if (result !== undefined) yield { type: 'complete', data: result.data, result };
        return;
      }
      await new Promise<void>((resolve) => this.wakeIterators.push(resolve));
    }
  }

  private wake(): void {
    const waiters = this.wakeIterators;
    this.wakeIterators = [];
    for (const resolve of waiters) resolve();
  }
}
