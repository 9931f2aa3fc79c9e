import { statSync } from 'node:fs';
import type Database from 'better-sqlite3';

/** Free space worth giving back; below this, new rows simply reuse the free pages. */
const RECLAIM_MIN_BYTES = 4 * 1024 * 1024;
/** Pages one step frees at most, so that a batch arriving meanwhile waits milliseconds only. */
const STEP_PAGES = 2048;
/**
 * The WAL is cut back to this size when SQLite restarts it (`journal_size_limit`), and past it
 * is truncated when the queue is empty. A busy server's WAL stays under it: SQLite checkpoints
 * every 1000 pages (4 MB), so only a burst of large jobs grows it further.
 */
export const WAL_SIZE_LIMIT = 8 * 1024 * 1024;

/** `PRAGMA auto_vacuum` values. */
const AutoVacuum = { NONE: 0, FULL: 1, INCREMENTAL: 2 } as const;

/**
 * Gives a SQLite queue file's free space back to the file system once the queue is empty or has
 * shrunk a lot — without it, a file that once held a large backlog keeps its size for ever.
 *
 * New files are created with `auto_vacuum=INCREMENTAL` (by `openSqliteQueue`), so a step is a
 * bounded `PRAGMA incremental_vacuum`. A file made with `auto_vacuum=NONE` — gearmand's — can
 * only be switched by a VACUUM, which rewrites every row; that is done the first time its table
 * is empty (at open, or when the queue drains), when it costs milliseconds. Until then its free
 * pages are reused by new rows but not returned. After a step that freed pages, and whenever the
 * queue is empty with a WAL over {@link WAL_SIZE_LIMIT}, the WAL is checkpointed and truncated:
 * only then does the main file shrink.
 */
export class SqliteSpace {
  private autoVacuum: number;
  /** Whether pages were freed since the last checkpoint. */
  private shrunk = false;
  private readonly pageSize: number;
  private readonly busyTimeout: number;
  private readonly freePages: Database.Statement;
  private readonly pageCount: Database.Statement;
  private readonly anyRow: Database.Statement;

  constructor(
    private readonly db: Database.Database,
    private readonly file: string,
    table: string,
  ) {
    this.autoVacuum = Number(db.pragma('auto_vacuum', { simple: true }));
    this.busyTimeout = Number(db.pragma('busy_timeout', { simple: true }));
    this.pageSize = Number(db.pragma('page_size', { simple: true }));
    this.freePages = db.prepare('PRAGMA freelist_count').pluck();
    this.pageCount = db.prepare('PRAGMA page_count').pluck();
    this.anyRow = db.prepare(`SELECT 1 FROM ${table} LIMIT 1`).pluck();
  }

  /**
   * One step, outside any transaction: reads two header fields and one row (microseconds) and,
   * when there is space to give back, frees up to 2048 pages or converts an empty NONE file.
   * Returns true when another step is due. Never waits for another connection: throws what
   * SQLite throws (e.g. SQLITE_BUSY while another program writes); a later step tries again.
   */
  step(): boolean {
    // Never wait for another connection here (a reader blocks a TRUNCATE checkpoint for as long
    // as it reads): the writer thread has batches to apply. Busy now means: try again later.
    this.db.pragma('busy_timeout = 0');
    try {
      return this.tryStep();
    } finally {
      this.db.pragma(`busy_timeout = ${this.busyTimeout}`);
    }
  }

  private tryStep(): boolean {
    const free = Number(this.freePages.get());
    const empty = this.anyRow.get() === undefined;
    const worthIt =
      free * this.pageSize >= RECLAIM_MIN_BYTES &&
      (empty || free * 4 >= Number(this.pageCount.get()));
    if (worthIt && this.autoVacuum === AutoVacuum.INCREMENTAL) {
      this.db.pragma(`incremental_vacuum(${STEP_PAGES})`);
      this.shrunk = true;
      if (free > STEP_PAGES) return true;
    } else if (worthIt && empty && this.autoVacuum === AutoVacuum.NONE) {
      this.db.pragma('auto_vacuum = INCREMENTAL');
      this.db.exec('VACUUM');
      this.autoVacuum = Number(this.db.pragma('auto_vacuum', { simple: true }));
      this.shrunk = true;
    }
    // The main file only gets shorter when the WAL holding the vacuum is checkpointed.
    if (this.shrunk || (empty && this.walBytes() > WAL_SIZE_LIMIT)) {
      const [result] = this.db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[];
      // A reader kept it from finishing: the next step checkpoints again.
      this.shrunk = result?.busy !== 0;
    }
    return false;
  }

  private walBytes(): number {
    try {
      return statSync(`${this.file}-wal`).size;
    } catch {
      return 0;
    }
  }
}
