import { Connection } from '../connection/connection.js';
import type { BackoffOptions } from '../connection/backoff.js';
import { AbortError, ConnectionError, TimeoutError } from '../connection/errors.js';
import { ReplyQueue } from '../connection/reply-queue.js';
import { parseServers, type ServerList } from '../connection/server-address.js';
import type { Packet } from '../protocol/decoder.js';
import { request } from '../protocol/encoder.js';
import { PacketType, Priority } from '../protocol/packet-types.js';
import { JobExceptionError, JobFailedError } from './errors.js';
import { Job, type JobControl } from './job.js';
import type { JobResult } from './job-result.js';

/** A job priority by name, or gearmand's number (0 high, 1 normal, 2 low). */
export type PriorityName = 'high' | 'normal' | 'low';

/** How a {@link Client} connects and spreads its jobs. */
export interface ClientOptions {
  /** The job servers (default `127.0.0.1:4730`); e.g. `'gm1:4730,gm2:4730'`. */
  servers?: ServerList;
  /**
   * How a job picks its server: `'hash'` (default) hashes the unique id, so jobs with the same
   * unique meet on the same server and are coalesced; jobs without a unique go round-robin.
   * `'round-robin'` rotates for every job. Either way a server that is down is skipped.
   */
  selection?: 'hash' | 'round-robin';
  /** A label the server shows in `workers` (SET_CLIENT_ID). */
  clientId?: string;
  /** Ask servers for WORK_EXCEPTION packets (OPTION_REQ exceptions); default true. */
  exceptions?: boolean;
  /** How long one TCP connect may take, in ms (default 5000). */
  connectTimeout?: number;
  /** Backoff after a server failed; it is skipped until the delay has passed. */
  backoff?: BackoffOptions;
  /** Default per-call timeout in ms (default: none). */
  timeout?: number;
  /** The largest packet accepted from a server (default 64 MiB). */
  maxPacketSize?: number;
  /**
   * Requests in flight per server before further submits wait (back-pressure; default 10000).
   * Submits also wait while the socket's write buffer is full.
   */
  maxInFlight?: number;
}

/** Per-call limits. */
export interface CallOptions {
  /** Give up after this many ms (a `TimeoutError`). */
  timeout?: number;
  /** Give up when this signal aborts (an `AbortError`). */
  signal?: AbortSignal;
}

/** Options for a job submission. */
export interface SubmitOptions extends CallOptions {
  /** The unique id: jobs with the same function and unique are coalesced by the server. */
  unique?: string;
  /** `'high'`, `'normal'` (default) or `'low'`. */
  priority?: PriorityName | Priority;
}

/** Options for a background submission. */
export interface BackgroundSubmitOptions extends SubmitOptions {
  /** Run no earlier than this time (SUBMIT_JOB_EPOCH; whole seconds; normal priority only). */
  at?: Date;
}

/** A job's state as the server reports it (STATUS_RES). */
export interface JobStatus {
  readonly handle: string;
  /** Whether the server knows the job (false once it has finished). */
  readonly known: boolean;
  /** Whether a worker is running it. */
  readonly running: boolean;
  readonly numerator: number;
  readonly denominator: number;
}

/** A job's state looked up by unique id (STATUS_RES_UNIQUE). */
export interface UniqueJobStatus {
  readonly unique: string;
  readonly known: boolean;
  readonly running: boolean;
  readonly numerator: number;
  readonly denominator: number;
  /** How many foreground clients wait for the job. */
  readonly waitingClients: number;
}

/** A workload: bytes, or a string sent as UTF-8. */
export type Workload = string | Uint8Array;

interface ActiveJob {
  readonly job: Job;
  readonly control: JobControl;
  readonly functionName: string;
  link: Link | undefined;
  handle: string | undefined;
  inFlight: boolean;
  disposeDeadline: () => void;
}

interface HandleJobs {
  jobs: ActiveJob[];
  /** Which of `jobs` gets the next progress packet (see receive()). */
  turn: number;
}

interface Link {
  readonly connection: Connection;
  readonly replies: ReplyQueue;
  /** Foreground jobs by handle; several when the server coalesced our own submissions. */
  readonly jobs: Map<string, HandleJobs>;
  inFlight: number;
  slotWaiters: Array<() => void>;
}

const FOREGROUND = {
  [Priority.HIGH]: PacketType.SUBMIT_JOB_HIGH,
  [Priority.NORMAL]: PacketType.SUBMIT_JOB,
  [Priority.LOW]: PacketType.SUBMIT_JOB_LOW,
} as const;

const BACKGROUND = {
  [Priority.HIGH]: PacketType.SUBMIT_JOB_HIGH_BG,
  [Priority.NORMAL]: PacketType.SUBMIT_JOB_BG,
  [Priority.LOW]: PacketType.SUBMIT_JOB_LOW_BG,
} as const;

/**
 * Submits jobs to Gearman servers and follows them.
 *
 * @example
 * const client = new Client({ servers: '127.0.0.1:4730' });
 * const result = await client.submit('reverse', 'hello').result();
 * console.log(result.text());
 * await client.close();
 */
export class Client {
  private readonly links: Link[];
  private readonly selection: 'hash' | 'round-robin';
  private readonly exceptions: boolean;
  private readonly clientId: string | undefined;
  private readonly defaultTimeout: number | undefined;
  private readonly maxInFlight: number;
  private nextIndex = 0;
  private closed = false;

  constructor(options: ClientOptions = {}) {
    if (options === null || typeof options !== 'object')
      throw new TypeError('options must be an object');
    const servers = parseServers(options.servers);
    this.selection = options.selection ?? 'hash';
    if (this.selection !== 'hash' && this.selection !== 'round-robin')
      throw new TypeError(`selection must be 'hash' or 'round-robin'`);
    this.exceptions = options.exceptions ?? true;
    this.clientId = options.clientId;
    if (this.clientId !== undefined) checkName(this.clientId, 'clientId', true);
    this.defaultTimeout = options.timeout;
    if (this.defaultTimeout !== undefined) checkTimeout(this.defaultTimeout);
    this.maxInFlight = options.maxInFlight ?? 10_000;
    if (!Number.isInteger(this.maxInFlight) || this.maxInFlight < 1)
      throw new TypeError('maxInFlight must be a positive integer');
    this.links = servers.map((address) => {
      const link: Link = {
        connection: undefined as unknown as Connection,
        replies: undefined as unknown as ReplyQueue,
        jobs: new Map(),
        inFlight: 0,
        slotWaiters: [],
      };
      const connection = new Connection(
        address,
        {
          onConnect: () => this.handshake(link),
          onPacket: (packet) => this.receive(link, packet),
          onDisconnect: (error) => this.lost(link, error),
        },
        {
          connectTimeout: options.connectTimeout,
          backoff: options.backoff,
          maxPacketSize: options.maxPacketSize,
        },
      );
      Object.assign(link, { connection, replies: new ReplyQueue(connection.name) });
      return link;
    });
  }

  /** The servers, as `host:port`, in configuration order. */
  get servers(): string[] {
    return this.links.map((l) => l.connection.name);
  }

  /**
   * Submits a foreground job and returns it at once; await `job.result()` for the outcome.
   * Throws a `TypeError` for invalid arguments.
   */
  submit(functionName: string, workload: Workload, options: SubmitOptions = {}): Job {
    checkName(functionName, 'function name');
    checkWorkload(workload);
    const unique = checkUnique(options.unique);
    const priority = checkPriority(options.priority);
    const deadline = this.deadlineOptions(options);
    let control!: JobControl;
    const job = new Job(functionName, unique, (c) => (control = c));
    const active: ActiveJob = {
      job,
      control,
      functionName,
      link: undefined,
      handle: undefined,
      inFlight: false,
      disposeDeadline: () => undefined,
    };
    active.disposeDeadline = armDeadline(deadline, `job ${functionName}`, (error) =>
      this.finish(active, error),
    );
    const packet = request(FOREGROUND[priority], functionName, unique, workload);
    this.dispatch(active, unique, packet).catch((error: unknown) =>
      this.finish(active, toError(error)),
    );
    return job;
  }

  /** Submits a foreground job and resolves with its result (shorthand for `submit().result()`). */
  async run(
    functionName: string,
    workload: Workload,
    options: SubmitOptions = {},
  ): Promise<JobResult> {
    return this.submit(functionName, workload, options).result();
  }

  /**
   * Submits a background job and resolves with its handle once the server has accepted it.
   * With `at`, the job is scheduled (SUBMIT_JOB_EPOCH) for that time.
   */
  async submitBackground(
    functionName: string,
    workload: Workload,
    options: BackgroundSubmitOptions = {},
  ): Promise<string> {
    checkName(functionName, 'function name');
    checkWorkload(workload);
    const unique = checkUnique(options.unique);
    const priority = checkPriority(options.priority);
    const deadline = this.deadlineOptions(options);
    let packet: Buffer;
    if (options.at !== undefined) {
      if (!(options.at instanceof Date) || Number.isNaN(options.at.getTime()))
        throw new TypeError('at must be a valid Date');
      if (priority !== Priority.NORMAL)
        throw new TypeError('scheduled jobs (at) always run at normal priority');
      const epoch = String(Math.max(0, Math.floor(options.at.getTime() / 1000)));
      packet = request(PacketType.SUBMIT_JOB_EPOCH, functionName, unique, epoch, workload);
    } else {
      packet = request(BACKGROUND[priority], functionName, unique, workload);
    }
    return withDeadline(deadline, `background job ${functionName}`, async () => {
      const link = await this.pickLink(unique);
      const reply = await this.call(link, packet, PacketType.JOB_CREATED);
      return handleOf(reply);
    });
  }

  /**
   * Asks for a job's state by handle. The server that holds the handle answers; the others,
   * which do not know it, are asked only when needed.
   */
  async getStatus(handle: string, options: CallOptions = {}): Promise<JobStatus> {
    if (typeof handle !== 'string' || handle === '')
      throw new TypeError('handle must be a non-empty string');
    const deadline = this.deadlineOptions(options);
    const packet = request(PacketType.GET_STATUS, Buffer.from(handle, 'latin1'));
    return withDeadline(deadline, `status of ${handle}`, async () => {
      const owner = this.links.find((l) => l.jobs.has(handle));
      const answers = await this.askAll(
        owner ? [owner] : this.links,
        packet,
        PacketType.STATUS_RES,
      );
      const statuses = answers.map(parseStatus);
      return statuses.find((s) => s.known) ?? statuses[0] ?? unknownStatus(handle);
    });
  }

  /** Asks every server for a job by its unique id (GET_STATUS_UNIQUE). */
  async getStatusByUnique(unique: string, options: CallOptions = {}): Promise<UniqueJobStatus> {
    if (typeof unique !== 'string' || unique === '')
      throw new TypeError('unique must be a non-empty string');
    checkUnique(unique);
    const deadline = this.deadlineOptions(options);
    const packet = request(PacketType.GET_STATUS_UNIQUE, unique);
    return withDeadline(deadline, `status of unique ${unique}`, async () => {
      const answers = await this.askAll(this.links, packet, PacketType.STATUS_RES_UNIQUE);
      const statuses = answers.map((p) => parseUniqueStatus(p, unique));
      return (
        statuses.find((s) => s.known) ??
        statuses[0] ?? {
          unique,
          known: false,
          running: false,
          numerator: 0,
          denominator: 0,
          waitingClients: 0,
        }
      );
    });
  }

  /** Sends ECHO_REQ to a server and resolves with the bytes it echoed. */
  async echo(data: Workload, options: CallOptions = {}): Promise<Buffer> {
    checkWorkload(data);
    const deadline = this.deadlineOptions(options);
    return withDeadline(deadline, 'echo', async () => {
      const link = await this.pickLink('');
      const reply = await this.call(link, request(PacketType.ECHO_REQ, data), PacketType.ECHO_RES);
      return reply.args[0] ?? Buffer.alloc(0);
    });
  }

  /** Closes every connection; jobs still waiting reject with a `ConnectionError` (`CLOSED`). */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.links.map((l) => l.connection.close()));
  }

  private deadlineOptions(options: CallOptions): CallOptions {
    if (options === null || typeof options !== 'object')
      throw new TypeError('options must be an object');
    const timeout = options.timeout ?? this.defaultTimeout;
    if (timeout !== undefined) checkTimeout(timeout);
    if (options.signal !== undefined && !(options.signal instanceof AbortSignal))
      throw new TypeError('signal must be an AbortSignal');
    return { timeout, signal: options.signal };
  }

  private async dispatch(active: ActiveJob, unique: string, packet: Buffer): Promise<void> {
    const link = await this.pickLink(unique);
    await this.whenWritable(link);
    if (active.job.done) return;
    active.link = link;
    active.inFlight = true;
    link.inFlight += 1;
    link.replies.push({
      expect: PacketType.JOB_CREATED,
      resolve: (reply) => {
        if (active.job.done) return;
        const handle = handleOf(reply);
        active.handle = handle;
        const entry = link.jobs.get(handle);
        if (entry) {
          entry.jobs.push(active);
          entry.turn = 0;
        } else link.jobs.set(handle, { jobs: [active], turn: 0 });
        active.control.created(handle);
      },
      reject: (error) => this.finish(active, error),
    });
    link.connection.send(packet);
  }

  /** Settles a job (with its result bytes or an error) and forgets it. */
  private finish(active: ActiveJob, outcome: Buffer | Error): void {
    if (active.job.done) return;
    active.disposeDeadline();
    const link = active.link;
    if (link && active.handle !== undefined) {
      const entry = link.jobs.get(active.handle);
      if (entry) {
        entry.jobs = entry.jobs.filter((a) => a !== active);
        entry.turn = 0;
        if (entry.jobs.length === 0) link.jobs.delete(active.handle);
      }
    }
    if (link && active.inFlight) {
      active.inFlight = false;
      link.inFlight -= 1;
      link.slotWaiters.shift()?.();
    }
    if (outcome instanceof Error) active.control.fail(outcome);
    else active.control.complete(outcome);
  }

  /** Servers in the order this unique should try them, healthy ones first. */
  private async pickLink(unique: string): Promise<Link> {
    if (this.closed) throw new ConnectionError('CLOSED', 'the client was closed');
    const n = this.links.length;
    let start: number;
    if (this.selection === 'hash' && unique !== '') start = fnv1a(unique) % n;
    else start = this.nextIndex++ % n;
    const order: Link[] = [];
    for (let i = 0; i < n; i++) order.push(this.links[(start + i) % n] as Link);
    const up = order.filter((l) => !l.connection.isDown);
    const down = order.filter((l) => l.connection.isDown);
    const failures: string[] = [];
    for (const link of [...up, ...down]) {
      if (this.closed) throw new ConnectionError('CLOSED', 'the client was closed');
      try {
        await link.connection.connect();
        return link;
      } catch (error) {
        failures.push(toError(error).message);
      }
    }
    throw new ConnectionError(
      'NO_SERVER_AVAILABLE',
      `no job server could be reached (${failures.join('; ')})`,
    );
  }

  private async whenWritable(link: Link): Promise<void> {
    for (let i = 0; i < 1_000_000; i++) {
      if (link.connection.needsDrain) await link.connection.drain();
      else if (link.inFlight >= this.maxInFlight)
        await new Promise<void>((resolve) => link.slotWaiters.push(resolve));
      else return;
      if (!link.connection.isConnected) return;
    }
  }

  /** Sends one request on a link and resolves with its answer. */
  private call(link: Link, packet: Buffer, expect: PacketType): Promise<Packet> {
    return new Promise<Packet>((resolve, reject) => {
      link.replies.push({ expect, resolve, reject });
      try {
        link.connection.send(packet);
      } catch (error) {
        reject(toError(error));
      }
    });
  }

  /**
   * Sends a request to several servers at once; resolves with the answers of those that could
   * be reached, or rejects with the first failure when none could.
   */
  private async askAll(links: Link[], packet: Buffer, expect: PacketType): Promise<Packet[]> {
    const settled = await Promise.allSettled(
      links.map(async (link) => {
        await link.connection.connect();
        return this.call(link, packet, expect);
      }),
    );
    const answers: Packet[] = [];
    let firstError: unknown;
    for (const s of settled) {
      if (s.status === 'fulfilled') answers.push(s.value);
      else firstError ??= s.reason;
    }
    if (answers.length === 0) throw toError(firstError);
    return answers;
  }

  private handshake(link: Link): void {
    if (this.exceptions) {
      // A server that does not know the option answers ERROR; jobs then just see WORK_FAIL.
      link.replies.push({
        expect: PacketType.OPTION_RES,
        resolve: () => undefined,
        reject: () => undefined,
      });
      link.connection.send(request(PacketType.OPTION_REQ, 'exceptions'));
    }
    if (this.clientId !== undefined)
      link.connection.send(request(PacketType.SET_CLIENT_ID, this.clientId));
  }

  private receive(link: Link, packet: Packet): void {
    if (link.replies.take(packet)) return;
    const handleBytes = packet.args[0];
    if (handleBytes === undefined) return;
    // gearmand 1.1.20 sends the WORK_FAIL it makes from a WORK_EXCEPTION (for clients without
    // the exceptions option) with a NUL after the handle.
    let end = handleBytes.length;
    while (end > 0 && handleBytes[end - 1] === 0) end--;
    const entry = link.jobs.get(handleBytes.toString('latin1', 0, end));
    if (entry === undefined) return;
    // The end of a job ends every submission attached to it (further copies find nothing).
    const jobs = [...entry.jobs];
    // Progress, though, comes once per submission attached (gearmand and gearbox alike): with
    // several of our own submissions on one handle, each copy is for the next one in turn.
    const next = entry.jobs[entry.turn++ % entry.jobs.length];
    const data = packet.args[1] ?? Buffer.alloc(0);
    switch (packet.type) {
      case PacketType.WORK_COMPLETE:
        for (const active of jobs) this.finish(active, data);
        break;
      case PacketType.WORK_FAIL:
        for (const active of jobs)
          this.finish(active, new JobFailedError(active.handle ?? '', active.functionName));
        break;
      case PacketType.WORK_EXCEPTION:
        for (const active of jobs)
          this.finish(
            active,
            new JobExceptionError(active.handle ?? '', active.functionName, Buffer.from(data)),
          );
        break;
      case PacketType.WORK_DATA:
      case PacketType.WORK_WARNING: {
        const type = packet.type === PacketType.WORK_DATA ? 'data' : 'warning';
        next?.control.update({ type, data });
        break;
      }
      case PacketType.WORK_STATUS: {
        const numerator = Number(data.toString('latin1'));
        const denominator = Number(packet.args[2]?.toString('latin1') ?? '0');
        next?.control.update({ type: 'status', numerator, denominator });
        break;
      }
      default:
        break;
    }
  }

  private lost(link: Link, error: ConnectionError): void {
    link.replies.failAll(error);
    for (const entry of [...link.jobs.values()])
      for (const active of [...entry.jobs]) this.finish(active, error);
    link.jobs.clear();
    const waiters = link.slotWaiters;
    link.slotWaiters = [];
    for (const wake of waiters) wake();
  }
}

function handleOf(reply: Packet): string {
  return reply.args[0]?.toString('latin1') ?? '';
}

function parseStatus(packet: Packet): JobStatus {
  const [handle, known, running, numerator, denominator] = packet.args.map((a) =>
    a.toString('latin1'),
  );
  return {
    handle: handle ?? '',
    known: known === '1',
    running: running === '1',
    numerator: Number(numerator ?? 0),
    denominator: Number(denominator ?? 0),
  };
}

function parseUniqueStatus(packet: Packet, asked: string): UniqueJobStatus {
  const [unique, known, running, numerator, denominator, waiting] = packet.args.map((a) =>
    a.toString('utf8'),
  );
  return {
    unique: unique ?? asked,
    known: known === '1',
    running: running === '1',
    numerator: Number(numerator ?? 0),
    denominator: Number(denominator ?? 0),
    waitingClients: Number(waiting ?? 0),
  };
}

function unknownStatus(handle: string): JobStatus {
  return { handle, known: false, running: false, numerator: 0, denominator: 0 };
}

/** 32-bit FNV-1a of the UTF-8 bytes: stable across processes and languages. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function checkName(name: unknown, what: string, allowEmpty = false): asserts name is string {
  if (typeof name !== 'string') throw new TypeError(`${what} must be a string`);
  if (!allowEmpty && name === '') throw new TypeError(`${what} must not be empty`);
  if (name.includes('\0')) throw new TypeError(`${what} must not contain NUL bytes`);
}

function checkWorkload(workload: unknown): asserts workload is Workload {
  if (typeof workload !== 'string' && !(workload instanceof Uint8Array))
    throw new TypeError('workload must be a string, Buffer or Uint8Array');
}

function checkUnique(unique: unknown): string {
  if (unique === undefined) return '';
  checkName(unique, 'unique', true);
  // gearmand refuses longer ones with ERROR ARGUMENT_TOO_LARGE; catching it here is clearer.
  if (Buffer.byteLength(unique) > 64) throw new TypeError('unique must be at most 64 bytes');
  return unique;
}

function checkPriority(priority: unknown): Priority {
  switch (priority) {
    case undefined:
    case 'normal':
    case Priority.NORMAL:
      return Priority.NORMAL;
    case 'high':
    case Priority.HIGH:
      return Priority.HIGH;
    case 'low':
    case Priority.LOW:
      return Priority.LOW;
    default:
      throw new TypeError(`priority must be 'high', 'normal' or 'low', got ${String(priority)}`);
  }
}

function checkTimeout(timeout: unknown): void {
  if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0)
    throw new TypeError(`timeout must be a positive number of ms, got ${String(timeout)}`);
}

/** Arms the timeout and abort signal; returns the function that disarms both. */
function armDeadline(options: CallOptions, what: string, expire: (error: Error) => void) {
  const { timeout, signal } = options;
  let timer: NodeJS.Timeout | undefined;
  const onAbort = (): void =>
    expire(new AbortError(`${what} was aborted`, { cause: signal?.reason }));
  if (signal?.aborted) {
    queueMicrotask(onAbort);
    return () => undefined;
  }
  if (timeout !== undefined)
    timer = setTimeout(
      () => expire(new TimeoutError(`${what} did not finish within ${timeout} ms`)),
      timeout,
    );
  signal?.addEventListener('abort', onAbort, { once: true });
  return () => {
    if (timer !== undefined) clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  };
}

/** Runs `work`, rejecting early when the timeout passes or the signal aborts. */
function withDeadline<T>(options: CallOptions, what: string, work: () => Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const dispose = armDeadline(options, what, reject);
    work().then(
      (value) => {
        dispose();
        resolve(value);
      },
      (error: unknown) => {
        dispose();
        reject(toError(error));
      },
    );
  });
}
