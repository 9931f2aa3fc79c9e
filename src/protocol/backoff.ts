/**
 * The one backoff formula of the package, for every layer: the client's reconnects, the job
 * store's reconnects, the scheduler's retries of failed jobs and its wait for a database at start.
 * It lives here because `src/protocol/` is the one folder every layer may import; it is a pure
 * function, like the rest of the folder (no timers: callers arm their own).
 */

/** Exponential backoff with jitter, in milliseconds. */
export interface Backoff {
  /** The delay after the first failure. */
  readonly initialDelay: number;
  /** The longest delay. */
  readonly maxDelay: number;
  /**
   * The fraction of each delay that is randomised (0 = none, 1 = anywhere from 0 to the full
   * delay), so that many peers that failed together do not retry in lockstep.
   */
  readonly jitter: number;
}

/**
 * The delay before attempt number `attempt` (the 0-based count of failures so far): exponential
 * from `initialDelay`, capped at `maxDelay`, with the top `jitter` fraction randomised. With
 * `jitter` 0.5 ("equal jitter") it is between half and all of the nominal delay.
 */
export function backoffDelay(backoff: Backoff, attempt: number, random = Math.random): number {
  const exponential = backoff.initialDelay * 2 ** Math.min(Math.max(attempt, 0), 30);
  const capped = Math.min(backoff.maxDelay, exponential);
  return Math.round(capped * (1 - backoff.jitter * random()));
}
