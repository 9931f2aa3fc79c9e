import type { Duplex } from 'node:stream';
import {
  Decoder,
  type DecoderLimits,
  type DecoderSink,
  type Packet,
  type TextLine,
} from '../../protocol/decoder.js';
import type { ConnectionInfo } from '../core/effects.js';
import { LARGE_BUFFER, largeBufferPassed } from './memory-reclaimer.js';
import type { NetCounters } from './net-figures.js';
import { OutputQueue } from './output-queue.js';

/**
 * The stream of one peer: a TCP socket, a TLS socket, or any duplex a caller hands to
 * `NetServer.handle` (tests use in-process pairs). Sockets also say who is on the other end.
 */
export type PeerSocket = Duplex & {
  readonly remoteAddress?: string | undefined;
  readonly remotePort?: number | undefined;
};

/** What a connection reports to the server that owns it. */
export interface PeerConnectionHost {
  /** A binary packet arrived on an open connection. */
  packet(conn: PeerConnection, packet: Packet): void;
  /** An admin text line arrived on an open connection. */
  text(conn: PeerConnection, line: TextLine): void;
}

/*
 * States of a connection:
 *
 *   OPEN      reading and writing
 *     ├─ core says close / protocol error → CLOSING (read no more; flush, then end the socket)
 *     └─ output over the cap / socket error → DEAD (destroyed at once)
 *   CLOSING   waits for holds to be released and output to be written, then ends → DEAD
 *   DEAD      the socket is destroyed or closing; packets and sends are ignored. The server calls
 *             core.disconnect once, from the socket's 'close' event.
 */
const ConnState = { OPEN: 0, CLOSING: 1, DEAD: 2 } as const;
type ConnState = (typeof ConnState)[keyof typeof ConnState];

/** Below this many bytes, one flush's chunks are joined into one buffer before writing. */
const JOIN_LIMIT = 256 * 1024;

/**
 * How long a refused connection is kept half-closed, its input read and dropped, so that the
 * peer reads the refusal: closing a socket with unread input resets it, and a reset can discard
 * the reply before the peer has read it.
 */
const REFUSAL_LINGER_MS = 2000;

/**
 * One peer's stream as the server sees it: its decoder, its ordered output (with holds for
 * store commits) and its flow control. The owning server applies the core's effects to it.
 */
export class PeerConnection implements DecoderSink {
  private readonly decoder: Decoder;
  /** Unsent output, in reply order. */
  readonly output = new OutputQueue();
  private state: ConnState = ConnState.OPEN;
  /** Set while this connection is on the server's list of connections to flush. */
  flushQueued = false;
  /** Whether reading is paused because the peer is far behind in reading its replies. */
  private readPaused = false;
  /** The socket's own unsent bytes at the last flush. */
  private socketBacklog = 0;
  /** Set by {@link refuse}: the close waits for the peer (or a deadline) instead of resetting. */
  private lingerOnClose = false;

  constructor(
    readonly socket: PeerSocket,
    readonly info: ConnectionInfo,
    /** `host:port` of the peer, for logs. */
    readonly peer: string,
    limits: DecoderLimits,
    private readonly host: PeerConnectionHost,
    private readonly counters: NetCounters,
  ) {
    this.decoder = new Decoder(this, limits);
  }

  /** Whether packets from this connection are still processed. */
  get open(): boolean {
    return this.state === ConnState.OPEN;
  }

  /** Whether the connection is gone or going (sends to it are dropped). */
  get dead(): boolean {
    return this.state === ConnState.DEAD;
  }

  /** Bytes owed to the peer: queued here plus buffered in the socket. */
  get unsentBytes(): number {
    return this.output.pendingBytes + this.socketBacklog;
  }

  /** Feeds received bytes to the decoder; throws its ProtocolError. */
  receive(chunk: Buffer): void {
    if (this.state !== ConnState.OPEN) return;
    this.counters.bytesIn += chunk.length;
    this.decoder.push(chunk);
  }

  /** @internal Decoder callback. */
  packet(packet: Packet): void {
    this.counters.packetsIn[packet.type]!++;
    if (this.state === ConnState.OPEN) this.host.packet(this, packet);
    // A packet's payload is its last argument.
    const payload = packet.args[packet.args.length - 1];
    if (payload !== undefined && payload.length >= LARGE_BUFFER) largeBufferPassed(payload.length);
  }

  /** @internal Decoder callback. */
  text(line: TextLine): void {
    this.counters.adminLinesIn++;
    if (this.state === ConnState.OPEN) this.host.text(this, line);
  }

  /**
   * Writes the ready output to the socket, joined into one write so that a turn's replies cost
   * one syscall. Returns the socket's backlog afterwards.
   */
  flush(): number {
    this.flushQueued = false;
    if (this.state === ConnState.DEAD) return 0;
    if (this.output.hasReady) {
      const { chunks, bytes } = this.output.take();
      this.counters.bytesOut += bytes;
      const socket = this.socket;
      // Told once the socket has written (and let go of) the last byte.
      const written = bytes >= LARGE_BUFFER ? () => largeBufferPassed(bytes) : undefined;
      if (chunks.length === 1) socket.write(chunks[0], written);
      else if (bytes <= JOIN_LIMIT) socket.write(Buffer.concat(chunks, bytes));
      else {
        // Large payloads: hand them over without copying, as one writev.
        socket.cork();
        const last = chunks.length - 1;
        for (let i = 0; i < last; i++) socket.write(chunks[i]);
        socket.write(chunks[last], written);
        process.nextTick(() => socket.uncork());
      }
    }
    this.socketBacklog = this.socket.writableLength;
    if (this.state === ConnState.CLOSING && !this.output.holding && !this.output.hasReady) {
      this.state = ConnState.DEAD;
      if (this.lingerOnClose) this.endAndLinger();
      else this.socket.end(() => this.socket.destroy());
    }
    return this.socketBacklog;
  }

  /** Stops reading until the socket drains (the peer is not keeping up with its replies). */
  pauseReading(): void {
    if (this.readPaused || this.state === ConnState.DEAD) return;
    this.readPaused = true;
    this.socket.pause();
    this.socket.once('drain', () => this.resumeReading());
  }

  private resumeReading(): void {
    this.socketBacklog = this.socket.writableLength;
    if (!this.readPaused || this.state !== ConnState.OPEN) return;
    this.readPaused = false;
    this.socket.resume();
  }

  /** Reads no more; once pending output (and holds) are flushed the socket is ended. */
  closeAfterFlush(): void {
    if (this.state !== ConnState.OPEN) return;
    this.state = ConnState.CLOSING;
    this.socket.pause();
  }

  /**
   * Refuses the peer: `reply` (the reason) goes out after what is already owed, then the socket
   * is ended; what the peer still sends is read and dropped meanwhile (see REFUSAL_LINGER_MS).
   */
  refuse(reply: Buffer): void {
    if (this.state !== ConnState.OPEN) return;
    this.counters.countOut(reply);
    this.output.write(reply);
    this.state = ConnState.CLOSING;
    this.lingerOnClose = true;
  }

  private endAndLinger(): void {
    const socket = this.socket;
    socket.end();
    const timer = setTimeout(() => socket.destroy(), REFUSAL_LINGER_MS);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
    // Input of a dead connection is ignored; reading it only keeps the kernel from a reset.
    if (this.readPaused) this.readPaused = false;
    socket.resume();
  }

  /** Destroys the socket now, dropping unsent output. */
  destroy(): void {
    if (this.state === ConnState.DEAD && this.socket.destroyed) return;
    this.state = ConnState.DEAD;
    this.socket.destroy();
  }
}
