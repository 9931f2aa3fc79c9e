/**
 * Two connected in-process streams, like the two ends of a socket (Node 22's
 * `stream.duplexPair()`, which Node 20 lacks): what one writes, the other reads. A write is
 * acknowledged only once the other side has read it, so a side that stops reading makes the
 * writer's buffer grow as a socket's would; ending one side ends the other; destroying one
 * destroys both, as a reset would.
 */
import { Duplex } from 'node:stream';

class PairSide extends Duplex {
  other!: PairSide;
  /** The other side's write, acknowledged once this side reads again. */
  waitingWrite: (() => void) | undefined;

  constructor() {
    super({ allowHalfOpen: false });
  }

  override _read(): void {
    const acknowledge = this.waitingWrite;
    this.waitingWrite = undefined;
    acknowledge?.();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    if (this.other.destroyed) {
      callback();
      return;
    }
    this.other.waitingWrite = callback;
    this.other.push(chunk);
  }

  override _final(callback: () => void): void {
    if (!this.other.destroyed) this.other.push(null);
    callback();
  }

  override _destroy(error: Error | null, callback: (error: Error | null) => void): void {
    if (!this.other.destroyed) this.other.destroy();
    callback(error);
  }
}

/** A connected pair of duplex streams. */
export function duplexPair(): [Duplex, Duplex] {
  const a = new PairSide();
  const b = new PairSide();
  a.other = b;
  b.other = a;
  return [a, b];
}
