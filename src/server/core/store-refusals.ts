/** How often a store outage's refusals are summed up in the log. */
export const REFUSAL_SUMMARY_MS = 5000;

/**
 * Keeps the log readable while the store refuses background jobs: during a database outage
 * every submission is refused, and a line each (255,132 lines in 4.5 s in one probe) drowns
 * everything else. The first refusal is logged whole; later ones are counted and summed up every
 * {@link REFUSAL_SUMMARY_MS} while they go on; the first commit after them says the store is back.
 *
 *   QUIET    a refusal → log it, arm the summary timer → REFUSING
 *   REFUSING a refusal → count it; the timer → log the count (if any) and re-arm if there was
 *            one, else → QUIET; a commit → log "accepting again" with the total → QUIET
 */
export class StoreRefusals {
  private refusing = false;
  /** Refusals since the last line. */
  private counted = 0;
  /** Refusals since the first one of this run. */
  private total = 0;
  private lastReason = '';

  /** Whether refusals are being counted (a commit then ends the run). */
  get active(): boolean {
    return this.refusing;
  }

  /** A refused job: the line to log now (the first of a run), or undefined when counted. */
  refused(what: string, reason: string): string | undefined {
    this.total++;
    this.lastReason = reason;
    if (this.refusing) {
      this.counted++;
      return undefined;
    }
    this.refusing = true;
    return `store: cannot add job ${what}: ${reason}`;
  }

  /** The summary timer went off: the line to log, if any, and whether to re-arm the timer. */
  summary(): { line: string | undefined; again: boolean } {
    if (!this.refusing) return { line: undefined, again: false };
    if (this.counted === 0) {
      // Quiet for a whole period: the next refusal is news again.
      this.refusing = false;
      this.total = 0;
      return { line: undefined, again: false };
    }
    const line = `store: ${this.counted} more background job(s) refused in the last ${REFUSAL_SUMMARY_MS / 1000} s (last: ${this.lastReason})`;
    this.counted = 0;
    return { line, again: true };
  }

  /** A job was committed: the line saying the refusals ended, if they had begun. */
  committed(): string | undefined {
    if (!this.refusing) return undefined;
    const line = `store: accepting background jobs again after ${this.total} refused`;
    this.refusing = false;
    this.counted = 0;
    this.total = 0;
    return line;
  }
}
