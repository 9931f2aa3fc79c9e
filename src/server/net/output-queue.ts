const EMPTY = Buffer.alloc(0);
/** Replies up to this size are copied into the shared batch buffer. */
const SMALL_REPLY = 1024;
/** The size of one batch buffer. */
const BATCH_SIZE = 64 * 1024;

/** A reserved place in the output, waiting for the store to commit a job. */
interface HeldSegment {
  readonly token: number;
  released: boolean;
  /** What fills the reserved place (the reply to the request that made the hold). */
  readonly reserved: Buffer[];
  /** What was sent to the connection after the hold, waiting behind it. */
  readonly behind: Buffer[];
}

/**
 * One connection's unsent output, in the order the replies must reach the peer.
 *
 * Without holds, written bytes go straight to the `ready` list, which the connection writes to
 * its socket once per event-loop turn. A hold (the core waiting for the store to commit a
 * background job before `JOB_CREATED`) reserves a place: bytes sent for that hold's token fill
 * it, every other write queues behind it, and when the hold is released everything up to the
 * next unreleased hold becomes ready. So replies keep request order even though commits finish
 * later.
 */
export class OutputQueue {
  private ready: Buffer[] = [];
  private readyBytes = 0;
  /**
   * Small replies are copied side by side into this buffer, so a turn's thousands of
   * JOB_CREATED packets become one chunk without an array of them or a concat. Bytes handed
   * out (`batchStart`) are never written again: the socket may still hold them.
   */
  private batch: Buffer = EMPTY;
  private batchStart = 0;
  private batchUsed = 0;
  private heldBytes = 0;
  private readonly segments: HeldSegment[] = [];

  /** Bytes queued here and not yet handed to the socket (ready or behind a hold). */
  get pendingBytes(): number {
    return this.readyBytes + this.heldBytes;
  }

  /** Whether a hold is still waiting for its commit. */
  get holding(): boolean {
    return this.segments.length > 0;
  }

  /** Whether there are bytes ready to be written now. */
  get hasReady(): boolean {
    return this.readyBytes > 0;
  }

  /** Queues bytes at the end of the output. */
  write(data: Buffer): void {
    const last = this.segments[this.segments.length - 1];
    if (last) {
      last.behind.push(data);
      this.heldBytes += data.length;
    } else {
      this.pushReady(data);
    }
  }

  private pushReady(data: Buffer): void {
    this.readyBytes += data.length;
    if (data.length > SMALL_REPLY) {
      this.sealBatch();
      this.ready.push(data);
      return;
    }
    if (this.batchUsed + data.length > this.batch.length) {
      this.sealBatch();
      this.batch = Buffer.allocUnsafe(BATCH_SIZE);
      this.batchStart = 0;
      this.batchUsed = 0;
    }
    this.batchUsed += data.copy(this.batch, this.batchUsed);
  }

  /** Moves the batch's unsent bytes to the ready list, in order. */
  private sealBatch(): void {
    if (this.batchUsed === this.batchStart) return;
    this.ready.push(this.batch.subarray(this.batchStart, this.batchUsed));
    this.batchStart = this.batchUsed;
  }

  /** Reserves the current end of the output for `token`'s reply. */
  hold(token: number): void {
    this.segments.push({ token, released: false, reserved: [], behind: [] });
  }

  /**
   * Puts bytes in `token`'s reserved place. Returns false when this queue has no such hold
   * (then the caller writes them normally).
   */
  fill(token: number, data: Buffer): boolean {
    // The same commit may be held twice here (two submissions coalesced onto one new job):
    // each reply fills the next empty place.
    let segment: HeldSegment | undefined;
    for (const s of this.segments) {
      if (s.token !== token || s.released) continue;
      segment ??= s;
      if (s.reserved.length === 0) {
        segment = s;
        break;
      }
    }
    if (!segment) return false;
    segment.reserved.push(data);
    this.heldBytes += data.length;
    return true;
  }

  /** Ends `token`'s holds; output up to the next unreleased hold becomes ready. */
  release(token: number): void {
    for (const s of this.segments) if (s.token === token) s.released = true;
    let head = this.segments[0];
    while (head?.released) {
      this.segments.shift();
      for (const part of head.reserved) this.moveToReady(part);
      for (const part of head.behind) this.moveToReady(part);
      head = this.segments[0];
    }
  }

  /** Takes every ready chunk, in order, leaving the ready list empty. */
  take(): { chunks: Buffer[]; bytes: number } {
    this.sealBatch();
    const taken = { chunks: this.ready, bytes: this.readyBytes };
    this.ready = [];
    this.readyBytes = 0;
    return taken;
  }

  private moveToReady(part: Buffer): void {
    this.heldBytes -= part.length;
    this.pushReady(part);
  }
}
