import { EventEmitter } from 'node:events';
import type { BackoffOptions } from '../connection/backoff-options.js';
import { ServerConnection } from '../connection/server-connection.js';
import type { Transport } from '../connection/transport.js';
import { AbortError, ConnectionError, TimeoutError } from '../connection/errors.js';
import { parseServers, type ServerList } from '../connection/server-address.js';
import type { Packet } from '../protocol/decoder.js';
import { Frames, request } from '../protocol/encoder.js';
import { PacketType } from '../protocol/packet-types.js';
import { encodeResult, type JobHandler, type Payload, type WorkerJob } from './worker-job.js';

/** How a {@link Worker} connects and how much it runs at once. */
export interface WorkerOptions {
  /** The job servers (default `127.0.0.1:4730`); the worker connects to every one of them. */
  servers?: ServerList;
  /** How many jobs run at the same time, across all servers (default 1). */
  concurrency?: number;
  /** A label the server shows in `workers` (SET_CLIENT_ID). */
  clientId?: string;
  /** How connections are opened (default plain TCP); see {@link Transport}. */
  transport?: Transport;
  /** How long one connect may take, in ms (default 5000). */
  connectTimeout?: number;
  /** Delays between reconnect attempts (exponential, with jitter). */
  backoff?: BackoffOptions;
  /** Failed reconnect attempts in a row before giving a server up (default Infinity). */
  maxReconnectAttempts?: number;
  /** The largest packet accepted from a server (default 64 MiB). */
  maxPacketSize?: number;
}

/** Options for one registered function. */
export interface RegisterOptions {
  /**
   * How long one job may run, in ms. When it passes, the job's signal aborts and the job fails
   * (WORK_EXCEPTION "timed out", then WORK_FAIL). The server is also told (CAN_DO_TIMEOUT, in
   * gearmand's decimal-milliseconds form) with one second of grace, so that a worker that hangs
   * altogether has its job requeued by the server.
   */
  timeout?: number;
}

/** Options for {@link Worker.stop}. */
export interface StopOptions {
  /** How long running jobs may take to finish, in ms (default 30000); then they are abandoned. */
  timeout?: number;
}

/** The events a {@link Worker} emits. */
export type WorkerEvents = {
  /** Connected (or reconnected) to a server. */
  connect: [server: string];
  /** Lost a server; the worker reconnects with backoff. */
  disconnect: [server: string, error: Error];
  /**
   * A server is unreachable or was lost: attempt number `attempt` in a row (the first try
   * included) starts in `delay` ms, the backoff.
   */
  reconnecting: [server: string, delay: number, attempt: number];
  /** A handler threw or ran out of time; the job was failed and the worker goes on. */
  failed: [job: WorkerJob, error: Error];
  /** Something unexpected that did not stop the worker (an ERROR packet, for instance). */
  warning: [error: Error];
};

interface Registration {
  readonly handler: JobHandler;
  readonly timeout: number | undefined;
}

interface WorkerLink {
  readonly connection: ServerConnection;
  /** Counts connections, so a job never answers on a newer connection than it came from. */
  session: number;
  grabbing: boolean;
  sleeping: boolean;
}

interface RunningJob {
  readonly job: WorkerJob;
  readonly controller: AbortController;
  readonly link: WorkerLink;
}

/** Grace added to the server-side CAN_DO_TIMEOUT so that our own timeout fires first. */
const SERVER_TIMEOUT_GRACE = 1000;

/*
 * Each server connection cycles through:
 *
 *   ready ──GRAB_JOB_UNIQ──▶ grabbing ──JOB_ASSIGN_UNIQ──▶ run the job, back to ready
 *                                     └─NO_JOB──PRE_SLEEP──▶ sleeping ──NOOP──▶ ready
 *
 * "ready" grabs only while fewer than `concurrency` jobs run; a finished job makes every ready
 * connection grab again. Stopping just stops grabbing. CANT_DO (and RESET_ABILITIES) make
 * gearmand requeue the running jobs of those functions, so unregister() holds CANT_DO back on a
 * connection until its running jobs of that function have answered.
 */

/**
 * Runs jobs for the functions it registers, on every configured server.
 *
 * @example
 * const worker = new Worker({ servers: '127.0.0.1:4730', concurrency: 4 });
 * worker.register('reverse', (job) => job.text().split('').reverse().join(''));
 * await worker.start();
 * // later
 * await worker.stop({ timeout: 10_000 });
 */
export class Worker extends EventEmitter<WorkerEvents> {
  private readonly functions = new Map<string, Registration>();
  private readonly links: WorkerLink[];
  private readonly concurrency: number;
  private readonly clientId: string | undefined;
  private readonly running = new Set<RunningJob>();
  private idleWaiters: Array<() => void> = [];
  private stopping = false;
  /** Connections are being closed: a job assigned now is left to the server to requeue. */
  private closing = false;
  private started = false;

  constructor(options: WorkerOptions = {}) {
    super();
    if (options === null || typeof options !== 'object')
      throw new TypeError('options must be an object');
    const servers = parseServers(options.servers);
    this.concurrency = options.concurrency ?? 1;
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1)
      throw new TypeError('concurrency must be a positive integer');
    this.clientId = options.clientId;
    if (
      this.clientId !== undefined &&
      (typeof this.clientId !== 'string' || this.clientId.includes('\0'))
    )
      throw new TypeError('clientId must be a string without NUL bytes');
    this.links = servers.map((address) => {
      const link = { session: 0, grabbing: false, sleeping: false } as WorkerLink;
      const connection = new ServerConnection(
        address,
        {
          onConnect: () => this.connected(link),
          onPacket: (packet) => this.receive(link, packet),
          onDisconnect: (error) => this.disconnected(link, error),
          onRetry: (delay, attempt) => {
            if (!this.closing) this.emit('reconnecting', connection.name, delay, attempt);
          },
        },
        {
          reconnect: true,
          transport: options.transport,
          connectTimeout: options.connectTimeout,
          backoff: options.backoff,
          maxReconnectAttempts: options.maxReconnectAttempts,
          maxPacketSize: options.maxPacketSize,
        },
      );
      Object.assign(link, { connection });
      return link;
    });
  }

  /** How many jobs are running now. */
  get activeJobs(): number {
    return this.running.size;
  }

  /** The registered function names. */
  get registeredFunctions(): string[] {
    return [...this.functions.keys()];
  }

  /**
   * Registers (or replaces) the handler of a function; takes effect at once on connected
   * servers. Throws a `TypeError` for an invalid name, handler or timeout.
   */
  register(functionName: string, handler: JobHandler, options: RegisterOptions = {}): this {
    if (typeof functionName !== 'string' || functionName === '' || functionName.includes('\0'))
      throw new TypeError('function name must be a non-empty string without NUL bytes');
    if (typeof handler !== 'function') throw new TypeError('handler must be a function');
    if (options === null || typeof options !== 'object')
      throw new TypeError('options must be an object');
    const timeout = options.timeout;
    if (
      timeout !== undefined &&
      (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0)
    )
      throw new TypeError(`timeout must be a positive number of ms, got ${String(timeout)}`);
    const previous = this.functions.get(functionName);
    this.functions.set(functionName, { handler, timeout });
    if (previous !== undefined && previous.timeout === timeout) return this;
    for (const link of this.links) {
      if (!link.connection.isConnected) continue;
      const busy = [...this.running].some(
        (r) => r.link === link && r.job.functionName === functionName,
      );
      if (previous && !busy) link.connection.send(request(PacketType.CANT_DO, functionName));
      link.connection.send(this.canDo(functionName, timeout));
      this.pump(link);
    }
    return this;
  }

  /** Stops taking jobs for a function (CANT_DO); jobs already running finish. */
  unregister(functionName: string): boolean {
    if (!this.functions.delete(functionName)) return false;
    for (const link of this.links) this.cantDoWhenIdle(link, functionName);
    return true;
  }

  /** Sends CANT_DO unless this connection still runs a job of the function (it would be requeued). */
  private cantDoWhenIdle(link: WorkerLink, functionName: string): void {
    if (this.functions.has(functionName) || !link.connection.isConnected) return;
    for (const r of this.running)
      if (r.link === link && r.job.functionName === functionName) return;
    link.connection.send(request(PacketType.CANT_DO, functionName));
  }

  /**
   * Connects to every server and starts taking jobs. Resolves once at least one server is
   * connected; rejects with a `ConnectionError` (`NO_SERVER_AVAILABLE`) when none could be
   * reached at the first try — the worker keeps retrying in the background until `stop()`.
   */
  async start(): Promise<void> {
    if (this.stopping) throw new ConnectionError('CLOSED', 'the worker was stopped');
    this.started = true;
    const attempts = await Promise.allSettled(this.links.map((l) => l.connection.connect()));
    if (attempts.some((a) => a.status === 'fulfilled')) return;
    const reasons = attempts.map((a) =>
      a.status === 'rejected' && a.reason instanceof Error ? a.reason.message : 'failed',
    );
    throw new ConnectionError(
      'NO_SERVER_AVAILABLE',
      `no job server could be reached (${reasons.join('; ')}); still retrying`,
    );
  }

  /**
   * Stops gracefully: takes no new jobs (stops grabbing), waits up to `timeout` ms for the
   * running ones, aborts the signals of those still running, then closes the connections (the
   * server requeues any job left unfinished).
   */
  async stop(options: StopOptions = {}): Promise<void> {
    const timeout = options.timeout ?? 30_000;
    if (typeof timeout !== 'number' || !(timeout >= 0))
      throw new TypeError('timeout must be a non-negative number of ms');
    this.stopping = true;
    if (this.running.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => this.idleWaiters.push(resolve)),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, timeout))),
      ]);
      clearTimeout(timer);
    }
    for (const job of this.running)
      job.controller.abort(new AbortError('the worker stopped before the job finished'));
    this.closing = true;
    await Promise.all(this.links.map((l) => l.connection.close()));
  }

  private canDo(functionName: string, timeout: number | undefined): Buffer {
    if (timeout === undefined) return request(PacketType.CAN_DO, functionName);
    const serverTimeout = Math.max(1000, Math.ceil(timeout) + SERVER_TIMEOUT_GRACE);
    return request(PacketType.CAN_DO_TIMEOUT, functionName, String(serverTimeout));
  }

  private connected(link: WorkerLink): void {
    link.session += 1;
    link.grabbing = false;
    link.sleeping = false;
    const c = link.connection;
    if (this.clientId !== undefined) c.send(request(PacketType.SET_CLIENT_ID, this.clientId));
    if (!this.stopping)
      for (const [name, registration] of this.functions)
        c.send(this.canDo(name, registration.timeout));
    this.emit('connect', c.name);
    // Let the caller of connect() see the connection before jobs start arriving.
    queueMicrotask(() => this.pump(link));
  }

  private disconnected(link: WorkerLink, error: ConnectionError): void {
    link.grabbing = false;
    link.sleeping = false;
    if (error.code !== 'CLOSED') this.emit('disconnect', link.connection.name, error);
  }

  /** Grabs a job on this connection if there is room for one. */
  private pump(link: WorkerLink): void {
    if (this.stopping || !this.started || link.grabbing || link.sleeping) return;
    if (!link.connection.isConnected || this.functions.size === 0) return;
    if (this.running.size >= this.concurrency) return;
    link.grabbing = true;
    link.connection.send(Frames.GRAB_JOB_UNIQ);
  }

  private receive(link: WorkerLink, packet: Packet): void {
    switch (packet.type) {
      case PacketType.NO_JOB:
        link.grabbing = false;
        if (this.stopping) return;
        link.sleeping = true;
        link.connection.send(Frames.PRE_SLEEP);
        return;
      case PacketType.NOOP:
        if (!link.sleeping) return;
        link.sleeping = false;
        this.pump(link);
        return;
      case PacketType.JOB_ASSIGN_UNIQ:
      case PacketType.JOB_ASSIGN: {
        link.grabbing = false;
        // Answered a GRAB sent before stop(); closing the connection hands the job back.
        if (this.closing) return;
        const [handle, fn, third, fourth] = packet.args;
        const unique = packet.type === PacketType.JOB_ASSIGN_UNIQ ? third : undefined;
        const workload =
          (packet.type === PacketType.JOB_ASSIGN_UNIQ ? fourth : third) ?? Buffer.alloc(0);
        this.runJob(
          link,
          handle?.toString('latin1') ?? '',
          fn?.toString('utf8') ?? '',
          unique?.toString('utf8') ?? '',
          workload,
        );
        this.pump(link);
        return;
      }
      case PacketType.ERROR: {
        const code = packet.args[0]?.toString('latin1') ?? '';
        const text = packet.args[1]?.toString('utf8') ?? '';
        // gearmand answers the WORK_FAIL we send after WORK_EXCEPTION with JOB_NOT_FOUND,
        // because for it the exception already ended the job; that one is expected.
        if (code !== 'JOB_NOT_FOUND')
          this.emit('warning', new Error(`${link.connection.name} sent ERROR ${code}: ${text}`));
        return;
      }
      default:
        return;
    }
  }

  private runJob(
    link: WorkerLink,
    handle: string,
    functionName: string,
    unique: string,
    workload: Buffer,
  ): void {
    const session = link.session;
    const registration = this.functions.get(functionName);
    let finished = false;
    const send = (packet: Buffer): void => {
      if (!finished && link.session === session && link.connection.isConnected)
        link.connection.send(packet);
    };
    const controller = new AbortController();
    const handleBytes = Buffer.from(handle, 'latin1');
    const job: WorkerJob = {
      handle,
      functionName,
      unique,
      workload,
      signal: controller.signal,
      text: () => workload.toString('utf8'),
      json: <T>() => JSON.parse(workload.toString('utf8')) as T,
      sendStatus: (numerator, denominator) => {
        if (!Number.isFinite(numerator) || !Number.isFinite(denominator))
          throw new TypeError('status numbers must be finite');
        send(request(PacketType.WORK_STATUS, handleBytes, String(numerator), String(denominator)));
      },
      sendData: (data: Payload) =>
        send(request(PacketType.WORK_DATA, handleBytes, checkPayload(data))),
      sendWarning: (data: Payload) =>
        send(request(PacketType.WORK_WARNING, handleBytes, checkPayload(data))),
    };
    const entry: RunningJob = { job, controller, link };
    this.running.add(entry);
    let timer: NodeJS.Timeout | undefined;
    const finish = (packets: Buffer[], error?: Error): void => {
      if (finished) return;
      for (const p of packets) send(p);
      finished = true;
      if (timer !== undefined) clearTimeout(timer);
      this.running.delete(entry);
      if (!this.functions.has(functionName)) this.cantDoWhenIdle(link, functionName);
      if (error) this.emit('failed', job, error);
      if (this.running.size === 0) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const wake of waiters) wake();
      }
      for (const l of this.links) this.pump(l);
    };
    const fail = (error: Error): void =>
      finish(
        [
          request(PacketType.WORK_EXCEPTION, handleBytes, error.message),
          request(PacketType.WORK_FAIL, handleBytes),
        ],
        error,
      );
    if (registration === undefined) {
      // Unregistered between GRAB and assignment: hand it back as failed rather than lose it.
      fail(new Error(`no handler registered for ${functionName}`));
      return;
    }
    if (registration.timeout !== undefined) {
      const ms = registration.timeout;
      timer = setTimeout(() => {
        const error = new TimeoutError(`job ${handle} (${functionName}) timed out after ${ms} ms`);
        controller.abort(error);
        fail(error);
      }, ms);
    }
    let outcome: Promise<unknown>;
    try {
      outcome = Promise.resolve(registration.handler(job));
    } catch (error) {
      outcome = Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    outcome.then(
      (value) => {
        let payload: Payload;
        try {
          payload = encodeResult(value);
        } catch (error) {
          fail(error instanceof Error ? error : new Error(String(error)));
          return;
        }
        finish([request(PacketType.WORK_COMPLETE, handleBytes, payload)]);
      },
      (error: unknown) => fail(error instanceof Error ? error : new Error(String(error))),
    );
  }
}

function checkPayload(data: unknown): Payload {
  if (typeof data !== 'string' && !(data instanceof Uint8Array))
    throw new TypeError('data must be a string, Buffer or Uint8Array');
  return data;
}
