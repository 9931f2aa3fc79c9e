/**
 * One raw Gearman connection for the load generator: a socket, the project's {@link Decoder},
 * and (unless told otherwise) writes gathered per incoming chunk so that a worker's
 * WORK_COMPLETE and its next GRAB_JOB (or a client's next batch of submits) leave in one
 * `write`. Without gathering every `send` is its own write, as libgearman does it.
 */
import { connect, type Socket } from 'node:net';
import { Decoder, type Packet } from '../../src/protocol/index.js';
import { BenchError } from './bench-error.js';

/** Called for every binary packet the server sends; `args` are views valid only during the call. */
export type PacketHandler = (packet: Packet) => void;

/** A raw socket to a Gearman server that hands out decoded packets. */
export class RawConnection {
  private readonly decoder: Decoder;
  /** Buffers queued while a chunk is being decoded; flushed as one write afterwards. */
  private pending: Buffer[] = [];
  private inChunk = false;
  private closedByUs = false;
  private failure: ((err: Error) => void) | undefined;

  private constructor(
    private readonly socket: Socket,
    onPacket: PacketHandler,
    private readonly gather: boolean,
  ) {
    this.decoder = new Decoder({
      packet: onPacket,
      text: (line) => this.fail(new BenchError('SERVER_ERROR', `unexpected text: ${line.line}`)),
    });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => {
      if (!this.closedByUs)
        this.fail(new BenchError('CONNECTION_LOST', 'server closed the connection'));
    });
  }

  /**
   * Opens a connection to 127.0.0.1:`port`. `gather` false makes every {@link send} its own
   * socket write, even inside a packet callback.
   */
  static open(port: number, onPacket: PacketHandler, gather = true): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port });
      const onError = (err: Error): void => reject(err);
      socket.once('error', onError);
      socket.once('connect', () => {
        socket.off('error', onError);
        resolve(new RawConnection(socket, onPacket, gather));
      });
    });
  }

  /** Registers who hears about a lost connection or a protocol failure (at most once). */
  onFailure(handler: (err: Error) => void): void {
    this.failure = handler;
  }

  /** Queues bytes; inside a packet callback they go out with the others after the chunk. */
  send(bytes: Buffer): void {
    if (this.inChunk && this.gather) this.pending.push(bytes);
    else this.socket.write(bytes);
  }

  /** Closes the socket; a close we asked for is not a failure. */
  close(): void {
    this.closedByUs = true;
    this.socket.destroy();
  }

  private receive(chunk: Buffer): void {
    this.inChunk = true;
    try {
      this.decoder.push(chunk);
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)));
    } finally {
      this.inChunk = false;
    }
    const out = this.pending;
    if (out.length === 0) return;
    this.pending = [];
    this.socket.write(out.length === 1 ? (out[0] as Buffer) : Buffer.concat(out));
  }

  private fail(err: Error): void {
    if (this.closedByUs) return;
    this.closedByUs = true;
    this.socket.destroy();
    const handler = this.failure;
    this.failure = undefined;
    handler?.(err);
  }
}

/**
 * Connections opened at once: enough to be quick, few enough that a server with a short listen
 * backlog (gearmand's is 32) drops no SYN, which would stall a connect for a second or more.
 */
const CONNECT_GROUP = 32;

/** Runs `open(i)` for i < `count`, at most {@link CONNECT_GROUP} at a time, in order. */
export async function openInGroups<T>(
  count: number,
  open: (i: number) => Promise<T>,
): Promise<T[]> {
  const out: T[] = [];
  for (let first = 0; first < count; first += CONNECT_GROUP) {
    const group = Array.from({ length: Math.min(CONNECT_GROUP, count - first) }, (_, k) =>
      open(first + k),
    );
    out.push(...(await Promise.all(group)));
  }
  return out;
}
