import type { JobStore, StoredJob } from '../../storage/job-store.js';
import { errorMessage } from '../../protocol/errors.js';
import type { HeldSegment } from './output-queue.js';
import type { PeerConnection } from './peer-connection.js';

/** A place reserved in a connection's output for a reply to a pending commit; one list per commit. */
interface PendingHold {
  readonly conn: PeerConnection;
  readonly segment: HeldSegment;
  next: PendingHold | undefined;
}

/**
 * Store commits in flight and the output they hold back (durable acknowledgements).
 *
 * The core asks for a commit (`persist`) and for the submitter's output to be reserved at that
 * point (`hold`). When the store answers, the core's reply is computed with the commit's holds
 * open: replies to a holding connection fill its reserved place (`fill`), so they keep request
 * order; then the holds are released and what waited behind them becomes ready to write.
 */
export class CommitHolds {
  /** The places reserved in connections' output for each pending commit's replies. */
  private readonly holds = new Map<number, PendingHold>();
  /** The commit whose answer is being applied, if any. */
  private filling: number | undefined;
  private inFlight = 0;

  constructor(
    private readonly store: JobStore | undefined,
    /** Computes and applies the core's answer to the commit `token` (with `fill` open). */
    private readonly answer: (token: number, error: string | undefined) => void,
    /** A connection's held output was released: it has bytes to write. */
    private readonly released: (conn: PeerConnection) => void,
  ) {}

  /** Commits not yet answered by the store. */
  get pending(): number {
    return this.inFlight;
  }

  /** Hands the job to the store; the answer comes back through `answer`, never synchronously. */
  persist(token: number, job: StoredJob): void {
    this.inFlight++;
    const store = this.store;
    if (!store) {
      queueMicrotask(() => this.settled(token, undefined));
      return;
    }
    try {
      store.addThen(job, this.committed, token);
    } catch (err) {
      // A store that throws instead of answering: still answered, after this turn's effects.
      queueMicrotask(() => this.settled(token, errorMessage(err)));
    }
  }

  /** Reserves `conn`'s output at its current end until the commit `token` is answered. */
  hold(token: number, conn: PeerConnection): void {
    const hold: PendingHold = { conn, segment: conn.output.hold(), next: undefined };
    let last = this.holds.get(token);
    if (last === undefined) this.holds.set(token, hold);
    else {
      while (last.next) last = last.next;
      last.next = hold;
    }
  }

  /**
   * Puts a reply to the commit being answered in the first place `conn` reserved for it and has
   * not filled yet (a connection that submitted twice onto one pending job holds two). False
   * when there is none: then the reply is an ordinary write.
   */
  fill(conn: PeerConnection, data: Buffer): boolean {
    const token = this.filling;
    if (token === undefined) return false;
    for (let hold = this.holds.get(token); hold; hold = hold.next) {
      if (hold.conn === conn && !hold.segment.filled) {
        conn.output.fill(hold.segment, data);
        return true;
      }
    }
    return false;
  }

  /** The store's answer for the commit `token`. */
  private readonly committed = (err: Error | undefined, token: number): void => {
    this.settled(token, err === undefined ? undefined : errorMessage(err));
  };

  private settled(token: number, error: string | undefined): void {
    this.inFlight--;
    this.filling = token;
    try {
      this.answer(token, error);
    } finally {
      this.filling = undefined;
    }
    let hold = this.holds.get(token);
    this.holds.delete(token);
    for (; hold; hold = hold.next) {
      hold.conn.output.release(hold.segment);
      this.released(hold.conn);
    }
  }
}
