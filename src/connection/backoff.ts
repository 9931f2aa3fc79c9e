/** How long to wait between attempts to reach a server. */
export interface BackoffOptions {
  /** The first delay, in ms (default 100). */
  initialDelay?: number;
  /** The longest delay, in ms (default 5000). */
  maxDelay?: number;
  /**
   * The fraction of each delay that is randomised (0 = none, 1 = anywhere from 0 to the full
   * delay; default 0.5), so that many clients do not reconnect in lockstep after an outage.
   */
  jitter?: number;
}

/** Validated backoff settings. */
export type Backoff = Required<BackoffOptions>;

/** Checks the options and fills in defaults; a bad value is a `TypeError`. */
export function resolveBackoff(options: BackoffOptions = {}): Backoff {
  const backoff = {
    initialDelay: options.initialDelay ?? 100,
    maxDelay: options.maxDelay ?? 5000,
    jitter: options.jitter ?? 0.5,
  };
  for (const [name, value] of Object.entries(backoff)) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
      throw new TypeError(`${name} must be a non-negative number, got ${String(value)}`);
  }
  if (backoff.jitter > 1) throw new TypeError(`jitter must be between 0 and 1`);
  return backoff;
}

/**
 * The delay before attempt number `attempt` (0-based count of failures so far): exponential
 * from `initialDelay`, capped at `maxDelay`, with the top `jitter` fraction randomised.
 */
export function backoffDelay(backoff: Backoff, attempt: number, random = Math.random): number {
  const exponential = backoff.initialDelay * 2 ** Math.min(attempt, 30);
  const capped = Math.min(backoff.maxDelay, exponential);
  return Math.round(capped * (1 - backoff.jitter * random()));
}
