import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { ProtocolError, GearboxError } from '../../protocol/errors.js';
import type { Packet, TextLine, DecoderLimits } from '../../protocol/decoder.js';
import type { JobStore, StoredJob } from '../../storage/job-store.js';
import type { ConnectionId, ConnectionInfo, Effect, LogLevel } from '../core/effects.js';
import { Connection, type ConnectionHost } from './connection.js';
import type { Logger } from './logger.js';
import type { HeldSegment } from './output-queue.js';
import { PeerNotices } from './peer-notices.js';
import { AdminReply } from '../../protocol/admin.js';
import { encodePacket } from '../../protocol/encoder.js';
import { Magic, PacketType } from '../../protocol/packet-types.js';

/** The part of the core the I/O shell drives (`ServerCore` satisfies it). */
export interface CorePort {
  connect(info: ConnectionInfo): Effect[];
  disconnect(conn: ConnectionId): Effect[];
  receive(conn: ConnectionId, packet: Packet): Effect[];
  receiveText(conn: ConnectionId, line: TextLine): Effect[];
  persistDone(token: number, error?: string): Effect[];
  timerFired(key: string): Effect[];
  readonly runningJobs: number;
}

/** Settings of the I/O shell. */
export interface NetServerOptions {
  /** Addresses to listen on; empty = every interface. */
  readonly listen: readonly string[];
  /** The port; 0 picks a free one (then every address shares the first one's port). */
  readonly port: number;
  readonly backlog: number;
  readonly limits: DecoderLimits;
  /** Unsent bytes a connection may owe before it is dropped. */
  readonly maxOutputBuffer: number;
  readonly keepalive: { readonly enabled: boolean; readonly idle: number };
  /** How long a graceful stop waits for running jobs, in ms. */
  readonly shutdownTimeoutMs: number;
}

/** Codes for failures of the I/O shell itself. */
export type NetErrorCode = 'LISTEN_FAILED';

/** The server could not bind or listen. */
export class NetError extends GearboxError<NetErrorCode> {}

/** Node's timers overflow above this many milliseconds (about 24.8 days). */
const MAX_TIMER_DELAY = 2 ** 31 - 1;

/** How long a stop waits for peers to take their last bytes before destroying sockets. */
const CLOSE_LINGER_MS = 2000;

/** Whether an address is on the loopback interface (IPv4, IPv6, or IPv4-mapped IPv6). */
export function isLoopback(address: string): boolean {
  return address.startsWith('127.') || address === '::1' || address.startsWith('::ffff:127.');
}

function socketFd(socket: Socket): number | undefined {
  // Node keeps the descriptor on the internal handle; gearmand shows it in `workers`.
  const handle = (socket as unknown as { _handle?: { fd?: unknown } })._handle;
  return typeof handle?.fd === 'number' && handle.fd >= 0 ? handle.fd : undefined;
}

/** A place reserved in a connection's output for a reply to a pending commit; one list per commit. */
interface PendingHold {
  readonly conn: Connection;
  readonly segment: HeldSegment;
  next: PendingHold | undefined;
}

/**
 * The I/O shell of the job server: TCP listeners, one {@link Connection} per socket, and the
 * loop that feeds the core and applies its effects in order — writes (coalesced per turn),
 * closes, store commits with output holds, timers, shutdown and log lines.
 */
export class NetServer implements ConnectionHost {
  private readonly listeners: Server[] = [];
  private readonly connections = new Map<ConnectionId, Connection>();
  private readonly toFlush: Connection[] = [];
  /** Whether a `setImmediate` will write the connections on `toFlush`. */
  private flushPending = false;
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** The places reserved in connections' output for each pending commit's replies. */
  private readonly holds = new Map<number, PendingHold>();
  /** The commit whose `persistDone` effects are being applied, if any. */
  private fillingToken: number | undefined;
  private pendingCommits = 0;
  private nextConnectionId = 1;
  private nextFallbackFd = 10_000;
  private stopping: Promise<void> | undefined;
  private readonly outputCap: number;
  private readonly pauseAt: number;
  private readonly refusals = new PeerNotices(
    (level, message) => this.log(level, message),
    () => Date.now(),
  );
  private resolveClosed!: () => void;
  /** Resolves once the server has stopped, whoever stopped it. */
  readonly closed = new Promise<void>((resolve) => (this.resolveClosed = resolve));

  constructor(
    private readonly core: CorePort,
    private readonly store: JobStore | undefined,
    private readonly logger: Logger,
    private readonly options: NetServerOptions,
  ) {
    // One largest reply must always fit, or a worker taking a large job would be dropped.
    this.outputCap = Math.max(options.maxOutputBuffer, options.limits.maxPacketSize + 65_536);
    this.pauseAt = Math.min(1024 * 1024, Math.floor(this.outputCap / 2));
  }

  /** The addresses actually bound (after `listen()`). */
  get addresses(): AddressInfo[] {
    return this.listeners.flatMap((server) => {
      const address = server.address();
      return address !== null && typeof address === 'object' ? [address] : [];
    });
  }

  /** How many connections are open. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** Binds every listen address; rejects with a {@link NetError} naming the one that failed. */
  async listen(): Promise<void> {
    const hosts = this.options.listen.length > 0 ? this.options.listen : [undefined];
    let port = this.options.port;
    try {
      for (const host of hosts) {
        const server = createServer({ noDelay: true, pauseOnConnect: false }, (socket) =>
          this.accept(socket),
        );
        this.listeners.push(server);
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen({ port, host, backlog: this.options.backlog }, () => {
            server.off('error', reject);
            resolve();
          });
        }).catch((err: Error) => {
          throw new NetError(
            'LISTEN_FAILED',
            `cannot listen on ${host ?? '*'}:${port}: ${err.message}`,
            { cause: err },
          );
        });
        server.on('error', (err) => this.log('ERROR', `listener error: ${err.message}`));
        const bound = server.address() as AddressInfo;
        port = bound.port;
        this.log('INFO', `Listening on ${bound.address}:${bound.port}`);
      }
    } catch (err) {
      for (const server of this.listeners) server.close();
      this.listeners.length = 0;
      throw err;
    }
  }

  private accept(socket: Socket): void {
    if (this.stopping) {
      socket.destroy();
      return;
    }
    const rawAddress = socket.remoteAddress ?? '';
    const address = rawAddress.startsWith('::ffff:') ? rawAddress.slice(7) : rawAddress;
    const info: ConnectionInfo = {
      id: this.nextConnectionId++,
      fd: socketFd(socket) ?? this.nextFallbackFd++,
      address,
      loopback: isLoopback(rawAddress),
    };
    const peer = `${address}:${socket.remotePort ?? 0}`;
    socket.setNoDelay(true);
    if (this.options.keepalive.enabled) {
      const idle = this.options.keepalive.idle;
      socket.setKeepAlive(true, idle > 0 ? idle * 1000 : 0);
    }
    const conn = new Connection(socket, info, peer, this.options.limits, this);
    this.connections.set(info.id, conn);
    this.log('INFO', `Accepted connection from ${peer}`);
    socket.on('data', (chunk: Buffer) => this.onData(conn, chunk));
    socket.on('error', (err) => this.log('INFO', `${peer}: ${err.message}`));
    socket.on('close', () => this.onClose(conn));
    this.run(() => this.core.connect(info));
  }

  private onData(conn: Connection, chunk: Buffer): void {
    try {
      conn.receive(chunk);
    } catch (err) {
      const refusal = err instanceof ProtocolError ? refusalReply(err) : undefined;
      if (refusal !== undefined) {
        // Over a limit of ours: say so to the peer, and to the operator, before closing.
        this.refusals.notice(
          conn.info.address,
          `${conn.peer}: ${refusal.reason}; refused and closing the connection`,
        );
        conn.refuse(refusal.reply);
        this.scheduleFlush(conn);
        return;
      }
      if (err instanceof ProtocolError) {
        // gearmand's answer to broken framing: close without a reply.
        this.log('NOTICE', `${conn.peer}: ${err.message}; closing the connection`);
      } else {
        // A fault of ours while handling this peer's input must not reach other peers.
        this.log('ERROR', `${conn.peer}: internal error: ${describeFault(err)}; closing it`);
      }
      this.closeConnection(conn);
    }
    // The sender's own replies leave now, so a pipelining submitter gets its acknowledgements
    // while it still has requests to send; replies to other connections wait for the turn's end.
    if (conn.flushQueued) this.flushOne(conn);
  }

  /** @internal Connection callback: one decoded packet. */
  packet(conn: Connection, packet: Packet): void {
    this.apply(this.core.receive(conn.info.id, packet));
  }

  /** @internal Connection callback: one admin line. */
  text(conn: Connection, line: TextLine): void {
    this.apply(this.core.receiveText(conn.info.id, line));
  }

  private onClose(conn: Connection): void {
    conn.destroy();
    if (this.connections.get(conn.info.id) !== conn) return;
    this.connections.delete(conn.info.id);
    this.log('INFO', `Disconnected ${conn.peer}`);
    const effects = this.guard(() => this.core.disconnect(conn.info.id));
    if (!this.stopping) this.apply(effects);
  }

  /** Calls into the core, logging (instead of throwing) a fault of ours. */
  private guard(call: () => Effect[]): Effect[] {
    try {
      return call();
    } catch (err) {
      this.log('ERROR', `internal error: ${describeFault(err)}`);
      return [];
    }
  }

  /** Calls into the core from an event of ours and applies its effects. */
  private run(call: () => Effect[]): void {
    this.apply(this.guard(call));
  }

  /**
   * Calls into the core from outside any connection (the embedding program, the web API: a
   * `cancel job` by handle) and applies the effects it returns, as for the shell's own events.
   */
  drive(call: () => Effect[]): void {
    this.run(call);
  }

  /** Applies effects in order. */
  private apply(effects: readonly Effect[]): void {
    for (const effect of effects) {
      switch (effect.type) {
        case 'send':
          this.send(effect.conn, effect.data);
          break;
        case 'close': {
          const conn = this.connections.get(effect.conn);
          if (conn) {
            this.log('INFO', `${conn.peer}: closing: ${effect.reason}`);
            this.closeConnection(conn);
          }
          break;
        }
        case 'persist':
          this.persist(effect.token, effect.job);
          break;
        case 'hold': {
          const conn = this.connections.get(effect.conn);
          if (conn && !conn.dead) {
            const hold: PendingHold = { conn, segment: conn.output.hold(), next: undefined };
            let last = this.holds.get(effect.token);
            if (last === undefined) this.holds.set(effect.token, hold);
            else {
              while (last.next) last = last.next;
              last.next = hold;
            }
          }
          break;
        }
        case 'unpersist':
          if (this.store) {
            const store = this.store;
            settle(() => store.remove(effect.key)).catch((err: unknown) => {
              this.log(
                'ERROR',
                `store: cannot delete job ${effect.key.functionName}/${effect.key.uniqueKey}: ${describe(err)}`,
              );
            });
          }
          break;
        case 'timer':
          this.arm(effect.key, effect.at);
          break;
        case 'clear-timer': {
          const timer = this.timers.get(effect.key);
          if (timer) {
            clearTimeout(timer);
            this.timers.delete(effect.key);
          }
          break;
        }
        case 'shutdown':
          this.log('NOTICE', `shutdown requested (${effect.graceful ? 'graceful' : 'now'})`);
          void this.close({ graceful: effect.graceful });
          break;
        case 'log':
          this.log(effect.level, effect.message);
          break;
      }
    }
  }

  private send(id: ConnectionId, data: Buffer): void {
    const conn = this.connections.get(id);
    if (!conn || conn.dead) return;
    const token = this.fillingToken;
    if (token === undefined || !this.fillHold(conn, token, data)) conn.output.write(data);
    if (conn.unsentBytes > this.outputCap) {
      this.dropSlowPeer(conn);
      return;
    }
    this.scheduleFlush(conn);
  }

  /**
   * Puts a reply to the commit `token` in the first place `conn` reserved for it and has not
   * filled yet (a connection that submitted twice onto one pending job holds two). False when
   * there is none: then the reply is an ordinary write.
   */
  private fillHold(conn: Connection, token: number, data: Buffer): boolean {
    for (let hold = this.holds.get(token); hold; hold = hold.next) {
      if (hold.conn === conn && !hold.segment.filled) {
        conn.output.fill(hold.segment, data);
        return true;
      }
    }
    return false;
  }

  private dropSlowPeer(conn: Connection): void {
    this.log(
      'WARNING',
      `${conn.peer}: ${conn.unsentBytes} bytes unsent, over the limit of ${this.outputCap}; dropping the connection`,
    );
    conn.destroy();
  }

  private closeConnection(conn: Connection): void {
    conn.closeAfterFlush();
    this.scheduleFlush(conn);
  }

  /**
   * Puts the connection on the list written at the end of this turn (once). The write waits
   * for `setImmediate`, after every I/O callback of this loop iteration: store commits settle
   * one by one and many workers' results reach the same client, so replies caused by other
   * connections' events leave in one write per connection instead of one per event. (Replies
   * to a connection's own input are written at once, in `onData`.) Order is kept: every reply
   * goes through the connection's output queue, in order, and is written in order.
   */
  private scheduleFlush(conn: Connection): void {
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

  /** Writes every connection's ready output: one socket write per connection per turn. */
  private flushAll(): void {
    const list = this.toFlush;
    for (let i = 0; i < list.length; i++) {
      const conn = list[i] as Connection;
      // A connection flushed early (by its own read) and not queued again has nothing new.
      if (conn.flushQueued) this.flushOne(conn);
    }
    list.length = 0;
  }

  /** Writes one connection's ready output and applies flow control to it. */
  private flushOne(conn: Connection): void {
    const backlog = conn.flush();
    if (backlog > this.outputCap) this.dropSlowPeer(conn);
    else if (backlog > this.pauseAt) conn.pauseReading();
  }

  private persist(token: number, job: StoredJob): void {
    this.pendingCommits++;
    const store = this.store;
    if (!store) {
      queueMicrotask(() => this.commitSettled(token, undefined));
      return;
    }
    try {
      store.addThen(job, this.committed, token);
    } catch (err) {
      // A store that throws instead of answering: still answered, after this turn's effects.
      queueMicrotask(() => this.commitSettled(token, describe(err)));
    }
  }

  /** The store's answer for the commit `token` (the core logs a refusal). */
  private readonly committed = (err: Error | undefined, token: number): void => {
    this.commitSettled(token, err === undefined ? undefined : describe(err));
  };

  private commitSettled(token: number, error: string | undefined): void {
    this.pendingCommits--;
    this.fillingToken = token;
    try {
      this.apply(this.guard(() => this.core.persistDone(token, error)));
    } finally {
      this.fillingToken = undefined;
    }
    let hold = this.holds.get(token);
    this.holds.delete(token);
    for (; hold; hold = hold.next) {
      hold.conn.output.release(hold.segment);
      this.scheduleFlush(hold.conn);
    }
  }

  private arm(key: string, at: number): void {
    const existing = this.timers.get(key);
    if (existing) clearTimeout(existing);
    const delay = Math.max(0, at - Date.now());
    const timer = setTimeout(
      () => {
        this.timers.delete(key);
        // A far-off time is reached in steps of Node's largest delay.
        if (Date.now() < at) this.arm(key, at);
        else if (!this.stopping) this.run(() => this.core.timerFired(key));
      },
      Math.min(delay, MAX_TIMER_DELAY),
    );
    timer.unref();
    this.timers.set(key, timer);
  }

  private log(level: LogLevel, message: string): void {
    this.logger.log(level, message);
  }

  /**
   * Stops the server: closes the listeners; when `graceful`, waits for running jobs to finish
   * (up to `timeoutMs`, by default the `shutdownTimeoutMs` option); then closes every
   * connection, waits for pending commits, and closes the store. Idempotent: later calls
   * return the first call's promise.
   */
  close(options: { graceful?: boolean; timeoutMs?: number } = {}): Promise<void> {
    this.stopping ??= this.stop(
      options.graceful ?? false,
      options.timeoutMs ?? this.options.shutdownTimeoutMs,
    );
    return this.stopping;
  }

  private async stop(graceful: boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const listenersClosed = this.listeners.map(
      (server) => new Promise<void>((resolve) => server.close(() => resolve())),
    );
    if (graceful) {
      this.log('NOTICE', `waiting for ${this.core.runningJobs} running job(s) to finish`);
      while (this.core.runningJobs > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    // Let peers take what was already sent to them (e.g. the OK to `shutdown`).
    this.flushAll();
    const socketsClosed: Promise<unknown>[] = [];
    for (const conn of this.connections.values()) {
      if (!conn.socket.destroyed) {
        socketsClosed.push(once(conn.socket, 'close').catch(() => undefined));
        conn.socket.end();
      }
    }
    const linger = setTimeout(() => {
      for (const conn of this.connections.values()) conn.destroy();
    }, CLOSE_LINGER_MS);
    await Promise.all(socketsClosed);
    clearTimeout(linger);
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    for (let i = 0; i < 200 && this.pendingCommits > 0 && Date.now() < deadline + 5000; i++) {
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    if (this.store) {
      try {
        await this.store.close();
      } catch (err) {
        this.log('ERROR', `store: close failed: ${describe(err)}`);
      }
    }
    await Promise.all(listenersClosed);
    this.log('NOTICE', 'server stopped');
    this.resolveClosed();
  }
}

/** The reply to a peer that went over one of our limits, and the reason for the log. */
function refusalReply(err: ProtocolError): { reply: Buffer; reason: string } | undefined {
  if (err.code === 'PACKET_TOO_LARGE') {
    const reason = `${err.message} (--max-packet-size)`;
    return {
      reply: encodePacket(Magic.RES, PacketType.ERROR, ['ARGUMENT_TOO_LARGE', reason]),
      reason,
    };
  }
  if (err.code === 'LINE_TOO_LONG') {
    return { reply: AdminReply.error('ARGUMENT_TOO_LARGE', err.message), reason: err.message };
  }
  return undefined;
}

/** Runs a store call so that a synchronous throw becomes a rejection like any other failure. */
function settle(call: () => Promise<void>): Promise<void> {
  try {
    return call();
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A fault of ours: the stack helps whoever reads the log. */
function describeFault(err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}
