import type { Backoff } from '../protocol/backoff.js';

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

/**
 * Checks a client's backoff options and fills in its defaults; a bad value is a `TypeError`.
 * The delays themselves come from `backoffDelay` in `src/protocol/backoff.ts`.
 */
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
