import type { BackoffOptions } from '../connection/backoff.js';
import type { Transport } from '../connection/transport.js';
import type { ServerList } from '../connection/server-address.js';
import type { Priority } from '../protocol/packet-types.js';

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
  /** How connections are opened (default plain TCP); see {@link Transport}. */
  transport?: Transport;
  /** How long one connect may take, in ms (default 5000). */
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

/** A workload: bytes, or a string sent as UTF-8. */
export type Workload = string | Uint8Array;
