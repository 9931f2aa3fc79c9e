/**
 * The delay before retry number `attempt` (1 = the first retry): exponential from `baseMs`,
 * capped at `capMs`, with "equal jitter" — half fixed, half random — so that retries of jobs that
 * failed together spread out but never come sooner than half the nominal delay.
 */
export function retryDelay(
  attempt: number,
  baseMs: number,
  capMs: number,
  random: () => number = Math.random,
): number {
  const exponent = Math.min(Math.max(attempt - 1, 0), 40);
  const nominal = Math.min(capMs, baseMs * 2 ** exponent);
  return Math.round(nominal / 2 + random() * (nominal / 2));
}
