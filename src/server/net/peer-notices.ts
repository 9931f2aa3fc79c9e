import type { LogLevel } from '../core/effects.js';

/** How long one peer address stays quiet after a logged notice. */
const QUIET_MS = 60_000;
/** Addresses remembered at most; past this the memory is cleared (a flood of addresses). */
const MAX_ADDRESSES = 10_000;

/**
 * Logs what a peer did wrong at a level the operator sees, but once per address per minute: a
 * client that retries a refused request in a loop must not flood the log. The next line for
 * that address says how many were left out.
 */
export class PeerNotices {
  private readonly seen = new Map<string, { at: number; skipped: number }>();

  constructor(
    private readonly log: (level: LogLevel, message: string) => void,
    private readonly now: () => number,
    private readonly level: LogLevel = 'ERROR',
  ) {}

  /** Logs `message` about the peer at `address` unless it was told about within the minute. */
  notice(address: string, message: string): void {
    const now = this.now();
    const entry = this.seen.get(address);
    if (entry !== undefined && now - entry.at < QUIET_MS) {
      entry.skipped++;
      return;
    }
    const skipped = entry?.skipped ?? 0;
    if (entry === undefined && this.seen.size >= MAX_ADDRESSES) this.seen.clear();
    this.seen.set(address, { at: now, skipped: 0 });
    this.log(
      this.level,
      skipped > 0 ? `${message} (and ${skipped} more from ${address} in the last minute)` : message,
    );
  }
}
