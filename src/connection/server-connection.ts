import type { Duplex } from 'node:stream';
import { Decoder, DEFAULT_LIMITS, type Packet, type TextLine } from '../protocol/decoder.js';
import { ProtocolError } from '../protocol/errors.js';
import { backoffDelay, type Backoff } from '../protocol/backoff.js';
import { resolveBackoff, type BackoffOptions } from './backoff-options.js';
import { ConnectionError } from './errors.js';
import { formatAddress, type ServerAddress } from './server-address.js';
import { checkTransport, tcpTransport, type Transport } from './transport.js';

/** What a connection reports to its owner (the client, worker or admin client). */
export interface ServerConnectionHandler {
  /**
   * The stream is open. Runs before anything queued behind `connect()` is written, so packets
   * sent here (OPTION_REQ, SET_CLIENT_ID, CAN_DO…) are the first on the wire.
   */
  onConnect?(connection: ServerConnection): void;
  /** A binary packet from the server. */
  onPacket(packet: Packet): void;
  /** An admin text line from the server. */
  onText?(line: TextLine): void;
  /** An established connection went away; everything waiting on it should fail with `error`. */
  onDisconnect?(error: ConnectionError): void;
  /**
   * With `reconnect`, the next attempt is due in `delay` ms; `attempt` counts the attempts in a
   * row since the last success, this one included (so that a daemon can log its backoff).
   */
  onRetry?(delay: number, attempt: number): void;
}

/** How one connection behaves. */
export interface ServerConnectionOptions {
  /** How the stream is opened (default plain TCP). */
  transport?: Transport;
  /** How long one attempt to open the connection may take, in ms (default 5000). */
  connectTimeout?: number;
  /**
   * Keep trying in the background after a failed attempt or a lost connection (workers do;
   * clients connect on demand and fail over instead). Default false.
   */
  reconnect?: boolean;
  /** With `reconnect`, how many failed attempts in a row before giving up (default Infinity). */
  maxReconnectAttempts?: number;
  /** Delays between attempts. */
  backoff?: BackoffOptions;
  /** The largest packet accepted from the server, in bytes (default 64 MiB). */
  maxPacketSize?: number;
}

/*
 * States of a connection:
 *
 *   IDLE        no stream; connect() → CONNECTING
 *   CONNECTING  the transport is opening a stream (one shared promise for every caller)
 *                 ├ success → CONNECTED
 *                 └ failure or connect timeout → WAITING (reconnect on, attempts left) or IDLE
 *   CONNECTED   stream open; loss → WAITING (reconnect on) or IDLE
 *   WAITING     a backoff delay is pending; it expires → CONNECTING; connect() skips it
 *   CLOSED      close() was called; final. close() cancels a pending delay or an attempt.
 */
const State = { IDLE: 0, CONNECTING: 1, CONNECTED: 2, WAITING: 3, CLOSED: 4 } as const;
type State = (typeof State)[keyof typeof State];

/** Names of the states, for diagnostics. */
const STATE_NAMES = ['idle', 'connecting', 'connected', 'waiting', 'closed'] as const;

/** A connection state, as a word. */
export type ServerConnectionState = (typeof STATE_NAMES)[number];

/**
 * One connection to one Gearman server, with the codec on it: it frames what it reads into
 * packets and admin lines, and reconnects with exponential backoff and jitter when asked to.
 * The stream comes from a {@link Transport} (plain TCP by default); all of this works the same
 * whatever the transport.
 */
export class ServerConnection {
  /** `host:port`. */
  readonly name: string;
  private state: State = State.IDLE;
  private socket: Duplex | undefined;
  private connecting: Promise<void> | undefined;
  /** Gives up the attempt in flight (connect timeout, close()). */
  private aborter: AbortController | undefined;
  private delayTimer: NodeJS.Timeout | undefined;
  /** Failed attempts since the last success. */
  private failures = 0;
  /** Until when a failed server is considered down (ms since epoch). */
  private downUntil = 0;
  private readonly backoff: Backoff;
  private readonly connectTimeout: number;
  private readonly maxAttempts: number;
  private readonly transport: Transport;
  private drainWaiters: Array<() => void> = [];

  constructor(
    readonly address: ServerAddress,
    private readonly handler: ServerConnectionHandler,
    private readonly options: ServerConnectionOptions = {},
  ) {
    this.name = formatAddress(address);
    this.transport = options.transport ?? tcpTransport;
    checkTransport(this.transport);
    this.backoff = resolveBackoff(options.backoff);
    this.connectTimeout = options.connectTimeout ?? 5000;
    this.maxAttempts = options.maxReconnectAttempts ?? Infinity;
    if (!(this.connectTimeout > 0)) throw new TypeError('connectTimeout must be a positive number');
    if (!(this.maxAttempts >= 0)) throw new TypeError('maxReconnectAttempts must be >= 0');
  }

  /** The current state, as a word. */
  get status(): ServerConnectionState {
    return STATE_NAMES[this.state];
  }

  /** Whether packets can be sent now. */
  get isConnected(): boolean {
    return this.state === State.CONNECTED;
  }

  /** Whether close() was called. */
  get isClosed(): boolean {
    return this.state === State.CLOSED;
  }

  /**
   * Whether the last attempt failed recently enough that callers with a choice should try
   * another server first.
   */
  get isDown(): boolean {
    if (this.state === State.WAITING) return true;
    return this.state === State.IDLE && this.failures > 0 && Date.now() < this.downUntil;
  }

  /**
   * Connects now, or joins the attempt in flight; resolves at once when already connected.
   * A pending backoff delay is skipped. Rejects with a {@link ConnectionError} when this attempt
   * fails (with `reconnect` on, the background attempts go on regardless).
   */
  connect(): Promise<void> {
    switch (this.state) {
      case State.CONNECTED:
        return Promise.resolve();
      case State.CLOSED:
        return Promise.reject(closedError(this.name));
      case State.CONNECTING:
        return this.connecting ?? Promise.reject(closedError(this.name));
      default:
        this.cancelDelay();
        return this.attempt();
    }
  }

  /**
   * Writes bytes. Returns false when the socket's buffer is full: wait for {@link drain}
   * before writing much more. Throws a {@link ConnectionError} when not connected.
   */
  send(bytes: Buffer): boolean {
    const socket = this.socket;
    if (this.state !== State.CONNECTED || socket === undefined)
      throw new ConnectionError('CONNECTION_LOST', `not connected to ${this.name}`, this.name);
    return socket.write(bytes);
  }

  /** Whether the socket's write buffer is over its high-water mark. */
  get needsDrain(): boolean {
    return this.socket?.writableNeedDrain ?? false;
  }

  /** Resolves when the write buffer has drained, or the connection is gone. */
  drain(): Promise<void> {
    if (!this.needsDrain || this.state !== State.CONNECTED) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Closes for good: cancels a pending reconnect delay or attempt, and ends the stream. */
  async close(): Promise<void> {
    if (this.state === State.CLOSED) return;
    const socket = this.socket;
    const wasConnected = this.state === State.CONNECTED;
    const connecting = this.connecting;
    this.state = State.CLOSED;
    this.cancelDelay();
    this.releaseDrainWaiters();
    if (connecting !== undefined) {
      this.aborter?.abort(closedError(this.name));
      await connecting.catch(() => undefined);
    }
    if (!wasConnected || socket === undefined) return;
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.end();
    // A peer that never closes its side must not keep us waiting.
    const timer = setTimeout(() => socket.destroy(), 1000);
    await closed;
    clearTimeout(timer);
    this.handler.onDisconnect?.(closedError(this.name));
  }

  private attempt(): Promise<void> {
    this.state = State.CONNECTING;
    const abort = new AbortController();
    this.aborter = abort;
    const timer = setTimeout(
      () => abort.abort(new Error(`no answer within ${this.connectTimeout} ms`)),
      this.connectTimeout,
    );
    const promise: Promise<void> = this.open(abort.signal).finally(() => {
      clearTimeout(timer);
      if (this.aborter === abort) this.aborter = undefined;
      if (this.connecting === promise) this.connecting = undefined;
    });
    this.connecting = promise;
    return promise;
  }

  /** One attempt: the transport opens the stream, then it is wired to the decoder. */
  private async open(signal: AbortSignal): Promise<void> {
    let stream: Duplex;
    try {
      stream = await this.transport.open(this.address, { signal });
      if (stream.destroyed) {
        // Gone already (reset at once): a failed attempt like any other, its error not ours.
        stream.on('error', () => undefined);
        throw new Error('connection closed');
      }
    } catch (err) {
      if (this.state === State.CLOSED) throw closedError(this.name);
      const cause = err instanceof Error ? err : new Error(String(err));
      this.afterFailure();
      throw new ConnectionError(
        'CONNECT_FAILED',
        `cannot connect to ${this.name}: ${cause.message}`,
        this.name,
        { cause },
      );
    }
    if (this.state === State.CLOSED) {
      stream.destroy();
      throw closedError(this.name);
    }
    this.failures = 0;
    this.state = State.CONNECTED;
    this.socket = stream;
    this.wire(stream);
    try {
      this.handler.onConnect?.(this);
    } catch (err) {
      stream.destroy(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** Hooks an established stream to the decoder and the handler. */
  private wire(socket: Duplex): void {
    let protocolError: ProtocolError | undefined;
    let lastError: Error | undefined;
    socket.on('error', (err) => (lastError = err));
    const decoder = new Decoder(
      {
        packet: (packet) => this.handler.onPacket(packet),
        text: (line) => this.handler.onText?.(line),
      },
      {
        ...DEFAULT_LIMITS,
        maxPacketSize: this.options.maxPacketSize ?? DEFAULT_LIMITS.maxPacketSize,
      },
    );
    socket.on('data', (chunk: Buffer) => {
      if (protocolError) return;
      try {
        decoder.push(chunk);
      } catch (err) {
        if (!(err instanceof ProtocolError)) throw err;
        protocolError = err;
        socket.destroy();
      }
    });
    socket.on('drain', () => this.releaseDrainWaiters());
    socket.once('close', () => {
      if (this.socket === socket) this.socket = undefined;
      this.releaseDrainWaiters();
      if (this.state === State.CLOSED) return;
      const cause = protocolError ?? lastError;
      const error = protocolError
        ? new ConnectionError(
            'PROTOCOL_ERROR',
            `${this.name} broke the protocol: ${protocolError.message}`,
            this.name,
            { cause },
          )
        : new ConnectionError(
            'CONNECTION_LOST',
            `lost the connection to ${this.name}${cause ? `: ${cause.message}` : ''}`,
            this.name,
            { cause },
          );
      this.state = State.IDLE;
      this.handler.onDisconnect?.(error);
      if (this.state === State.IDLE) this.scheduleReconnect();
    });
  }

  private afterFailure(): void {
    this.failures += 1;
    this.downUntil = Date.now() + backoffDelay(this.backoff, this.failures - 1);
    this.state = State.IDLE;
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (!this.options.reconnect || this.failures >= this.maxAttempts) return;
    this.state = State.WAITING;
    const delay = backoffDelay(this.backoff, this.failures);
    this.delayTimer = setTimeout(() => {
      this.delayTimer = undefined;
      if (this.state === State.WAITING) this.attempt().catch(() => undefined);
    }, delay);
    this.handler.onRetry?.(delay, this.failures + 1);
  }

  private cancelDelay(): void {
    if (this.delayTimer !== undefined) clearTimeout(this.delayTimer);
    this.delayTimer = undefined;
    if (this.state === State.WAITING) this.state = State.IDLE;
  }

  private releaseDrainWaiters(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

function closedError(name: string): ConnectionError {
  return new ConnectionError('CLOSED', `the connection to ${name} was closed`, name);
}
