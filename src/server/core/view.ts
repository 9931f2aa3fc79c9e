/*
 * The read-only view of the core: what observers (metrics, the dashboard, the JSON API and the
 * admin text commands) read, without reaching into the core's maps. Records are live: a record
 * reads the core's state when a field is read, so nothing is copied that nobody reads — read them
 * at once, in the same turn. Text fields are readable text (UTF-8 names decoded); fields named
 * `wire…` are byte strings (latin1, one character per byte), exactly as they travel on the wire.
 */
import { GearboxError } from '../../protocol/errors.js';
import type { PriorityName } from '../../protocol/packet-types.js';
import type { JobCounters, Distribution } from './job-stats.js';

/** A count per priority. */
export interface ByPriority {
  readonly high: number;
  readonly normal: number;
  readonly low: number;
}

/** One function. */
export interface FunctionRecord {
  readonly name: string;
  readonly wireName: string;
  /** Runnable jobs in the queues, by priority (ignored ones included until a grab skips them). */
  readonly queued: ByPriority;
  /** Epoch and scheduled jobs not yet due, by priority. */
  readonly delayed: ByPriority;
  /** Durable jobs waiting for their store commit. */
  readonly pending: number;
  readonly running: number;
  /** Ability registrations (a worker registering twice counts twice, as in gearmand). */
  readonly workers: number;
  /** Workers asleep waiting for this function. */
  readonly sleepingWorkers: number;
  /** How long the longest-waiting queued job has waited, in ms; undefined with none queued. */
  readonly oldestQueuedAge: number | undefined;
  /** maxqueue by priority; 0 = unlimited. */
  readonly maxQueue: ByPriority;
  readonly counters: JobCounters;
  /** How long jobs were queued before a worker took them. */
  readonly waitTimes: Distribution;
  /** How long workers ran the jobs they answered (complete, fail, exception). */
  readonly runTimes: Distribution;
}

/** What a connection is, decided by what it did (see `PeerKind`). */
export type PeerKindName = 'none' | 'admin' | 'client' | 'worker';

/** A count per connection kind. */
export type ByPeerKind = Readonly<Record<PeerKindName, number>>;

/** One connection. */
export interface PeerRecord {
  /** The server's number for it (the I/O shell's). */
  readonly id: number;
  /** The socket's file descriptor, as the admin `workers` list shows it. */
  readonly fd: number;
  readonly address: string;
  readonly loopback: boolean;
  /** When it connected (clock ms). */
  readonly connectedAt: number;
  readonly kind: PeerKindName;
  /** The SET_CLIENT_ID label, `-` when none was set. */
  readonly clientId: string;
  readonly wireClientId: string;
  /** Its abilities, in the order a grab looks at them (newest CAN_DO first). */
  readonly functions: readonly string[];
  readonly wireFunctions: readonly string[];
  readonly sleeping: boolean;
  /** The jobs it runs (each with `since`: when it was handed the job). */
  readonly running: readonly JobRecord[];
  /** Foreground jobs it submitted and waits for. */
  readonly waitingFor: number;
}

/**
 * Where a job is: `pending` (a durable job before its commit), `delayed` (not yet due), `queued`,
 * `running`, `ignored` (cancelled, or a foreground job all of whose clients left: it is skipped
 * or its result goes nowhere) or `done` (a record read after its job ended).
 */
export type JobStateName = 'pending' | 'delayed' | 'queued' | 'running' | 'ignored' | 'done';

/** One job. */
export interface JobRecord {
  /** The job handle, e.g. `H:host:42` (a pending job has one, not yet given out). */
  readonly handle: string;
  readonly wireHandle: string;
  readonly functionName: string;
  readonly unique: string;
  readonly wireUnique: string;
  readonly priority: PriorityName;
  readonly background: boolean;
  readonly state: JobStateName;
  /**
   * When the job entered its present state (clock ms): submitted (pending, delayed), queued (a
   * requeue restarts it) or handed to its worker (running).
   */
  readonly since: number;
  /** ms since `since`. */
  readonly age: number;
  /** Times it was handed to a worker: lost attempts, plus the present one if running. */
  readonly attempts: number;
  /** Attempts that ended without a result (the worker vanished, gave up or timed out). */
  readonly retries: number;
  /** When an epoch or scheduled job runs (clock ms); undefined for a job to run at once. */
  readonly runAt: number | undefined;
  /** The payload's size in bytes (0 once an ignored job let it go). */
  readonly payloadSize: number;
  /** The payload's first bytes (at most {@link PREVIEW_BYTES}), a copy. */
  readonly preview: Buffer;
  /** The connection running it. */
  readonly worker: number | undefined;
  /** Foreground submissions waiting for it. */
  readonly clients: number;
}

/** How many payload bytes a job record previews. */
export const PREVIEW_BYTES = 64;

/** Which jobs a page holds. */
export interface JobQuery {
  /** Only this function's jobs (its text name); an unknown function has none. */
  readonly function?: string;
  /** Only jobs in this state. */
  readonly state?: JobStateName;
  /** Jobs after this cursor (a page's `next`); from the first job without it. */
  readonly after?: string;
  /** The most jobs a page holds (default 100). */
  readonly limit?: number;
}

/** A page of jobs, in handle order. */
export interface JobPage {
  readonly jobs: readonly JobRecord[];
  /** The cursor of the next page; undefined when this page is the last. */
  readonly next: string | undefined;
}

/** Totals of the whole core. */
export interface CoreTotals {
  readonly functions: number;
  /** Jobs in the queues (every function and priority), delayed ones excluded. */
  readonly queued: number;
  readonly delayed: number;
  readonly running: number;
  /** Durable jobs waiting for their store commit. */
  readonly pending: number;
  readonly connections: number;
  readonly connectionsByKind: ByPeerKind;
  /** Connections with at least one ability. */
  readonly workers: number;
  readonly sleepingWorkers: number;
  /** Every function's counters together. */
  readonly counters: JobCounters;
}

/** The core as observers read it. */
export interface CoreView {
  /** The admin `version` reply. */
  readonly version: string;
  /** When the core started (clock ms). */
  readonly startedAt: number;
  /** The core's clock (ms since the Unix epoch). */
  now(): number;
  totals(): CoreTotals;
  /** Every function, in the order they were made. */
  functions(): IterableIterator<FunctionRecord>;
  /** A function by its text name. */
  function(name: string): FunctionRecord | undefined;
  /** Every connection, in the order they connected. */
  peers(): IterableIterator<PeerRecord>;
  peer(id: number): PeerRecord | undefined;
  /** A page of jobs; rejects a malformed cursor or limit with a {@link ViewQueryError}. */
  jobs(query?: JobQuery): JobPage;
  /** A job by its handle (pending jobs included). */
  job(handle: string): JobRecord | undefined;
}

/** A query the view cannot answer: a cursor it did not give out, a limit that is not a count. */
export class ViewQueryError extends GearboxError<'BAD_QUERY'> {}
