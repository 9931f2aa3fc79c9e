/**
 * The manager's log: gearmand's levels, plain lines on stderr. Kept behind a small interface so
 * that the structured logger planned for the server, the scheduler and the manager can replace
 * it without touching the supervision code.
 */

/** gearmand's levels, most severe first; `-v` moves the threshold one step down the list. */
export const MANAGER_LOG_LEVELS = ['ERROR', 'WARNING', 'NOTICE', 'INFO', 'DEBUG'] as const;
export type ManagerLogLevel = (typeof MANAGER_LOG_LEVELS)[number];

/** What the manager logs through. */
export interface ManagerLogger {
  log(level: ManagerLogLevel, message: string): void;
  /** Whether a line at `level` would be written (to skip building expensive messages). */
  enabled(level: ManagerLogLevel): boolean;
}

/** Writes `   INFO 2026-11-22T12:41:15.043Z message` lines to a stream (stderr by default). */
export class StderrLogger implements ManagerLogger {
  private readonly threshold: number;

  constructor(
    level: ManagerLogLevel = 'NOTICE',
    private readonly out: NodeJS.WritableStream = process.stderr,
  ) {
    this.threshold = MANAGER_LOG_LEVELS.indexOf(level);
  }

  /** The level `steps` below NOTICE (one per `-v`), at most DEBUG. */
  static levelFor(steps: number): ManagerLogLevel {
    const index = Math.min(MANAGER_LOG_LEVELS.length - 1, 2 + Math.max(0, steps));
    return MANAGER_LOG_LEVELS[index] ?? 'DEBUG';
  }

  enabled(level: ManagerLogLevel): boolean {
    return MANAGER_LOG_LEVELS.indexOf(level) <= this.threshold;
  }

  log(level: ManagerLogLevel, message: string): void {
    if (!this.enabled(level)) return;
    this.out.write(`${level.padStart(7)} ${new Date().toISOString()} ${message}\n`);
  }
}
