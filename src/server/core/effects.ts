import type { StoredJob, StoredJobKey } from '../../protocol/stored-job.js';

/** The server's number for a connection; the I/O shell allocates them. */
export type ConnectionId = number;

/** What the core knows about a connection. */
export interface ConnectionInfo {
  readonly id: ConnectionId;
  /** Shown in the admin `workers` list as the first column (gearmand prints the socket fd). */
  readonly fd: number;
  /** The peer's IP address, as shown by `workers`. */
  readonly address: string;
  /** Whether the peer is on a loopback address (`shutdown` is accepted only from those). */
  readonly loopback: boolean;
  /** Who the peer proved to be (a TLS certificate's subject), when it proved anything. */
  readonly identity?: string | undefined;
}

/**
 * What the core asks the I/O shell to do. The core never performs I/O; `receive()` and friends
 * return these, and the shell applies them in order.
 */
export type Effect =
  /** Write these bytes (an encoded packet or an admin reply) to the connection. */
  | { readonly type: 'send'; readonly conn: ConnectionId; readonly data: Buffer }
  /** Close the connection (after flushing what was sent before). */
  | { readonly type: 'close'; readonly conn: ConnectionId; readonly reason: string }
  /**
   * Commit this job to the store; when the commit settles, call `core.persistDone(token, err)`.
   * The job is not runnable until then.
   */
  | { readonly type: 'persist'; readonly token: number; readonly job: StoredJob }
  /**
   * Reserve the connection's output at this point until `persistDone(token)`: sends to `conn`
   * among the effects `persistDone` returns fill the reserved place, so replies stay in the
   * order of the requests; anything sent to `conn` meanwhile waits behind it.
   */
  | { readonly type: 'hold'; readonly conn: ConnectionId; readonly token: number }
  /** Delete the job's row from the store (ordered after any earlier `persist` of it). */
  | { readonly type: 'unpersist'; readonly key: StoredJobKey }
  /** Arm (or re-arm) the timer `key` to call `core.timerFired(key)` at clock time `at` (ms). */
  | { readonly type: 'timer'; readonly key: string; readonly at: number }
  /** Disarm the timer `key`, if armed. */
  | { readonly type: 'clear-timer'; readonly key: string }
  /** Stop the server: `graceful` waits for running jobs to finish first. */
  | { readonly type: 'shutdown'; readonly graceful: boolean }
  /** A line for the server log. */
  | { readonly type: 'log'; readonly level: LogLevel; readonly message: string };

/** gearmand's verbosity levels, quietest first. */
export const LOG_LEVELS = [
  'FATAL',
  'ALERT',
  'CRITICAL',
  'ERROR',
  'WARNING',
  'NOTICE',
  'INFO',
  'DEBUG',
] as const;
/** One of gearmand's verbosity level names. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The server's source of time (core and I/O shell), injected so tests can move it. */
export interface ServerClock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}
