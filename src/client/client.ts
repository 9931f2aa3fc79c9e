import { parseServers } from '../connection/server-address.js';
import type { Packet } from '../protocol/decoder.js';
import { request } from '../protocol/encoder.js';
import { PacketType, Priority } from '../protocol/packet-types.js';
import {
  checkName,
  checkPriority,
  checkTimeout,
  checkUnique,
  checkWorkload,
  toError,
} from './client-arguments.js';
import type {
  BackgroundSubmitOptions,
  CallOptions,
  ClientOptions,
  SubmitOptions,
  Workload,
} from './client-options.js';
import { armDeadline, withDeadline } from './deadline.js';
import { Job, type JobControl } from './job.js';
import type { JobResult } from './job-result.js';
import {
  handleOf,
  parseStatus,
  parseUniqueStatus,
  unknownStatus,
  unknownUniqueStatus,
  type JobStatus,
  type UniqueJobStatus,
} from './job-status.js';
import {
  cancelRequest,
  DEFAULT_SCHEDULER_PREFIX,
  readScheduled,
  readScheduledStatus,
  scheduleRequest,
  type CancelScheduledTarget,
  type ScheduledJob,
  type ScheduledJobStatus,
  type ScheduleOptions,
} from './scheduling.js';
import { ServerLink, type LinkSettings } from './server-link.js';
import { ServerPicker } from './server-picker.js';
import { TrackedJob } from './tracked-job.js';

export type {
  BackgroundSubmitOptions,
  CallOptions,
  ClientOptions,
  PriorityName,
  SubmitOptions,
  Workload,
} from './client-options.js';
export type { JobStatus, UniqueJobStatus } from './job-status.js';

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
  private readonly links: ServerLink[];
  private readonly picker: ServerPicker;
  private readonly defaultTimeout: number | undefined;
  private closed = false;

  constructor(options: ClientOptions = {}) {
    if (options === null || typeof options !== 'object')
      throw new TypeError('options must be an object');
    const servers = parseServers(options.servers);
    const selection = options.selection ?? 'hash';
    if (selection !== 'hash' && selection !== 'round-robin')
      throw new TypeError(`selection must be 'hash' or 'round-robin'`);
    const clientId = options.clientId;
    if (clientId !== undefined) checkName(clientId, 'clientId', true);
    this.defaultTimeout = options.timeout;
    if (this.defaultTimeout !== undefined) checkTimeout(this.defaultTimeout);
    const maxInFlight = options.maxInFlight ?? 10_000;
    if (!Number.isInteger(maxInFlight) || maxInFlight < 1)
      throw new TypeError('maxInFlight must be a positive integer');
    const settings: LinkSettings = {
      exceptions: options.exceptions ?? true,
      clientId,
      maxInFlight,
      connection: {
        transport: options.transport,
        connectTimeout: options.connectTimeout,
        backoff: options.backoff,
        maxPacketSize: options.maxPacketSize,
      },
    };
    this.links = servers.map((address) => new ServerLink(address, settings));
    this.picker = new ServerPicker(this.links, selection, () => this.closed);
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
    const active = new TrackedJob(job, control, functionName);
    active.disposeDeadline = armDeadline(deadline, `job ${functionName}`, (error) =>
      active.finish(error),
    );
    const packet = request(FOREGROUND[priority], functionName, unique, workload);
    this.dispatch(active, unique, packet).catch((error: unknown) => active.finish(toError(error)));
    return job;
  }

  /**
   * Schedules a job with the delayed-job service (`gearbox scheduler`, which must run against
   * one of this client's servers): `at` a time, `after` seconds, or on a `cron` schedule.
   * Resolves once the service has committed it; rejects with the service's reason
   * (a `JobExceptionError` or `JobFailedError`) when it refuses, and then nothing was stored.
   */
  async schedule(
    functionName: string,
    payload: Workload,
    options: ScheduleOptions,
  ): Promise<ScheduledJob> {
    checkName(functionName, 'function name');
    checkWorkload(payload);
    const answer = await this.callScheduler(
      options.prefix,
      'schedule',
      scheduleRequest(functionName, payload, options),
      options,
    );
    return readScheduled(answer);
  }

  /** Cancels a scheduled job; resolves with whether a pending job was cancelled. */
  async cancelScheduled(
    target: CancelScheduledTarget,
    options: CallOptions & { prefix?: string } = {},
  ): Promise<boolean> {
    const answer = await this.callScheduler(
      options.prefix,
      'cancel',
      cancelRequest(target),
      options,
    );
    return answer.cancelled === true;
  }

  /** A scheduled job's state; rejects (`JobExceptionError`) when the service knows no such id. */
  async scheduledStatus(
    id: string,
    options: CallOptions & { prefix?: string } = {},
  ): Promise<ScheduledJobStatus> {
    const answer = await this.callScheduler(
      options.prefix,
      'status',
      JSON.stringify({ id }),
      options,
    );
    return readScheduledStatus(answer);
  }

  private async callScheduler(
    prefix: string | undefined,
    name: string,
    request: string,
    options: CallOptions,
  ): Promise<Record<string, unknown>> {
    const result = await this.run(`${prefix ?? DEFAULT_SCHEDULER_PREFIX}${name}`, request, {
      timeout: options.timeout,
      signal: options.signal,
    });
    return result.json<Record<string, unknown>>();
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
      const link = await this.picker.pick(unique);
      return handleOf(await link.call(packet, PacketType.JOB_CREATED));
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
      const owner = this.links.find((l) => l.runs(handle));
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
      return statuses.find((s) => s.known) ?? statuses[0] ?? unknownUniqueStatus(unique);
    });
  }

  /** Sends ECHO_REQ to a server and resolves with the bytes it echoed. */
  async echo(data: Workload, options: CallOptions = {}): Promise<Buffer> {
    checkWorkload(data);
    const deadline = this.deadlineOptions(options);
    return withDeadline(deadline, 'echo', async () => {
      const link = await this.picker.pick('');
      const reply = await link.call(request(PacketType.ECHO_REQ, data), PacketType.ECHO_RES);
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

  private async dispatch(active: TrackedJob, unique: string, packet: Buffer): Promise<void> {
    const link = await this.picker.pick(unique);
    await link.whenWritable();
    if (active.job.done) return;
    link.submit(active, packet);
  }

  /**
   * Sends a request to several servers at once; resolves with the answers of those that could
   * be reached, or rejects with the first failure when none could.
   */
  private async askAll(links: ServerLink[], packet: Buffer, expect: PacketType): Promise<Packet[]> {
    const settled = await Promise.allSettled(
      links.map(async (link) => {
        await link.connection.connect();
        return link.call(packet, expect);
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
}
