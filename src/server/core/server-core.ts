import { AdminReply, type AdminJobRow } from '../../protocol/admin.js';
import type { Packet, TextLine } from '../../protocol/decoder.js';
import { encodePacket, Frames } from '../../protocol/encoder.js';
import {
  HEADER_SIZE,
  Magic,
  PacketType,
  Priority,
  RESPONSE_TYPES,
  packetName,
} from '../../protocol/packet-types.js';
import { GENERATED_KEY_PREFIX, type StoredJob } from '../../storage/job-store.js';
import { DelayHeap } from './delay-heap.js';
import type { Clock, ConnectionId, ConnectionInfo, Effect, LogLevel } from './effects.js';
import { FunctionQueue } from './function-queue.js';
import { Job, JobState } from './job.js';
import { JobTable } from './job-table.js';
import { nextScheduledTime } from './next-schedule.js';
import { REFUSAL_SUMMARY_MS, StoreRefusals } from './store-refusals.js';

/** How the core behaves; the `gearbox server` flags map onto these. */
export interface CoreOptions {
  /** Handles are `${handlePrefix}:${n}` with n from 1 (gearmand: `H:<hostname>`). */
  handlePrefix: string;
  /** `-j`: total attempts of a job; 0 = unlimited (gearmand 1.1.20 semantics). */
  jobRetries: number;
  /** `-R`: the function just served moves to the end of that worker's abilities. */
  roundRobin: boolean;
  /**
   * `-w`: most sleeping workers woken per new job; 0 = every sleeping worker of the function
   * (gearmand's default). With a cap, more are woken every {@link REWAKE_DELAY_MS} while the
   * function still has queued jobs, so a woken worker that never answers strands nothing.
   */
  wakeWorkers: number;
  /** `--exceptions`: WORK_EXCEPTION is forwarded to every client as if it had opted in. */
  exceptions: boolean;
  /**
   * With a store: background jobs produce `persist` effects and are acknowledged and runnable
   * only once `persistDone(token)` is called.
   */
  durable: boolean;
  /** The admin `version` reply, e.g. `1.1.20+gearbox-0.1.0`. */
  version: string;
  /** The admin `getpid` reply. */
  pid: number;
  /** The admin `verbose` reply. */
  verbose: LogLevel;
  /** The longest unique id accepted, in bytes (gearmand: 64). */
  maxUniqueLength?: number;
  /**
   * On CAN_DO_TIMEOUT expiry, end the job with WORK_FAIL to its clients (as the protocol text
   * says) instead of requeueing it (as gearmand does). Default false.
   */
  failOnTimeout?: boolean;
}

/** Per-function numbers for metrics and the dashboard. */
export interface FunctionSnapshot {
  readonly name: string;
  /** Runnable queued jobs by priority: [HIGH, NORMAL, LOW] (ignored ones included). */
  readonly queued: readonly [number, number, number];
  /** Epoch/scheduled jobs not yet due, by priority. */
  readonly delayed: readonly [number, number, number];
  readonly running: number;
  /** Ability registrations. */
  readonly workers: number;
  /** Workers asleep waiting for this function. */
  readonly sleepingWorkers: number;
}

/** Totals since the core was created. */
export interface CoreCounters {
  /** New jobs created (coalesced submissions not counted). */
  readonly jobsCreated: number;
  readonly jobsCompleted: number;
  /** Ended by WORK_FAIL, WORK_EXCEPTION, cancel or retry exhaustion. */
  readonly jobsFailed: number;
  /** Requeued after a worker vanished, gave up the ability, or timed out. */
  readonly jobsRequeued: number;
  /** Submissions answered with the existing job's handle. */
  readonly jobsCoalesced: number;
}

/** A read-only picture of the server, for metrics and the dashboard. */
export interface CoreSnapshot {
  readonly functions: readonly FunctionSnapshot[];
  /** Jobs in the queues (all functions, all priorities), delayed ones excluded. */
  readonly queued: number;
  readonly delayed: number;
  readonly running: number;
  /** Durable jobs waiting for their store commit. */
  readonly pending: number;
  readonly connections: number;
  readonly workers: number;
  readonly counters: CoreCounters;
}

/** One ability of a worker connection. */
interface Ability {
  readonly fn: FunctionQueue;
  /** CAN_DO_TIMEOUT in milliseconds; 0 = none. */
  readonly timeout: number;
}

/*
 * A worker connection's sleep states (any connection may become a worker by sending CAN_DO):
 *
 *   AWAKE     grabbing; GRAB_* with nothing to do answers NO_JOB and stays AWAKE
 *     └─ PRE_SLEEP ─┬─ a job is queued for one of its functions → NOOP at once, NOOP_SENT
 *                   └─ otherwise → SLEEPING (listed in `sleeping` of each of its functions)
 *   SLEEPING  a new runnable job of one of its functions → NOOP → NOOP_SENT: every sleeper of
 *             the function (as gearmand), or with -w N the N asleep longest, and N more each
 *             REWAKE_DELAY_MS while the function's jobs still wait
 *   NOOP_SENT out of every `sleeping` set, never NOOPed twice; GRAB_* → AWAKE
 */
/** What the core keeps per connection. */
class Connection {
  clientId = '-';
  /** Newest CAN_DO first: the order a grab looks at them. */
  abilities: Ability[] = [];
  sleeping = false;
  noopSent = false;
  exceptions: boolean;
  /** Jobs assigned to this connection. */
  readonly running = new Set<Job>();
  /** Foreground jobs this connection submitted and is waiting for. */
  readonly attached = new Set<Job>();

  constructor(
    readonly info: ConnectionInfo,
    exceptions: boolean,
  ) {
    this.exceptions = exceptions;
  }
}

/** A durable submission waiting for its commit. */
interface PendingPersist {
  readonly job: Job;
  /** The connection that submitted it, owed a JOB_CREATED (or the store's error). */
  readonly holder: ConnectionId;
  /** Connections whose submissions coalesced onto it meanwhile, owed the same. */
  coalesced: ConnectionId[] | undefined;
}

/** Priority and background-ness of the plain SUBMIT_JOB variants. */
const SUBMIT_KINDS = {
  [PacketType.SUBMIT_JOB]: { priority: Priority.NORMAL, background: false },
  [PacketType.SUBMIT_JOB_HIGH]: { priority: Priority.HIGH, background: false },
  [PacketType.SUBMIT_JOB_LOW]: { priority: Priority.LOW, background: false },
  [PacketType.SUBMIT_JOB_BG]: { priority: Priority.NORMAL, background: true },
  [PacketType.SUBMIT_JOB_HIGH_BG]: { priority: Priority.HIGH, background: true },
  [PacketType.SUBMIT_JOB_LOW_BG]: { priority: Priority.LOW, background: true },
} as const;

const EPOCH_TIMER = 'epoch';
/** Wakes more sleepers of the functions whose jobs still wait after a capped (`-w`) wake-up. */
const REWAKE_TIMER = 'rewake';
/** Sums up the store's refusals during an outage (see StoreRefusals). */
const REFUSALS_TIMER = 'store-refusals';
/**
 * How long a job waits for the workers a capped wake-up chose before more are woken (the Perl
 * Gearman::Server waits 0.1 s too). A worker may be busy with another server's job or hung.
 */
export const REWAKE_DELAY_MS = 100;
const TIMEOUT_TIMER_PREFIX = 'timeout:';
const MIN_CAN_DO_TIMEOUT = 1000;
/** How far ahead a SUBMIT_JOB_SCHED schedule is searched before it is refused. */
const SCHEDULE_HORIZON_DAYS = 366 * 5;
/**
 * Generated keys of `-` jobs (coalesced on their payload) carry this after the store's prefix,
 * so that replay gives them back the unique `-`.
 */
const DASH_KEY_MARKER = `${GENERATED_KEY_PREFIX}-:`;

const EMPTY = Buffer.alloc(0);
const ZERO = Buffer.from('0');
const ONE = Buffer.from('1');

function errorPacket(code: string, text: string): Buffer {
  return encodePacket(Magic.RES, PacketType.ERROR, [code, text]);
}

/** gearmand's fixed error replies, encoded once. */
const Errors = {
  invalidMagic: errorPacket('INVALID_MAGIC', 'Request magic expected'),
  invalidCommand: errorPacket('INVALID_COMMAND', 'Command not expected'),
  uniqueTooLarge: errorPacket('ARGUMENT_TOO_LARGE', 'Unique value too large'),
  queueFull: errorPacket('QUEUE_ERROR', 'Job queue is full'),
  unknownOption: errorPacket('UNKNOWN_OPTION', 'Server does not recognize given option'),
  workResultNotFound: errorPacket('JOB_NOT_FOUND', 'Job given in work result not found'),
  workDataNotFound: errorPacket('JOB_NOT_FOUND', 'Job does not exist on server'),
  exceptionNotFound: errorPacket(
    'JOB_NOT_FOUND',
    'An exception was received for a job that does not exist',
  ),
  badSchedule: errorPacket('INVALID_ARGUMENT', 'Schedule matches no time'),
  badFunctionName: errorPacket(
    'INVALID_FUNCTION_NAME',
    'Function name must not contain NUL, carriage return or newline',
  ),
} as const;

/** `\0RES` and the JOB_CREATED type: the first 8 bytes of every JOB_CREATED packet. */
const JOB_CREATED_HEADER = encodePacket(Magic.RES, PacketType.JOB_CREATED, []).subarray(0, 8);

/** How many decimal digits a positive integer has. */
function decimalDigits(value: number): number {
  let digits = 1;
  for (let rest = value; rest >= 10; rest = Math.floor(rest / 10)) digits++;
  return digits;
}

/** Writes a non-negative integer's decimal digits so that the last one lands just before `end`. */
function writeDecimal(out: Buffer, end: number, value: number): void {
  let pos = end;
  let rest = value;
  do {
    const next = Math.floor(rest / 10);
    out[--pos] = 0x30 + (rest - next * 10);
    rest = next;
  } while (rest > 0);
}

function bytes(text: string): Buffer {
  return Buffer.from(text, 'latin1');
}

/** Argument `i` of a packet; a packet built by hand may carry fewer than its type has. */
function argAt(args: readonly Buffer[], i: number): Buffer {
  return args[i] ?? EMPTY;
}

function isAscii(value: string): boolean {
  // eslint-disable-next-line no-control-regex
  return /^[\x00-\x7f]*$/.test(value);
}

/** A byte string (latin1) as readable text: UTF-8 names become the characters they spell. */
function byteStringToText(value: string): string {
  return isAscii(value) ? value : Buffer.from(value, 'latin1').toString('utf8');
}

/** The inverse of {@link byteStringToText}. */
function textToByteString(value: string): string {
  return isAscii(value) ? value : Buffer.from(value, 'utf8').toString('latin1');
}

/** Byte equality without a call into C++ (names are short). */
function sameBytes(a: Buffer, b: Buffer): boolean {
  const n = a.length;
  if (n !== b.length) return false;
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Whether a peer may create a function of this name: NUL, CR and LF would end or forge rows of
 * the admin listings (`status`, `workers`). A TAB is allowed: Perl's Gearman::Worker joins its
 * `prefix` to the name with one, and gearmand takes it.
 */
function acceptableFunctionName(name: string): boolean {
  return !/[\0\r\n]/.test(name);
}

/** C `atoi`: leading digits (optionally signed) or 0. */
function atoi(text: string): number {
  const match = /^\s*([+-]?\d+)/.exec(text);
  return match?.[1] === undefined ? 0 : Number.parseInt(match[1], 10);
}

/**
 * The Gearman job server as a synchronous state machine: packets and admin lines in, effects
 * out. It owns functions, their priority lists, jobs by handle and by (function, unique), worker
 * abilities, sleeping workers, attached clients, retries and maxqueue. It never performs I/O,
 * never waits and never arms a timer itself: it returns effects for the I/O shell to apply.
 *
 * Byte strings: function names, uniques, client ids and handles are kept as latin1 strings
 * (one character per byte) so any bytes a peer sends survive unchanged.
 */
export class ServerCore {
  private readonly conns = new Map<ConnectionId, Connection>();
  private readonly functions = new Map<string, FunctionQueue>();
  /** Acknowledged jobs (queued, delayed, running, ignored-but-not-yet-skipped) by handle number. */
  private readonly jobs = new JobTable();
  /** PENDING jobs by commit token, which is the job's id (a job is committed once). */
  private readonly pending = new Map<number, PendingPersist>();
  private readonly delayedJobs = new DelayHeap();
  /** Functions with sleepers a capped wake-up left asleep, looked at when `rewake` fires. */
  private readonly rewakeDue = new Set<FunctionQueue>();
  private rewakeArmed = false;
  private readonly refusals = new StoreRefusals();
  /** The time the `epoch` timer is armed for, or -1. */
  private epochTimerAt = -1;
  private nextJobId = 1;
  private nextGeneratedKey = 1;
  /** Makes generated store keys of this run distinct from rows an earlier run left. */
  private readonly runKey: string;
  private running = 0;
  private readonly handlePrefix: string;
  private readonly handlePrefixBytes: Buffer;
  private lastFunction: FunctionQueue | undefined;
  private draining = false;
  private readonly maxUniqueLength: number;
  private out: Effect[] = [];
  private readonly counters = {
    jobsCreated: 0,
    jobsCompleted: 0,
    jobsFailed: 0,
    jobsRequeued: 0,
    jobsCoalesced: 0,
  };

  constructor(
    private readonly options: CoreOptions,
    private readonly clock: Clock,
  ) {
    this.handlePrefix = `${textToByteString(options.handlePrefix)}:`;
    this.handlePrefixBytes = bytes(this.handlePrefix);
    this.maxUniqueLength = options.maxUniqueLength ?? 64;
    // Handle numbers restart at 1 on every run, so generated keys carry the start time and a
    // random part to stay distinct from the rows an earlier run left in the store.
    this.runKey = `${clock.now().toString(36)}.${Math.floor(Math.random() * 0x100000).toString(36)}.`;
  }

  /** Jobs assigned to workers right now (graceful shutdown waits for this to reach 0). */
  get runningJobs(): number {
    return this.running;
  }

  /**
   * Stops handing out jobs, for a graceful shutdown: from now on every grab gets NO_JOB and no
   * worker is woken, so `runningJobs` only goes down. Submissions are still taken (and, with a
   * store, committed, so they run after the restart). An admin `shutdown graceful` does this too.
   */
  drain(): Effect[] {
    this.draining = true;
    return this.flush();
  }

  /** A new connection (client, worker or admin, all alike until they speak). */
  connect(info: ConnectionInfo): Effect[] {
    this.conns.set(info.id, new Connection(info, this.options.exceptions));
    return this.flush();
  }

  /**
   * A connection went away: its running jobs are requeued (a retry), it is detached from the
   * foreground jobs it waited for (a job nobody waits for any more is ignored), and its
   * abilities are dropped.
   */
  disconnect(connId: ConnectionId): Effect[] {
    const conn = this.conns.get(connId);
    if (conn === undefined) return this.flush();
    this.conns.delete(connId);
    this.dropAbilities(conn, undefined);
    for (const job of conn.attached) this.detach(job, connId);
    conn.attached.clear();
    return this.flush();
  }

  /** A binary packet from the connection (from the protocol Decoder). */
  receive(connId: ConnectionId, packet: Packet): Effect[] {
    const conn = this.conns.get(connId);
    if (conn === undefined) return this.flush();
    if (packet.magic !== Magic.REQ) {
      this.send(connId, Errors.invalidMagic);
      return this.flush();
    }
    const args = packet.args;
    switch (packet.type) {
      case PacketType.ECHO_REQ:
        this.send(connId, encodePacket(Magic.RES, PacketType.ECHO_RES, [argAt(args, 0)]));
        break;
      case PacketType.SUBMIT_JOB:
      case PacketType.SUBMIT_JOB_HIGH:
      case PacketType.SUBMIT_JOB_LOW:
      case PacketType.SUBMIT_JOB_BG:
      case PacketType.SUBMIT_JOB_HIGH_BG:
      case PacketType.SUBMIT_JOB_LOW_BG: {
        const kind = SUBMIT_KINDS[packet.type];
        this.submit(
          conn,
          argAt(args, 0),
          argAt(args, 1),
          argAt(args, 2),
          kind.priority,
          kind.background,
        );
        break;
      }
      case PacketType.SUBMIT_JOB_EPOCH:
        this.submit(conn, argAt(args, 0), argAt(args, 1), argAt(args, 3), Priority.NORMAL, true, {
          when: Math.max(0, atoi(argAt(args, 2).toString('latin1'))),
        });
        break;
      case PacketType.SUBMIT_REDUCE_JOB:
      case PacketType.SUBMIT_REDUCE_JOB_BACKGROUND:
        this.submit(
          conn,
          argAt(args, 0),
          argAt(args, 1),
          argAt(args, 4),
          Priority.NORMAL,
          packet.type === PacketType.SUBMIT_REDUCE_JOB_BACKGROUND,
          { reducer: argAt(args, 2).toString('latin1') },
        );
        break;
      case PacketType.SUBMIT_JOB_SCHED:
        this.submitScheduled(conn, args);
        break;
      case PacketType.GRAB_JOB:
      case PacketType.GRAB_JOB_UNIQ:
      case PacketType.GRAB_JOB_ALL:
        this.grab(conn, packet.type);
        break;
      case PacketType.PRE_SLEEP:
        this.preSleep(conn);
        break;
      case PacketType.CAN_DO:
        this.canDo(conn, argAt(args, 0).toString('latin1'), 0);
        break;
      case PacketType.CAN_DO_TIMEOUT:
        this.canDo(
          conn,
          argAt(args, 0).toString('latin1'),
          Math.max(MIN_CAN_DO_TIMEOUT, atoi(argAt(args, 1).toString('latin1'))),
        );
        break;
      case PacketType.CANT_DO: {
        const fn = this.functions.get(argAt(args, 0).toString('latin1'));
        if (fn !== undefined) this.dropAbilities(conn, fn);
        break;
      }
      case PacketType.RESET_ABILITIES:
        this.dropAbilities(conn, undefined);
        break;
      case PacketType.WORK_STATUS:
      case PacketType.WORK_DATA:
      case PacketType.WORK_WARNING:
      case PacketType.WORK_COMPLETE:
      case PacketType.WORK_FAIL:
      case PacketType.WORK_EXCEPTION:
        this.workResult(conn, packet.type, args);
        break;
      case PacketType.GET_STATUS:
        this.getStatus(connId, argAt(args, 0));
        break;
      case PacketType.GET_STATUS_UNIQUE:
        this.getStatusUnique(connId, argAt(args, 0));
        break;
      case PacketType.SET_CLIENT_ID:
        conn.clientId = argAt(args, 0).toString('latin1');
        break;
      case PacketType.OPTION_REQ:
        if (argAt(args, 0).toString('latin1').toLowerCase() === 'exceptions') {
          conn.exceptions = true;
          this.send(connId, encodePacket(Magic.RES, PacketType.OPTION_RES, [argAt(args, 0)]));
        } else {
          this.send(connId, Errors.unknownOption);
        }
        break;
      default:
        if (RESPONSE_TYPES.has(packet.type) || packet.type === PacketType.UNUSED_5) {
          this.send(connId, Errors.invalidCommand);
        } else if (packet.type === PacketType.ALL_YOURS) {
          this.send(connId, Errors.invalidCommand);
        } else {
          // The decoder refuses unknown types already; anything else reaching here is a bug
          // upstream, and gearmand closes the connection for an unknown type.
          this.out.push({
            type: 'close',
            conn: connId,
            reason: `unknown packet type ${packetName(packet.type)}`,
          });
        }
    }
    return this.flush();
  }

  /** An admin text command line from the connection. */
  receiveText(connId: ConnectionId, line: TextLine): Effect[] {
    const conn = this.conns.get(connId);
    if (conn !== undefined) this.adminCommand(conn, line);
    return this.flush();
  }

  /**
   * The store settled the commit of `token`: the job becomes runnable and its submitters get
   * JOB_CREATED; on `error` they get `ERROR QUEUE_ERROR <error>` and the job is dropped.
   */
  persistDone(token: number, error?: string): Effect[] {
    const entry = this.pending.get(token);
    if (entry === undefined) return this.flush();
    this.pending.delete(token);
    const job = entry.job;
    job.fn.pending--;
    if (error !== undefined) {
      const first = this.refusals.refused(`${job.fn.textName}/${job.storeKey ?? ''}`, error);
      if (first !== undefined) {
        this.log('ERROR', first);
        this.armTimer(REFUSALS_TIMER, REFUSAL_SUMMARY_MS);
      }
      job.storeKey = undefined;
      this.forget(job);
      this.answerHolders(entry, errorPacket('QUEUE_ERROR', error));
      for (const client of job.clients ?? []) this.conns.get(client)?.attached.delete(job);
      job.clients = undefined;
      job.state = JobState.DONE;
      return this.flush();
    }
    if (this.refusals.active) {
      const back = this.refusals.committed();
      if (back !== undefined) this.log('NOTICE', back);
    }
    this.jobs.set(job);
    this.answerHolders(entry, this.jobCreated(job));
    this.makeRunnable(job);
    return this.flush();
  }

  /** Sends the outcome of a commit to every connection that submitted the job, still there. */
  private answerHolders(entry: PendingPersist, reply: Buffer): void {
    if (this.conns.has(entry.holder)) this.send(entry.holder, reply);
    for (const holder of entry.coalesced ?? []) {
      if (this.conns.has(holder)) this.send(holder, reply);
    }
  }

  /** A timer armed by a `timer` effect went off. */
  timerFired(key: string): Effect[] {
    if (key === EPOCH_TIMER) {
      this.epochTimerAt = -1;
      this.promoteDue();
    } else if (key === REFUSALS_TIMER) {
      const { line, again } = this.refusals.summary();
      if (line !== undefined) this.log('ERROR', line);
      if (again) this.armTimer(REFUSALS_TIMER, REFUSAL_SUMMARY_MS);
    } else if (key === REWAKE_TIMER) {
      this.rewakeArmed = false;
      const due = [...this.rewakeDue];
      this.rewakeDue.clear();
      for (const fn of due) {
        if (this.functions.get(fn.name) === fn && fn.hasQueued) this.wake(fn, 1);
      }
    } else if (key.startsWith(TIMEOUT_TIMER_PREFIX)) {
      const job = this.jobs.get(Number(key.slice(TIMEOUT_TIMER_PREFIX.length)));
      if (job !== undefined && job.state === JobState.RUNNING && job.timerArmed) {
        job.timerArmed = false;
        if (this.options.failOnTimeout === true) {
          this.log('INFO', `${this.handleOf(job)} timed out on its worker; failed`);
          this.unassign(job);
          const handle = bytes(this.handleOf(job));
          this.forward(job, encodePacket(Magic.RES, PacketType.WORK_FAIL, [handle]));
          this.finish(job, false);
        } else {
          this.log('INFO', `${this.handleOf(job)} timed out on its worker; requeued`);
          this.requeue(job);
        }
      }
    }
    return this.flush();
  }

  /** Replays a stored job at start: queued (or delayed) with a fresh handle, no effects. */
  restore(stored: StoredJob): void {
    const fn = this.functionFor(textToByteString(stored.functionName));
    const key = textToByteString(stored.uniqueKey);
    let unique = key;
    if (stored.generatedKey) unique = key.startsWith(DASH_KEY_MARKER) ? '-' : '';
    const job = new Job(
      this.nextJobId++,
      fn,
      unique,
      stored.data,
      stored.priority,
      true,
      stored.whenToRun,
      JobState.QUEUED,
    );
    job.storeKey = stored.uniqueKey;
    if (stored.reducer !== undefined) job.extend({ reducer: textToByteString(stored.reducer) });
    const coalesceKey = job.coalesceKey;
    if (coalesceKey !== undefined) fn.byUnique.set(coalesceKey, job);
    this.jobs.set(job);
    this.counters.jobsCreated++;
    // Nobody sleeps on a job replayed at start; the epoch timer is armed by the next flush().
    this.makeRunnable(job, false);
  }

  /** A read-only picture of the queues, workers and counters. */
  snapshot(): CoreSnapshot {
    const functions: FunctionSnapshot[] = [];
    let queued = 0;
    let delayed = 0;
    let workers = 0;
    for (const fn of this.functions.values()) {
      functions.push({
        name: byteStringToText(fn.name),
        queued: [...fn.queued],
        delayed: [...fn.delayed],
        running: fn.running,
        workers: fn.workers,
        sleepingWorkers: fn.sleeping.size,
      });
      queued += fn.queued[0] + fn.queued[1] + fn.queued[2];
      delayed += fn.delayed[0] + fn.delayed[1] + fn.delayed[2];
    }
    for (const conn of this.conns.values()) if (conn.abilities.length > 0) workers++;
    return {
      functions,
      queued,
      delayed,
      running: this.running,
      pending: this.pending.size,
      connections: this.conns.size,
      workers,
      counters: { ...this.counters },
    };
  }

  // ---------------------------------------------------------------------------------------
  // Submission

  private submit(
    conn: Connection,
    fnBytes: Buffer,
    uniqueBytes: Buffer,
    data: Buffer,
    priority: Priority,
    background: boolean,
    extra?: { when?: number; reducer?: string },
  ): void {
    if (uniqueBytes.length > this.maxUniqueLength) {
      this.send(conn.info.id, Errors.uniqueTooLarge);
      return;
    }
    const fn = this.functionForBytes(fnBytes);
    if (fn === undefined) {
      this.send(conn.info.id, Errors.badFunctionName);
      return;
    }
    const unique = uniqueBytes.toString('latin1');
    const key = unique === '' ? undefined : unique === '-' ? data.toString('latin1') : unique;
    if (key !== undefined) {
      const existing = fn.byUnique.get(key);
      if (existing !== undefined) {
        this.coalesce(conn, existing, background);
        return;
      }
    }
    const max = fn.maxQueue[priority];
    if (max > 0 && fn.total >= max) {
      this.send(conn.info.id, Errors.queueFull);
      return;
    }
    const durable = this.options.durable && background;
    const job = new Job(
      this.nextJobId++,
      fn,
      unique,
      data,
      priority,
      background,
      extra?.when ?? 0,
      durable ? JobState.PENDING : JobState.QUEUED,
    );
    this.counters.jobsCreated++;
    if (extra?.reducer !== undefined) job.extend({ reducer: extra.reducer });
    if (key !== undefined) fn.byUnique.set(key, job);
    if (!background) this.attach(conn, job);
    if (durable) {
      this.persist(conn, job, data);
      return;
    }
    this.jobs.set(job);
    this.send(conn.info.id, this.jobCreated(job));
    this.makeRunnable(job);
  }

  /** A submission whose key matches a live job: same handle, nothing new. */
  private coalesce(conn: Connection, job: Job, background: boolean): void {
    this.counters.jobsCoalesced++;
    if (!background) this.attach(conn, job);
    if (job.state === JobState.PENDING) {
      const entry = this.pending.get(job.id);
      if (entry) (entry.coalesced ??= []).push(conn.info.id);
      this.out.push({ type: 'hold', conn: conn.info.id, token: job.id });
      return;
    }
    this.send(conn.info.id, this.jobCreated(job));
  }

  /**
   * `data` is the submitted payload as it arrived — a view of received bytes, which the I/O layer
   * never reuses — so the store copies it once more without the job making it a Buffer again.
   */
  private persist(conn: Connection, job: Job, data: Buffer): void {
    const token = job.id;
    job.fn.pending++;
    const generated = job.unique === '' || job.unique === '-';
    const key = generated
      ? `${job.unique === '-' ? DASH_KEY_MARKER : GENERATED_KEY_PREFIX}${this.runKey}${this.nextGeneratedKey++}`
      : job.unique;
    this.pending.set(token, { job, holder: conn.info.id, coalesced: undefined });
    const reducer = job.reducer;
    // One object shape whether or not there is a reducer (a spread would make two).
    const stored: StoredJob = {
      functionName: job.fn.textName,
      uniqueKey: byteStringToText(key),
      generatedKey: generated,
      priority: job.priority,
      data,
      whenToRun: job.when,
      reducer: reducer === undefined ? undefined : byteStringToText(reducer),
    };
    // The store key must be what unpersist sends later, in the store's own (text) form.
    job.storeKey = stored.uniqueKey;
    this.out.push({ type: 'persist', token, job: stored });
    this.out.push({ type: 'hold', conn: conn.info.id, token });
  }

  private submitScheduled(conn: Connection, args: readonly Buffer[]): void {
    const field = (i: number): string => (args[i] ?? EMPTY).toString('latin1');
    const parse = (text: string): number | undefined | null => {
      if (text.trim() === '') return undefined;
      if (!/^\s*\d+\s*$/.test(text)) return null;
      return Number.parseInt(text, 10);
    };
    const fields = [2, 3, 4, 5, 6].map((i) => parse(field(i)));
    if (fields.some((f) => f === null)) {
      this.send(conn.info.id, Errors.badSchedule);
      return;
    }
    const [minute, hour, dayOfMonth, month, weekday] = fields as (number | undefined)[];
    const at = nextScheduledTime(
      this.clock.now(),
      { minute, hour, dayOfMonth, month, weekday },
      SCHEDULE_HORIZON_DAYS,
    );
    if (at === undefined) {
      this.send(conn.info.id, Errors.badSchedule);
      return;
    }
    this.submit(conn, args[0] ?? EMPTY, args[1] ?? EMPTY, args[7] ?? EMPTY, Priority.NORMAL, true, {
      when: Math.floor(at / 1000),
    });
  }

  /** Puts an acknowledged job where it can run: its list now, or the delay heap. */
  private makeRunnable(job: Job, wakeWorkers = true): void {
    if (job.when > 0 && job.when * 1000 > this.clock.now()) {
      job.state = JobState.DELAYED;
      job.fn.delayed[job.priority]++;
      this.delayedJobs.push(job);
      return;
    }
    job.state = JobState.QUEUED;
    job.fn.push(job);
    if (wakeWorkers) this.wake(job.fn, 1);
  }

  /** Moves every due delayed job into its list and wakes workers for them. */
  private promoteDue(): void {
    const heap = this.delayedJobs;
    let top = heap.peek();
    if (top === undefined) return;
    const now = this.clock.now();
    while (top !== undefined && top.when * 1000 <= now) {
      heap.pop();
      top.fn.delayed[top.priority]--;
      if (top.ignored) {
        this.forget(top);
        top.state = JobState.DONE;
      } else {
        top.state = JobState.QUEUED;
        top.fn.push(top);
        this.wake(top.fn, 1);
      }
      top = heap.peek();
    }
  }

  // ---------------------------------------------------------------------------------------
  // Workers

  private canDo(conn: Connection, name: string, timeout: number): void {
    const fn = this.functionNamed(name);
    if (fn === undefined) {
      this.send(conn.info.id, Errors.badFunctionName);
      return;
    }
    conn.abilities.unshift({ fn, timeout });
    fn.workers++;
    if (conn.sleeping) {
      fn.sleeping.add(conn.info.id);
      this.promoteDue();
      if (fn.hasQueued && !conn.noopSent && !this.draining) this.noop(conn);
    }
  }

  /** Drops the abilities for `fn` (all of them when undefined) and requeues their jobs. */
  private dropAbilities(conn: Connection, fn: FunctionQueue | undefined): void {
    if (fn === undefined) {
      for (const ability of conn.abilities) {
        ability.fn.workers--;
        ability.fn.sleeping.delete(conn.info.id);
      }
      conn.abilities = [];
    } else {
      const before = conn.abilities.length;
      conn.abilities = conn.abilities.filter((a) => a.fn !== fn);
      fn.workers -= before - conn.abilities.length;
      fn.sleeping.delete(conn.info.id);
    }
    for (const job of [...conn.running]) {
      if (fn === undefined || job.fn === fn) this.requeue(job);
    }
  }

  private preSleep(conn: Connection): void {
    this.promoteDue();
    conn.noopSent = false;
    for (const ability of this.draining ? [] : conn.abilities) {
      if (ability.fn.hasQueued) {
        this.noop(conn);
        return;
      }
    }
    conn.sleeping = true;
    for (const ability of conn.abilities) ability.fn.sleeping.add(conn.info.id);
  }

  /**
   * Wakes the sleeping workers of `fn` for `count` new runnable jobs: all of them, or with `-w N`
   * up to N per job, longest asleep first. Each NOOP takes its worker out of every sleeping set,
   * so the cost is the number woken. When a cap leaves sleepers, the `rewake` timer looks again.
   */
  private wake(fn: FunctionQueue, count: number): void {
    if (fn.sleeping.size === 0 || this.draining) return;
    const cap = this.options.wakeWorkers;
    let left = cap > 0 ? cap * count : Infinity;
    for (const id of fn.sleeping) {
      if (left <= 0) break;
      const worker = this.conns.get(id);
      if (worker === undefined) {
        fn.sleeping.delete(id);
        continue;
      }
      this.noop(worker);
      left--;
    }
    if (fn.sleeping.size > 0) this.armRewake(fn);
  }

  private armRewake(fn: FunctionQueue): void {
    this.rewakeDue.add(fn);
    if (this.rewakeArmed) return;
    this.rewakeArmed = true;
    this.armTimer(REWAKE_TIMER, REWAKE_DELAY_MS);
  }

  private armTimer(key: string, delayMs: number): void {
    this.out.push({ type: 'timer', key, at: this.clock.now() + delayMs });
  }

  /** Sends NOOP (once per sleep) and takes the worker out of the sleeping sets. */
  private noop(conn: Connection): void {
    if (conn.noopSent) return;
    conn.noopSent = true;
    this.awake(conn);
    this.send(conn.info.id, Frames.NOOP);
  }

  private awake(conn: Connection): void {
    if (!conn.sleeping) return;
    conn.sleeping = false;
    for (const ability of conn.abilities) ability.fn.sleeping.delete(conn.info.id);
  }

  private grab(conn: Connection, type: PacketType): void {
    conn.noopSent = false;
    this.awake(conn);
    this.promoteDue();
    if (this.draining) {
      this.send(conn.info.id, Frames.NO_JOB);
      return;
    }
    const abilities = conn.abilities;
    for (let i = 0; i < abilities.length; i++) {
      const ability = abilities[i] as Ability;
      const job = this.takeNext(ability.fn);
      if (job === undefined) continue;
      if (this.options.roundRobin && abilities.length > 1) {
        abilities.splice(i, 1);
        abilities.push(ability);
      }
      this.assign(conn, job, ability.timeout);
      this.send(conn.info.id, this.assignPacket(job, type));
      return;
    }
    this.send(conn.info.id, Frames.NO_JOB);
  }

  /** The next runnable job of `fn`, freeing the ignored ones it passes. */
  private takeNext(fn: FunctionQueue): Job | undefined {
    for (;;) {
      const job = fn.shift();
      if (job === undefined || !job.ignored) return job;
      this.forget(job);
      job.state = JobState.DONE;
    }
  }

  private assign(conn: Connection, job: Job, timeout: number): void {
    job.state = JobState.RUNNING;
    job.worker = conn.info.id;
    conn.running.add(job);
    job.fn.running++;
    this.running++;
    if (timeout > 0) {
      job.timerArmed = true;
      this.out.push({
        type: 'timer',
        key: `${TIMEOUT_TIMER_PREFIX}${job.id}`,
        at: this.clock.now() + timeout,
      });
    }
  }

  private assignPacket(job: Job, type: PacketType): Buffer {
    const handle = this.handleBytes(job);
    if (type === PacketType.GRAB_JOB) {
      return encodePacket(Magic.RES, PacketType.JOB_ASSIGN, [handle, job.fn.nameBytes, job.data]);
    }
    const unique = bytes(job.unique);
    const reducer = job.reducer;
    if (type === PacketType.GRAB_JOB_ALL && reducer !== undefined && reducer !== '') {
      return encodePacket(Magic.RES, PacketType.JOB_ASSIGN_ALL, [
        handle,
        job.fn.nameBytes,
        unique,
        bytes(reducer),
        job.data,
      ]);
    }
    return encodePacket(Magic.RES, PacketType.JOB_ASSIGN_UNIQ, [
      handle,
      job.fn.nameBytes,
      unique,
      job.data,
    ]);
  }

  /** Takes a running job off its worker. */
  private unassign(job: Job): void {
    if (job.worker !== undefined) this.conns.get(job.worker)?.running.delete(job);
    job.worker = undefined;
    job.fn.running--;
    this.running--;
    if (job.timerArmed) {
      job.timerArmed = false;
      this.out.push({ type: 'clear-timer', key: `${TIMEOUT_TIMER_PREFIX}${job.id}` });
    }
  }

  /** A running job lost its worker: back to the tail of its list, or dropped. */
  private requeue(job: Job): void {
    this.unassign(job);
    job.retries++;
    this.counters.jobsRequeued++;
    if (job.extras !== undefined) {
      job.extras.numerator = undefined;
      job.extras.denominator = undefined;
    }
    if (job.ignored) {
      this.forget(job);
      job.state = JobState.DONE;
      return;
    }
    const limit = this.options.jobRetries;
    if (limit > 0 && job.retries >= limit) {
      this.log('NOTICE', `${this.handleOf(job)} dropped after ${job.retries} attempts`);
      this.forward(job, encodePacket(Magic.RES, PacketType.WORK_FAIL, [bytes(this.handleOf(job))]));
      this.finish(job, false);
      return;
    }
    job.state = JobState.QUEUED;
    job.fn.push(job);
    this.wake(job.fn, 1);
  }

  private workResult(conn: Connection, type: PacketType, args: readonly Buffer[]): void {
    const handle = args[0] ?? EMPTY;
    if (type === PacketType.WORK_FAIL && handle.length > 63) {
      this.send(conn.info.id, Errors.uniqueTooLarge);
      return;
    }
    const job = this.jobByHandle(handle);
    if (job === undefined || job.state !== JobState.RUNNING || job.worker !== conn.info.id) {
      this.send(
        conn.info.id,
        type === PacketType.WORK_DATA || type === PacketType.WORK_WARNING
          ? Errors.workDataNotFound
          : type === PacketType.WORK_EXCEPTION
            ? Errors.exceptionNotFound
            : Errors.workResultNotFound,
      );
      return;
    }
    switch (type) {
      case PacketType.WORK_STATUS:
        job.extend({
          numerator: (args[1] ?? EMPTY).toString('latin1'),
          denominator: (args[2] ?? EMPTY).toString('latin1'),
        });
        this.forward(job, encodePacket(Magic.RES, type, args));
        return;
      case PacketType.WORK_DATA:
      case PacketType.WORK_WARNING:
        this.forward(job, encodePacket(Magic.RES, type, args));
        return;
      case PacketType.WORK_COMPLETE:
        this.forward(job, encodePacket(Magic.RES, type, args));
        this.finish(job, true);
        return;
      case PacketType.WORK_FAIL:
        this.forward(job, encodePacket(Magic.RES, type, args));
        this.finish(job, false);
        return;
      case PacketType.WORK_EXCEPTION:
        this.forwardException(job, args);
        this.finish(job, false);
        return;
    }
  }

  /** Sends the same packet to every attached client (one copy per submission). */
  private forward(job: Job, packet: Buffer): void {
    const clients = job.clients;
    if (clients === undefined) return;
    for (const client of clients) this.send(client, packet);
  }

  /** WORK_EXCEPTION to clients that opted in, WORK_FAIL to the others. */
  private forwardException(job: Job, args: readonly Buffer[]): void {
    const clients = job.clients;
    if (clients === undefined) return;
    let exception: Buffer | undefined;
    let fail: Buffer | undefined;
    for (const client of clients) {
      if (this.conns.get(client)?.exceptions === true) {
        exception ??= encodePacket(Magic.RES, PacketType.WORK_EXCEPTION, args);
        this.send(client, exception);
      } else {
        fail ??= encodePacket(Magic.RES, PacketType.WORK_FAIL, [args[0] ?? EMPTY]);
        this.send(client, fail);
      }
    }
  }

  /** The job ended (completed, failed, excepted, retry-exhausted): free it everywhere. */
  private finish(job: Job, completed: boolean): void {
    if (job.state === JobState.RUNNING && job.worker !== undefined) this.unassign(job);
    if (completed) this.counters.jobsCompleted++;
    else this.counters.jobsFailed++;
    this.detachAll(job);
    this.unpersist(job);
    this.forget(job);
    job.state = JobState.DONE;
  }

  // ---------------------------------------------------------------------------------------
  // Clients

  private attach(conn: Connection, job: Job): void {
    if (job.clients === undefined) job.clients = [conn.info.id];
    else job.clients.push(conn.info.id);
    conn.attached.add(job);
  }

  /** A client left: it stops receiving the job's packets; a job nobody waits for is ignored. */
  private detach(job: Job, connId: ConnectionId): void {
    const clients = job.clients;
    if (clients === undefined) return;
    const left = clients.filter((c) => c !== connId);
    job.clients = left.length > 0 ? left : undefined;
    if (left.length > 0 || job.background || job.state === JobState.PENDING) return;
    if (job.state === JobState.DONE) return;
    job.ignored = true;
    this.removeFromUniqueIndex(job);
    job.releasePayload();
  }

  private detachAll(job: Job): void {
    for (const client of job.clients ?? []) this.conns.get(client)?.attached.delete(job);
    job.clients = undefined;
  }

  private getStatus(connId: ConnectionId, handle: Buffer): void {
    const job = this.jobByHandle(handle);
    const known = job !== undefined && job.state !== JobState.DONE;
    this.send(
      connId,
      encodePacket(Magic.RES, PacketType.STATUS_RES, [
        handle,
        known ? ONE : ZERO,
        known && job.state === JobState.RUNNING ? ONE : ZERO,
        known ? this.numerator(job) : ZERO,
        known ? this.denominator(job) : ZERO,
      ]),
    );
  }

  private getStatusUnique(connId: ConnectionId, uniqueBytes: Buffer): void {
    const unique = uniqueBytes.toString('latin1');
    let job: Job | undefined;
    if (unique !== '') {
      for (const fn of this.functions.values()) {
        // Jobs submitted with `-` are indexed by payload, but gearmand does not find them so.
        job = fn.byUnique.get(unique);
        if (job !== undefined && job.unique === unique) break;
        job = undefined;
      }
    }
    this.send(
      connId,
      encodePacket(Magic.RES, PacketType.STATUS_RES_UNIQUE, [
        uniqueBytes,
        job === undefined ? ZERO : ONE,
        job?.state === JobState.RUNNING ? ONE : ZERO,
        job === undefined ? ZERO : this.numerator(job),
        job === undefined ? ZERO : this.denominator(job),
        String(job?.clients?.length ?? 0),
      ]),
    );
  }

  private numerator(job: Job): Buffer {
    const value = job.extras?.numerator;
    return value === undefined ? ZERO : bytes(value);
  }

  private denominator(job: Job): Buffer {
    const value = job.extras?.denominator;
    return value === undefined ? ZERO : bytes(value);
  }

  // ---------------------------------------------------------------------------------------
  // Admin text protocol

  private adminCommand(conn: Connection, line: TextLine): void {
    const id = conn.info.id;
    const parts = line.line.split(' ');
    const word = parts[0] ?? '';
    const rest = parts.slice(1).filter((p) => p !== '');
    const sub = (i: number): string => (rest[i] ?? '').toLowerCase();
    switch (word.toLowerCase()) {
      case 'status':
        this.send(id, AdminReply.status(this.statusRows()));
        return;
      case 'prioritystatus':
        this.send(
          id,
          AdminReply.priorityStatus(
            [...this.functions.values()].map((fn) => ({
              name: fn.name,
              high: fn.queued[0] + fn.delayed[0],
              normal: fn.queued[1] + fn.delayed[1],
              low: fn.queued[2] + fn.delayed[2],
              workers: fn.workers,
            })),
          ),
        );
        return;
      case 'workers':
        this.send(
          id,
          AdminReply.workers(
            [...this.conns.values()].map((c) => ({
              fd: c.info.fd,
              address: c.info.address,
              clientId: c.clientId,
              functions: c.abilities.map((a) => a.fn.name),
            })),
          ),
        );
        return;
      case 'show':
        if (rest.length === 0) this.send(id, AdminReply.unknownCommand(word));
        else if (rest.length === 1 && sub(0) === 'jobs') {
          this.send(id, AdminReply.showJobs(this.jobRows()));
        } else if (rest.length === 2 && sub(0) === 'unique' && sub(1) === 'jobs') {
          this.send(id, AdminReply.showUniqueJobs([...this.jobs.values()].map((j) => j.unique)));
        } else this.send(id, AdminReply.error('UNKNOWN_SHOW_ARGUMENTS'));
        return;
      case 'cancel':
        if (sub(0) !== 'job' || rest.length < 2) this.send(id, AdminReply.unknownCommand(word));
        else if (rest.length > 2) this.send(id, AdminReply.error('UNKNOWN_ERROR'));
        else this.send(id, this.cancel(rest[1] ?? ''));
        return;
      case 'create':
        if (rest.length !== 2 || sub(0) !== 'function') {
          this.send(id, AdminReply.incompleteArguments('create'));
        } else {
          // gearmand drops the last character of the name when the line ends in a bare \n;
          // we keep the whole name on purpose.
          const created = this.functionNamed(rest[1] ?? '');
          this.send(
            id,
            created === undefined
              ? AdminReply.error(
                  'INVALID_FUNCTION_NAME',
                  'Function name must not contain NUL, carriage return or newline',
                )
              : AdminReply.ok(),
          );
        }
        return;
      case 'drop':
        if (rest.length !== 2 || sub(0) !== 'function') {
          this.send(id, AdminReply.incompleteArguments('drop'));
        } else this.send(id, this.dropFunction(rest[1] ?? ''));
        return;
      case 'maxqueue':
        if (rest.length === 0) this.send(id, AdminReply.incompleteArguments('maxqueue'));
        else {
          this.setMaxQueue(rest[0] ?? '', rest.slice(1));
          this.send(id, AdminReply.ok());
        }
        return;
      case 'getpid':
        this.send(id, AdminReply.okValue(String(this.options.pid)));
        return;
      case 'verbose':
        this.send(id, AdminReply.okValue(this.options.verbose));
        return;
      case 'version':
        this.send(id, AdminReply.okValue(this.options.version));
        return;
      case 'shutdown': {
        const graceful = rest.length === 1 && sub(0) === 'graceful';
        if (!conn.info.loopback || !(rest.length === 0 || graceful)) {
          this.send(id, AdminReply.unknownCommand(word));
          return;
        }
        this.send(id, AdminReply.ok());
        if (graceful) this.draining = true;
        this.log(
          'NOTICE',
          `shutdown${graceful ? ' graceful' : ''} requested by ${conn.info.address}`,
        );
        this.out.push({ type: 'shutdown', graceful });
        return;
      }
      default:
        this.send(id, AdminReply.unknownCommand(word));
    }
  }

  private statusRows(): { name: string; total: number; running: number; workers: number }[] {
    return [...this.functions.values()].map((fn) => ({
      name: fn.name,
      total: fn.total - fn.pending,
      running: fn.running,
      workers: fn.workers,
    }));
  }

  private *jobRows(): Iterable<AdminJobRow> {
    for (const job of this.jobs.values()) {
      yield {
        handle: this.handleOf(job),
        retries: job.retries,
        ignored: job.ignored,
        queued: job.background,
      };
    }
  }

  private cancel(handle: string): Buffer {
    const job = this.jobByHandle(bytes(handle));
    if (job === undefined || job.ignored || job.state === JobState.DONE) {
      return AdminReply.error('UNKNOWN_JOB');
    }
    this.forward(job, encodePacket(Magic.RES, PacketType.WORK_FAIL, [bytes(handle)]));
    this.detachAll(job);
    this.unpersist(job);
    this.counters.jobsFailed++;
    job.ignored = true;
    this.removeFromUniqueIndex(job);
    job.releasePayload();
    return AdminReply.ok();
  }

  private dropFunction(name: string): Buffer {
    const fn = this.functions.get(name);
    if (fn === undefined) return AdminReply.plainError('function not found');
    // Unlike gearmand we also refuse while jobs wait, so no queued job is orphaned.
    if (fn.workers > 0 || fn.total > 0) {
      return AdminReply.plainError('there are still connected workers or executing clients');
    }
    this.functions.delete(name);
    if (this.lastFunction === fn) this.lastFunction = undefined;
    return AdminReply.ok();
  }

  /** One number = every priority; missing ones copy the one before; ≤ 0 = unlimited. */
  private setMaxQueue(name: string, values: readonly string[]): void {
    const fn = this.functions.get(name);
    if (fn === undefined) return;
    let previous = 0;
    for (let p = 0; p < 3; p++) {
      const text = values[p];
      const value = text === undefined ? previous : Math.max(0, atoi(text));
      fn.maxQueue[p] = value;
      previous = value;
    }
  }

  // ---------------------------------------------------------------------------------------
  // Helpers

  private functionFor(name: string): FunctionQueue {
    let fn = this.functions.get(name);
    if (fn === undefined) {
      fn = new FunctionQueue(name);
      this.functions.set(name, fn);
    }
    return fn;
  }

  /** The function a peer names, created if new; undefined for a name it may not create. */
  private functionNamed(name: string): FunctionQueue | undefined {
    const fn = this.functions.get(name);
    if (fn !== undefined) return fn;
    return acceptableFunctionName(name) ? this.functionFor(name) : undefined;
  }

  /**
   * The function a packet names (see {@link functionNamed}). Submitters tend to repeat one
   * function, so the last one is checked first by its bytes, which spares a string and a hash
   * lookup per packet.
   */
  private functionForBytes(name: Buffer): FunctionQueue | undefined {
    const last = this.lastFunction;
    if (last !== undefined && sameBytes(last.nameBytes, name)) return last;
    const fn = this.functionNamed(name.toString('latin1'));
    if (fn !== undefined) this.lastFunction = fn;
    return fn;
  }

  private handleOf(job: Job): string {
    return `${this.handlePrefix}${job.id}`;
  }

  /**
   * JOB_CREATED for the job, built straight from the prefix bytes and the handle number: every
   * submission sends one, and going through a handle string and the generic encoder (string
   * concatenation, UTF-8 length and write) was a visible share of the submit path.
   */
  private jobCreated(job: Job): Buffer {
    const prefix = this.handlePrefixBytes;
    const digits = decimalDigits(job.id);
    const length = prefix.length + digits;
    const out = Buffer.allocUnsafe(HEADER_SIZE + length);
    JOB_CREATED_HEADER.copy(out, 0);
    out.writeUInt32BE(length, 8);
    prefix.copy(out, HEADER_SIZE);
    writeDecimal(out, HEADER_SIZE + length, job.id);
    return out;
  }

  /** The handle `<prefix>:<id>` as bytes, without building the string first. */
  private handleBytes(job: Job): Buffer {
    const prefix = this.handlePrefixBytes;
    const out = Buffer.allocUnsafe(prefix.length + decimalDigits(job.id));
    prefix.copy(out, 0);
    writeDecimal(out, out.length, job.id);
    return out;
  }

  /** The job a handle names, parsed without building a string: `<prefix>:<digits>`. */
  private jobByHandle(handle: Buffer): Job | undefined {
    const prefix = this.handlePrefixBytes;
    const n = handle.length - prefix.length;
    if (n <= 0 || n > 15 || prefix.compare(handle, 0, prefix.length) !== 0) return undefined;
    let id = 0;
    for (let i = prefix.length; i < handle.length; i++) {
      const digit = (handle[i] as number) - 0x30;
      if (digit < 0 || digit > 9 || (digit === 0 && id === 0)) return undefined;
      id = id * 10 + digit;
    }
    return this.jobs.get(id);
  }

  private removeFromUniqueIndex(job: Job): void {
    const key = job.coalesceKey;
    if (key !== undefined && job.fn.byUnique.get(key) === job) job.fn.byUnique.delete(key);
  }

  /** Removes the job from every index (not from lists, which drop it lazily). */
  private forget(job: Job): void {
    this.removeFromUniqueIndex(job);
    this.jobs.delete(job.id);
  }

  private unpersist(job: Job): void {
    if (job.storeKey === undefined) return;
    this.out.push({
      type: 'unpersist',
      key: { functionName: job.fn.textName, uniqueKey: job.storeKey },
    });
    job.storeKey = undefined;
  }

  private send(conn: ConnectionId, data: Buffer): void {
    this.out.push({ type: 'send', conn, data });
  }

  private log(level: LogLevel, message: string): void {
    this.out.push({ type: 'log', level, message });
  }

  /** Hands out the effects gathered by this call, re-arming the epoch timer if needed. */
  private flush(): Effect[] {
    const top = this.delayedJobs.peek();
    const at = top === undefined ? -1 : top.when * 1000;
    if (at !== this.epochTimerAt) {
      if (at < 0) this.out.push({ type: 'clear-timer', key: EPOCH_TIMER });
      else this.out.push({ type: 'timer', key: EPOCH_TIMER, at });
      this.epochTimerAt = at;
    }
    const effects = this.out;
    this.out = [];
    return effects;
  }
}
