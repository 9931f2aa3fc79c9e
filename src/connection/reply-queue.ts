import type { Packet } from '../protocol/decoder.js';
import { PacketType } from '../protocol/packet-types.js';
import { ServerError } from './errors.js';

/** A request that the server will answer with one packet of the `expect` type (or ERROR). */
export interface PendingReply {
  readonly expect: PacketType;
  resolve(packet: Packet): void;
  reject(error: Error): void;
}

/**
 * The requests on one connection that still wait for their answer, oldest first. A Gearman
 * server answers requests in the order it read them, so the head of the queue owns the next
 * JOB_CREATED, STATUS_RES, ECHO_RES, OPTION_RES — or the ERROR that replaces any of them.
 */
export class ReplyQueue {
  private items: PendingReply[] = [];
  private head = 0;

  constructor(private readonly server: string) {}

  /** How many answers are outstanding. */
  get size(): number {
    return this.items.length - this.head;
  }

  /** Records a request just written to the socket. */
  push(pending: PendingReply): void {
    this.items.push(pending);
  }

  /**
   * Hands an answer to the oldest request. Returns false when the packet is not an answer the
   * head expects (nothing outstanding, or another type), leaving the queue as it was.
   */
  take(packet: Packet): boolean {
    const pending = this.items[this.head];
    if (pending === undefined) return false;
    if (packet.type === PacketType.ERROR) {
      this.shift();
      const [code, text] = packet.args;
      pending.reject(
        new ServerError(code?.toString('latin1') ?? '', text?.toString('utf8') ?? '', this.server),
      );
      return true;
    }
    if (packet.type !== pending.expect) return false;
    this.shift();
    pending.resolve(packet);
    return true;
  }

  /** Fails every outstanding request (the connection is gone). */
  failAll(error: Error): void {
    const items = this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    for (const pending of items) pending.reject(error);
  }

  private shift(): void {
    this.items[this.head] = undefined as unknown as PendingReply;
    this.head += 1;
    // Compact now and then instead of shifting the array for every answer.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}
