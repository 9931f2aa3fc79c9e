import { connect as netConnect, type Socket } from 'node:net';
import { Decoder, DEFAULT_LIMITS, type Packet, type TextLine } from '../protocol/decoder.js';
import { ProtocolError } from '../protocol/errors.js';
import { backoffDelay, type Backoff } from '../protocol/backoff.js';
import { resolveBackoff, type BackoffOptions } from './backoff.js';
import { ConnectionError } from './errors.js';
import { formatAddress, type ServerAddress } from './server-address.js';

/** What a connection reports to its owner (the client, worker or admin client). */
export interface ConnectionHandler {
  /**
   * The socket is open. Runs before anything queued behind `connect()` is written, so packets
   * sent here (OPTION_REQ, SET_CLIENT_ID, CAN_DO…) are the first on the wire.
   */
  onConnect?(connection: Connection): void;
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
export interface ConnectionOptions {
  /** How long one attempt to open the TCP connection may take, in ms (default 5000). */
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
 *   IDLE        no socket; connect() → CONNECTING
 *   CONNECTING  TCP handshake in flight (one shared promise for every caller)
 *                 ├ success → CONNECTED
 *                 └ failure → WAITING (reconnect on, attempts left) or IDLE
 *   CONNECTED   socket open; loss → WAITING (reconnect on) or IDLE
 *   WAITING     a backoff delay is pending; it expires → CONNECTING; connect() skips it
 *   CLOSED      close() was called; final. close() cancels a pending delay.
 */
const State = { IDLE: 0, CONNECTING: 1, CONNECTED: 2, WAITING: 3, CLOSED: 4 } as const;
type State = (typeof State)[keyof typeof State];

/** Names of the states, for diagnostics. */
const STATE_NAMES = ['idle', 'connecting', 'connected', 'waiting', 'closed'] as const;

/** A connection state, as a word. */
export type ConnectionState = (typeof STATE_NAMES)[number];

/**
 * One TCP connection to one Gearman server, with the codec on it: it frames what it reads into
 * packets and admin lines, and reconnects with exponential backoff and jitter when asked to.
 */
export class Connection {
  /** `host:port`. */
  readonly name: string;
  private state: State = State.IDLE;
  private socket: Socket | undefined;
  private connecting: Promise<void> | undefined;
  private delayTimer: NodeJS.Timeout | undefined;
  /** Failed attempts since the last success. */
  private failures = 0;
  /** Until when a failed server is considered down (ms since epoch). */
  private downUntil = 0;
  private readonly backoff: Backoff;
  private readonly connectTimeout: number;
  private readonly maxAttempts: number;
  private drainWaiters: Array<() => void> = [];

  constructor(
    readonly address: ServerAddress,
    private readonly handler: ConnectionHandler,
    private readonly options: ConnectionOptions = {},
  ) {
    this.name = formatAddress(address);
    this.backoff = resolveBackoff(options.backoff);
    this.connectTimeout = options.connectTimeout ?? 5000;
    this.maxAttempts = options.maxReconnectAttempts ?? Infinity;
    if (!(this.connectTimeout > 0)) throw new TypeError('connectTimeout must be a positive number');
    if (!(this.maxAttempts >= 0)) throw new TypeError('maxReconnectAttempts must be >= 0');
  }

  /** The current state, as a word. */
  get status(): ConnectionState {
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

  /** Closes for good: cancels any pending reconnect delay and ends the socket. */
  async close(): Promise<void> {
    if (this.state === State.CLOSED) return;
    const socket = this.socket;
    const wasConnected = this.state === State.CONNECTED;
    this.state = State.CLOSED;
    this.cancelDelay();
    this.releaseDrainWaiters();
    if (socket === undefined) return;
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    if (wasConnected) {
      socket.end();
      // A peer that never closes its side must not keep us waiting.
      const timer = setTimeout(() => socket.destroy(), 1000);
      await closed;
      clearTimeout(timer);
    } else {
      socket.destroy();
      await closed;
    }
    if (wasConnected) this.handler.onDisconnect?.(closedError(this.name));
  }

  private attempt(): Promise<void> {
    this.state = State.CONNECTING;
    const promise = new Promise<void>((resolve, reject) => {
      const socket = netConnect({ host: this.address.host, port: this.address.port });
      this.socket = socket;
      let settled = false;
      let lastError: Error | undefined;
      socket.setTimeout(this.connectTimeout);
      const onTimeout = (): void => {
        lastError = new Error(`no answer within ${this.connectTimeout} ms`);
        socket.destroy();
      };
      socket.on('timeout', onTimeout);
      socket.on('error', (err) => (lastError = err));
      socket.once('connect', () => {
        if (this.state === State.CLOSED) {
          socket.destroy();
          return;
        }
        socket.setTimeout(0);
        socket.off('timeout', onTimeout);
        socket.setNoDelay(true);
        socket.setKeepAlive(true, 30_000);
        settled = true;
        this.failures = 0;
        this.state = State.CONNECTED;
        this.connecting = undefined;
        this.wire(socket, () => lastError);
        try {
          this.handler.onConnect?.(this);
        } catch (err) {
          socket.destroy(err instanceof Error ? err : new Error(String(err)));
        }
        resolve();
      });
      socket.once('close', () => {
        if (settled) return;
        settled = true;
        this.connecting = undefined;
        if (this.socket === socket) this.socket = undefined;
        const error =
          this.state === State.CLOSED
            ? closedError(this.name)
            : new ConnectionError(
                'CONNECT_FAILED',
                `cannot connect to ${this.name}: ${lastError?.message ?? 'connection closed'}`,
                this.name,
                { cause: lastError },
              );
        if (this.state !== State.CLOSED) this.afterFailure();
        reject(error);
      });
    });
    this.connecting = promise;
    return promise;
  }

  /** Hooks an established socket to the decoder and the handler. */
  private wire(socket: Socket, lastError: () => Error | undefined): void {
    let protocolError: ProtocolError | undefined;
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
      const cause = protocolError ?? lastError();
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
