import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { errorMessage, ProtocolError } from '../../protocol/errors.js';
import type { Packet, TextLine, DecoderLimits } from '../../protocol/decoder.js';
import type { JobStore } from '../../storage/job-store.js';
import type {
  ServerClock,
  ConnectionId,
  ConnectionInfo,
  Effect,
  LogLevel,
} from '../core/effects.js';
import { CommitHolds } from './commit-holds.js';
import { EffectInterpreter } from './effect-interpreter.js';
import type { Listener, ListenerHost } from './listener.js';
import type { Logger } from './logger.js';
import { describeFault } from './net-error.js';
import type { NetFigures, NetFiguresSource } from '../view/server-view.js';
import { NetCounters } from './net-figures.js';
import { OutputFlusher } from './output-flusher.js';
import { PeerConnection, type PeerConnectionHost, type PeerSocket } from './peer-connection.js';
import { isLoopback, plainAddress, socketFd, type PeerDetails } from './peer-details.js';
import { PeerNotices } from './peer-notices.js';
import { Timers } from './timers.js';
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

/** Settings of the I/O shell (where it listens is its listeners' business). */
export interface NetServerOptions {
  readonly limits: DecoderLimits;
  /** Unsent bytes a connection may owe before it is dropped. */
  readonly maxOutputBuffer: number;
  /** How long a graceful stop waits for running jobs, in ms. */
  readonly shutdownTimeoutMs: number;
}

/** How long a stop waits for peers to take their last bytes before destroying sockets. */
const CLOSE_LINGER_MS = 2000;
/** How often a graceful stop looks whether the running jobs have finished, in ms. */
const DRAIN_POLL_MS = 50;

/**
 * The I/O shell of the job server: one {@link PeerConnection} per peer stream, whoever accepted
 * it (a {@link Listener}, or a caller of {@link handle}), and the loop that feeds the core and
 * hands its effects to the {@link EffectInterpreter}. The parts: output flushing and flow control
 * ({@link OutputFlusher}), commits and the output they hold ({@link CommitHolds}), the core's
 * timers on the core's clock ({@link Timers}), and the traffic counters ({@link NetFigures}).
 */
export class NetServer implements PeerConnectionHost, ListenerHost, NetFiguresSource {
  private readonly listeners: Listener[] = [];
  private readonly connections = new Map<ConnectionId, PeerConnection>();
  private readonly counters = new NetCounters();
  private readonly flusher: OutputFlusher;
  private readonly holds: CommitHolds;
  private readonly timers: Timers;
  private readonly effects: EffectInterpreter;
  private nextConnectionId = 1;
  private nextFallbackFd = 10_000;
  private stopping: Promise<void> | undefined;
  private readonly refusals: PeerNotices;
  private resolveClosed!: () => void;
  /** Resolves once the server has stopped, whoever stopped it. */
  readonly closed = new Promise<void>((resolve) => (this.resolveClosed = resolve));

  constructor(
    private readonly core: CorePort,
    private readonly store: JobStore | undefined,
    private readonly logger: Logger,
    private readonly options: NetServerOptions,
    /** The core's clock: the core's timers are due on it. */
    clock: ServerClock,
  ) {
    const log = (level: LogLevel, message: string): void => this.log(level, message);
    this.refusals = new PeerNotices(log, () => clock.now());
    this.flusher = new OutputFlusher(
      options.maxOutputBuffer,
      options.limits.maxPacketSize,
      this.counters,
      log,
    );
    this.holds = new CommitHolds(
      store,
      (token, error) => this.run(() => this.core.persistDone(token, error)),
      (conn) => this.flusher.schedule(conn),
    );
    this.timers = new Timers(clock, (key) => {
      if (!this.stopping) this.run(() => this.core.timerFired(key));
    });
    this.effects = new EffectInterpreter({
      connections: this.connections,
      flusher: this.flusher,
      holds: this.holds,
      timers: this.timers,
      store,
      counters: this.counters,
      log,
      shutdown: (graceful) => void this.close({ graceful }),
    });
  }

  /** The addresses the listeners bound. */
  get addresses(): AddressInfo[] {
    return this.listeners.flatMap((listener) => listener.addresses);
  }

  /** The shell's traffic figures since it started. */
  netFigures(): NetFigures {
    return this.counters.snapshot();
  }

  /**
   * Starts the listeners, in order; their peers come to {@link handle}. Rejects with the first
   * one's `NetError`, leaving none of these bound.
   */
  async listen(...listeners: Listener[]): Promise<void> {
    const started: Listener[] = [];
    try {
      for (const listener of listeners) {
        await listener.listen(this);
        started.push(listener);
      }
    } catch (err) {
      await Promise.all(started.map((listener) => listener.close()));
      throw err;
    }
    this.listeners.push(...started);
  }

  /**
   * Serves a peer on `socket`: any duplex stream (a TCP or TLS socket, one end of an in-process
   * pair). `details` says what the stream cannot (its address, the identity a TLS certificate
   * proved); a socket's own address is used otherwise. Refused once the server is stopping.
   */
  handle(socket: PeerSocket, details: PeerDetails = {}): void {
    if (this.stopping) {
      socket.destroy();
      return;
    }
    const rawAddress = details.address ?? socket.remoteAddress ?? '';
    const address = plainAddress(rawAddress);
    const info: ConnectionInfo = {
      id: this.nextConnectionId++,
      fd: socketFd(socket) ?? this.nextFallbackFd++,
      address,
      loopback: isLoopback(rawAddress),
      identity: details.identity,
    };
    const peer = `${address}:${details.port ?? socket.remotePort ?? 0}`;
    const conn = new PeerConnection(socket, info, peer, this.options.limits, this, this.counters);
    this.connections.set(info.id, conn);
    this.counters.connectionsAccepted++;
    this.log('INFO', `Accepted connection from ${peer}`);
    socket.on('data', (chunk: Buffer) => this.onData(conn, chunk));
    socket.on('error', (err) => this.log('INFO', `${peer}: ${err.message}`));
    socket.on('close', () => this.onClose(conn));
    this.run(() => this.core.connect(info));
  }

  private onData(conn: PeerConnection, chunk: Buffer): void {
    try {
      conn.receive(chunk);
    } catch (err) {
      const refusal = err instanceof ProtocolError ? refusalReply(err) : undefined;
      if (refusal !== undefined) {
        // Over a limit of ours: say so to the peer, and to the operator, before closing.
        this.counters.overLimitRefusals++;
        this.refusals.notice(
          conn.info.address,
          `${conn.peer}: ${refusal.reason}; refused and closing the connection`,
        );
        conn.refuse(refusal.reply);
        this.flusher.schedule(conn);
        return;
      }
      if (err instanceof ProtocolError) {
        // gearmand's answer to broken framing: close without a reply.
        this.counters.protocolErrors++;
        this.log('NOTICE', `${conn.peer}: ${err.message}; closing the connection`);
      } else {
        // A fault of ours while handling this peer's input must not reach other peers.
        this.log('ERROR', `${conn.peer}: internal error: ${describeFault(err)}; closing it`);
      }
      this.flusher.closeAfterFlush(conn);
    }
    // The sender's own replies leave now, so a pipelining submitter gets its acknowledgements
    // while it still has requests to send; replies to other connections wait for the turn's end.
    if (conn.flushQueued) this.flusher.flushOne(conn);
  }

  /** @internal Connection callback: one decoded packet. */
  packet(conn: PeerConnection, packet: Packet): void {
    this.effects.apply(this.core.receive(conn.info.id, packet));
  }

  /** @internal Connection callback: one admin line. */
  text(conn: PeerConnection, line: TextLine): void {
    this.effects.apply(this.core.receiveText(conn.info.id, line));
  }

  private onClose(conn: PeerConnection): void {
    conn.destroy();
    if (this.connections.get(conn.info.id) !== conn) return;
    this.connections.delete(conn.info.id);
    this.counters.connectionsClosed++;
    this.log('INFO', `Disconnected ${conn.peer}`);
    const effects = this.guard(() => this.core.disconnect(conn.info.id));
    if (!this.stopping) this.effects.apply(effects);
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
    this.effects.apply(this.guard(call));
  }

  /**
   * Calls into the core from outside any connection (the embedding program, the web API: a
   * `cancel job` by handle) and applies the effects it returns, as for the shell's own events.
   */
  drive(call: () => Effect[]): void {
    this.run(call);
  }

  /** @internal Listener callback, and the shell's own log lines. */
  log(level: LogLevel, message: string): void {
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
    const listenersClosed = this.listeners.map((listener) => listener.close());
    if (graceful) {
      this.log('NOTICE', `waiting for ${this.core.runningJobs} running job(s) to finish`);
      // Counted in polls rather than read from a clock, so the wait ends whatever the injected
      // clock does.
      for (let waited = 0; this.core.runningJobs > 0 && waited < timeoutMs; waited += DRAIN_POLL_MS)
        await sleep(DRAIN_POLL_MS);
    }
    // Let peers take what was already sent to them (e.g. the OK to `shutdown`).
    this.flusher.flushAll();
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
    this.timers.clearAll();
    // Commits in flight are answered before the store closes (up to 5 s).
    for (let i = 0; i < 200 && this.holds.pending > 0; i++) await sleep(25);
    if (this.store) {
      try {
        await this.store.close();
      } catch (err) {
        this.log('ERROR', `store: close failed: ${errorMessage(err)}`);
      }
    }
    await Promise.all(listenersClosed);
    this.log('NOTICE', 'server stopped');
    this.resolveClosed();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
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
