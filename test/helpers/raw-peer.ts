/**
 * A bare peer for server tests: writes whatever bytes a test gives it (malformed ones included)
 * and reads the server's replies as packets or admin lines, with timeouts. Over TCP, or over
 * any duplex stream handed to the server in process.
 */
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import type { Duplex } from 'node:stream';
import { Decoder, type Packet } from '../../src/protocol/decoder.js';

/** One connection to a server under test (a TCP socket unless made with {@link RawPeer.over}). */
export class RawPeer<S extends Duplex = Socket> {
  private readonly packets: Packet[] = [];
  private text = '';
  private waiter: (() => void) | undefined;
  private readonly decoder: Decoder;
  /** Resolves when the server closes the connection (or it fails). */
  readonly closed: Promise<void>;
  private isClosed = false;

  private constructor(readonly socket: S) {
    this.decoder = new Decoder(
      {
        packet: (p) => this.packets.push({ ...p, args: p.args.map((a) => Buffer.from(a)) }),
        text: () => undefined,
      },
      { maxPacketSize: 256 * 1024 * 1024, maxLineLength: 1024 * 1024 },
    );
    this.closed = new Promise((resolve) => {
      socket.once('close', () => {
        this.isClosed = true;
        this.wake();
        resolve();
      });
    });
    socket.on('error', () => undefined);
  }

  /** Connects to 127.0.0.1:`port`. `mode` 'text' keeps replies as text for admin commands. */
  static async connect(port: number, mode: 'packets' | 'text' = 'packets'): Promise<RawPeer> {
    const socket = connect({ host: '127.0.0.1', port });
    await once(socket, 'connect');
    return RawPeer.over(socket, mode);
  }

  /** Speaks over an open stream (e.g. one end of a pair whose other end the server serves). */
  static over<T extends Duplex>(stream: T, mode: 'packets' | 'text' = 'packets'): RawPeer<T> {
    const peer = new RawPeer(stream);
    stream.on('data', (chunk: Buffer) => {
      if (mode === 'text') peer.text += chunk.toString('latin1');
      else peer.decoder.push(chunk);
      peer.wake();
    });
    return peer;
  }

  /** Whether the server has closed the connection. */
  get isOpen(): boolean {
    return !this.isClosed;
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  private async waitFor<T>(take: () => T | undefined, what: string, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = take();
      if (value !== undefined) return value;
      if (this.isClosed) throw new Error(`connection closed while waiting for ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Writes raw bytes. */
  write(data: Buffer | string): void {
    this.socket.write(data);
  }

  /** The next packet the server sent. */
  nextPacket(timeoutMs = 5000): Promise<Packet> {
    return this.waitFor(() => this.packets.shift(), 'a packet', timeoutMs);
  }

  /** Text received up to and including `terminator` (admin replies). */
  readUntil(terminator: string, timeoutMs = 5000): Promise<string> {
    return this.waitFor(
      () => {
        const end = this.text.indexOf(terminator);
        if (end === -1) return undefined;
        const out = this.text.slice(0, end + terminator.length);
        this.text = this.text.slice(end + terminator.length);
        return out;
      },
      JSON.stringify(terminator),
      timeoutMs,
    );
  }

  /** Text received up to the end of the first match of `pattern` (which must not be global). */
  readUntilMatch(pattern: RegExp, timeoutMs = 5000): Promise<string> {
    return this.waitFor(
      () => {
        const match = pattern.exec(this.text);
        if (!match) return undefined;
        const end = match.index + match[0].length;
        const out = this.text.slice(0, end);
        this.text = this.text.slice(end);
        return out;
      },
      String(pattern),
      timeoutMs,
    );
  }

  /** Whether the server closes the connection within `timeoutMs`. */
  async closesWithin(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const result = await Promise.race([
      this.closed.then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
    ]);
    clearTimeout(timer);
    return result;
  }

  /** Packets received but not yet taken. */
  get bufferedPackets(): number {
    return this.packets.length;
  }

  /** Closes the connection from this side. */
  close(): void {
    this.socket.destroy();
  }
}
