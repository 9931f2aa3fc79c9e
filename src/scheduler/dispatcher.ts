import type { Priority } from '../protocol/packet-types.js';

/** One run of a job, as handed to a job server. */
export interface DispatchRequest {
  readonly functionName: string;
  readonly payload: Buffer;
  /** The Gearman unique id: derived from the job id and due time, so re-dispatches coalesce. */
  readonly unique: string;
  readonly priority: Priority;
  /** Submit as a background job and count the job server's acceptance as success. */
  readonly background: boolean;
}

/**
 * How a dispatch ended. `failed`: the worker reported WORK_FAIL or WORK_EXCEPTION (counts as an
 * attempt). `unknown`: the job server could not be reached or the connection was lost, so the
 * job may or may not have run (the job goes back to the queue without counting an attempt).
 */
export type DispatchOutcome =
  | { readonly status: 'complete' }
  | { readonly status: 'failed'; readonly reason: string }
  | { readonly status: 'unknown'; readonly reason: string };

/** Runs jobs on job servers. The scheduler's only dependency on the Gearman client. */
export interface Dispatcher {
  /** Never rejects: every problem is an outcome. */
  dispatch(request: DispatchRequest): Promise<DispatchOutcome>;
  close(): Promise<void>;
}
