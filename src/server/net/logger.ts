import { createWriteStream, openSync, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { LOG_LEVELS, type LogLevel } from '../core/effects.js';

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** gearmand's time format: `2026-11-22 12:41:15.043013` (local time, microseconds). */
function timestamp(date: Date): string {
  const micros = String(date.getMilliseconds() * 1000).padStart(6, '0');
  return (
    `${date.getFullYear()}-${pad2(date.getMonth() + 1)}-${pad2(date.getDate())} ` +
    `${pad2(date.getHours())}:${pad2(date.getMinutes())}:${pad2(date.getSeconds())}.${micros}`
  );
}

/**
 * The server log: gearmand's line format (`   INFO 2026-11-22 12:41:15.043013 [  main ] …`),
 * written to stderr, to a file (appended), or nowhere. Lines above the configured level are
 * dropped before they are formatted, so DEBUG logging costs nothing when it is off.
 */
export class Logger {
  private readonly threshold: number;
  private readonly file: WriteStream | undefined;
  private readonly toStderr: boolean;

  /** `destination` is `stderr`, `none`, or a file path; throws if the file cannot be opened. */
  constructor(
    destination: string,
    readonly level: LogLevel,
  ) {
    this.threshold = LOG_LEVELS.indexOf(level);
    this.toStderr = destination === 'stderr';
    if (!this.toStderr && destination !== 'none') {
      // Opened now so that a log file that cannot be written stops the start with a clear error.
      const fd = openSync(destination, 'a');
      this.file = createWriteStream(destination, { fd });
      // A log file that cannot be written must not take the server down; say so once.
      this.file.once('error', (err) => {
        process.stderr.write(`gearbox: cannot write log file ${destination}: ${err.message}\n`);
      });
    }
  }

  /** Whether a line at `level` would be written. */
  enabled(level: LogLevel): boolean {
    return LOG_LEVELS.indexOf(level) <= this.threshold;
  }

  /** Writes one line if `level` is at or above the threshold. */
  log(level: LogLevel, message: string, thread = 'main'): void {
    if (!this.enabled(level)) return;
    const line = `${level.padStart(7)} ${timestamp(new Date())} [${thread.padStart(6)} ] ${message}\n`;
    if (this.toStderr) process.stderr.write(line);
    else if (this.file && !this.file.destroyed) this.file.write(line);
  }

  /** Flushes and closes a log file. */
  async close(): Promise<void> {
    if (!this.file || this.file.destroyed || this.file.closed) return;
    const closed = once(this.file, 'close').catch(() => undefined);
    this.file.end();
    await closed;
  }
}
