import type { ConnectionError } from '../connection/errors.js';
import { ReplyQueue } from '../connection/reply-queue.js';
import type { ServerAddress } from '../connection/server-address.js';
import { ServerConnection, type ServerConnectionOptions } from '../connection/server-connection.js';
import type { Packet } from '../protocol/decoder.js';
import { request } from '../protocol/encoder.js';
import { PacketType } from '../protocol/packet-types.js';
import { toError } from './client-arguments.js';
import { JobExceptionError, JobFailedError } from './errors.js';
import { handleOf } from './job-status.js';
import type { TrackedJob } from './tracked-job.js';

/** What every link of one client shares. */
export interface LinkSettings {
  /** Ask for WORK_EXCEPTION packets (OPTION_REQ exceptions). */
  readonly exceptions: boolean;
  /** Sent as SET_CLIENT_ID on every connect. */
  readonly clientId: string | undefined;
  /** Requests in flight before further submits wait. */
  readonly maxInFlight: number;
  readonly connection: ServerConnectionOptions;
}

/** The jobs created under one handle, and which of them gets the next progress packet. */
interface HandleJobs {
  jobs: TrackedJob[];
  turn: number;
}

/**
 * The client's side of one server: its connection, the requests waiting for their answer (in
 * order), the foreground jobs it runs by handle, and back-pressure (a bounded number of
 * requests in flight). It routes the server's packets to the jobs they are about.
 */
export class ServerLink {
  readonly connection: ServerConnection;
  private readonly replies: ReplyQueue;
  /** Foreground jobs by handle; several when the server coalesced our own submissions. */
  private readonly jobs = new Map<string, HandleJobs>();
  private inFlight = 0;
  private slotWaiters: Array<() => void> = [];

  constructor(
    address: ServerAddress,
    private readonly settings: LinkSettings,
  ) {
    this.connection = new ServerConnection(
      address,
      {
        onConnect: () => this.handshake(),
        onPacket: (packet) => this.receive(packet),
        onDisconnect: (error) => this.lost(error),
      },
      settings.connection,
    );
    this.replies = new ReplyQueue(this.connection.name);
  }

  /** Whether a job of ours runs here under this handle. */
  runs(handle: string): boolean {
    return this.jobs.has(handle);
  }

  /** Resolves once a submit may be written: the socket has room and a slot is free. */
  async whenWritable(): Promise<void> {
    for (let i = 0; i < 1_000_000; i++) {
      if (this.connection.needsDrain) await this.connection.drain();
      else if (this.inFlight >= this.settings.maxInFlight)
        await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
      else return;
      if (!this.connection.isConnected) return;
    }
  }

  /** Sends a foreground submission; JOB_CREATED files the job under its handle. */
  submit(active: TrackedJob, packet: Buffer): void {
    active.link = this;
    active.inFlight = true;
    this.inFlight += 1;
    this.replies.push({
      expect: PacketType.JOB_CREATED,
      resolve: (reply) => {
        if (active.job.done) return;
        const handle = handleOf(reply);
        active.handle = handle;
        const entry = this.jobs.get(handle);
        if (entry) {
          entry.jobs.push(active);
          entry.turn = 0;
        } else this.jobs.set(handle, { jobs: [active], turn: 0 });
        active.control.created(handle);
      },
      reject: (error) => active.finish(error),
    });
    this.connection.send(packet);
  }

  /** Sends one request and resolves with its answer (or the ERROR in its place). */
  call(packet: Buffer, expect: PacketType): Promise<Packet> {
    return new Promise<Packet>((resolve, reject) => {
      this.replies.push({ expect, resolve, reject });
      try {
        this.connection.send(packet);
      } catch (error) {
        reject(toError(error));
      }
    });
  }

  /** Forgets a finished job: its handle entry and its in-flight slot. */
  release(active: TrackedJob): void {
    if (active.handle !== undefined) {
      const entry = this.jobs.get(active.handle);
      if (entry) {
        entry.jobs = entry.jobs.filter((a) => a !== active);
        entry.turn = 0;
        if (entry.jobs.length === 0) this.jobs.delete(active.handle);
      }
    }
    if (active.inFlight) {
      active.inFlight = false;
      this.inFlight -= 1;
      this.slotWaiters.shift()?.();
    }
  }

  private handshake(): void {
    if (this.settings.exceptions) {
      // A server that does not know the option answers ERROR; jobs then just see WORK_FAIL.
      this.replies.push({
        expect: PacketType.OPTION_RES,
        resolve: () => undefined,
        reject: () => undefined,
      });
      this.connection.send(request(PacketType.OPTION_REQ, 'exceptions'));
    }
    if (this.settings.clientId !== undefined)
      this.connection.send(request(PacketType.SET_CLIENT_ID, this.settings.clientId));
  }

  private receive(packet: Packet): void {
    if (this.replies.take(packet)) return;
    const handleBytes = packet.args[0];
    if (handleBytes === undefined) return;
    // gearmand 1.1.20 sends the WORK_FAIL it makes from a WORK_EXCEPTION (for clients without
    // the exceptions option) with a NUL after the handle.
    let end = handleBytes.length;
    while (end > 0 && handleBytes[end - 1] === 0) end--;
    const entry = this.jobs.get(handleBytes.toString('latin1', 0, end));
    if (entry === undefined) return;
    // The end of a job ends every submission attached to it (further copies find nothing).
    const jobs = [...entry.jobs];
    // Progress, though, comes once per submission attached (gearmand and gearbox alike): with
    // several of our own submissions on one handle, each copy is for the next one in turn.
    const next = entry.jobs[entry.turn++ % entry.jobs.length];
    const data = packet.args[1] ?? Buffer.alloc(0);
    switch (packet.type) {
      case PacketType.WORK_COMPLETE:
        for (const active of jobs) active.finish(data);
        break;
      case PacketType.WORK_FAIL:
        for (const active of jobs)
          active.finish(new JobFailedError(active.handle ?? '', active.functionName));
        break;
      case PacketType.WORK_EXCEPTION:
        for (const active of jobs)
          active.finish(
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

  private lost(error: ConnectionError): void {
    this.replies.failAll(error);
    for (const entry of [...this.jobs.values()])
      for (const active of [...entry.jobs]) active.finish(error);
    this.jobs.clear();
    const waiters = this.slotWaiters;
    this.slotWaiters = [];
    for (const wake of waiters) wake();
  }
}
