import type { LogLevel } from '../core/effects.js';
import type { NetCounters } from './net-figures.js';
import type { PeerConnection } from './peer-connection.js';

/**
 * Writes connections' output and keeps peers from making the server buffer without bound.
 *
 * A write waits for `setImmediate`, after every I/O callback of this loop iteration: store
 * commits settle one by one and many workers' results reach the same client, so replies caused
 * by other connections' events leave in one write per connection instead of one per event.
 * (Replies to a connection's own input are written at once, by the server's read handler.)
 * Order is kept: every reply goes through the connection's output queue, in order.
 *
 * Flow control: a connection whose socket owes more than `pauseAt` bytes stops being read until
 * it drains; one that owes more than `cap` (queued here plus in the socket) is dropped.
 */
export class OutputFlusher {
  private readonly toFlush: PeerConnection[] = [];
  /** Whether a `setImmediate` will write the connections on `toFlush`. */
  private flushPending = false;
  /** Unsent bytes a connection may owe before it is dropped. */
  readonly cap: number;
  private readonly pauseAt: number;

  constructor(
    maxOutputBuffer: number,
    maxPacketSize: number,
    private readonly counters: NetCounters,
    private readonly log: (level: LogLevel, message: string) => void,
  ) {
    // One largest reply must always fit, or a worker taking a large job would be dropped.
    this.cap = Math.max(maxOutputBuffer, maxPacketSize + 65_536);
    this.pauseAt = Math.min(1024 * 1024, Math.floor(this.cap / 2));
  }

  /** After bytes were queued on `conn`: drops it if it owes too much, else schedules a write. */
  queued(conn: PeerConnection): void {
    if (conn.unsentBytes > this.cap) this.dropSlowPeer(conn);
    else this.schedule(conn);
  }

  /** Closes `conn` once what it was sent is written. */
  closeAfterFlush(conn: PeerConnection): void {
    conn.closeAfterFlush();
    this.schedule(conn);
  }

  /** Puts the connection on the list written at the end of this turn (once). */
  schedule(conn: PeerConnection): void {
    if (conn.flushQueued) return;
    conn.flushQueued = true;
    this.toFlush.push(conn);
    if (!this.flushPending) {
      this.flushPending = true;
      setImmediate(this.flushTurn);
    }
  }

  private readonly flushTurn = (): void => {
    this.flushPending = false;
    this.flushAll();
  };

  /** Writes every scheduled connection's ready output: one socket write per connection. */
  flushAll(): void {
    const list = this.toFlush;
    for (let i = 0; i < list.length; i++) {
      const conn = list[i] as PeerConnection;
      // A connection flushed early (by its own read) and not queued again has nothing new.
      if (conn.flushQueued) this.flushOne(conn);
    }
    list.length = 0;
  }

  /** Writes one connection's ready output and applies flow control to it. */
  flushOne(conn: PeerConnection): void {
    const backlog = conn.flush();
    if (backlog > this.cap) this.dropSlowPeer(conn);
    else if (backlog > this.pauseAt) conn.pauseReading();
  }

  private dropSlowPeer(conn: PeerConnection): void {
    this.counters.slowPeersDropped++;
    this.log(
      'WARNING',
      `${conn.peer}: ${conn.unsentBytes} bytes unsent, over the limit of ${this.cap}; dropping the connection`,
    );
    conn.destroy();
  }
}
