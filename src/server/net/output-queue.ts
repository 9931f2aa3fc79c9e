const EMPTY = Buffer.alloc(0);
/** Replies up to this size are copied into the shared batch buffer. */
const SMALL_REPLY = 1024;
/** The size of one batch buffer. */
const BATCH_SIZE = 64 * 1024;

/**
 * A reserved place in the output, waiting for the store to commit a job: `hold()` hands it out,
 * and the holder fills and releases it directly, so neither looks for it among the others.
 */
export class HeldSegment {
  released = false;
  /** What fills the reserved place: the reply to the request that made the hold. */
  reserved: Buffer | Buffer[] | undefined = undefined;
  /** What was sent to the connection after the hold, waiting behind it (made when needed). */
  behind: Buffer[] | undefined = undefined;

  /** True once a reply has filled the place. */
  get filled(): boolean {
    return this.reserved !== undefined;
  }
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
      if (last.behind) last.behind.push(data);
      else last.behind = [data];
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

  /** Reserves the current end of the output for a reply that comes later. */
  hold(): HeldSegment {
    const segment = new HeldSegment();
    this.segments.push(segment);
    return segment;
  }

  /** Puts bytes in the reserved place of `segment` (a hold of this queue). */
  fill(segment: HeldSegment, data: Buffer): void {
    const reserved = segment.reserved;
    if (reserved === undefined) segment.reserved = data;
    else if (Array.isArray(reserved)) reserved.push(data);
    else segment.reserved = [reserved, data];
    this.heldBytes += data.length;
  }

  /** Ends the hold; output up to the next unreleased hold becomes ready. */
  release(segment: HeldSegment): void {
    segment.released = true;
    let head = this.segments[0];
    while (head?.released) {
      this.segments.shift();
      const reserved = head.reserved;
      if (Array.isArray(reserved)) for (const part of reserved) this.moveToReady(part);
      else if (reserved !== undefined) this.moveToReady(reserved);
      if (head.behind) for (const part of head.behind) this.moveToReady(part);
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
