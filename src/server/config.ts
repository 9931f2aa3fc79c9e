/**
 * The server's configuration: a plain typed object, with no knowledge of any command line.
 * `gearbox server` builds it from gearmand's flags (src/cli/server-flags.ts); the comment on
 * each field names the flag that sets it.
 */
import { hostname } from 'node:os';
import { GearboxError } from '../protocol/errors.js';
import type { LogLevel } from './core/effects.js';
import type { QueueConfig } from '../sql/store-url.js';

/** TCP keepalive settings applied to every accepted socket. */
export interface KeepaliveConfig {
  /** `--keepalive`: turn SO_KEEPALIVE on. */
  readonly enabled: boolean;
  /** `--keepalive-idle` seconds before the first probe; -1 = the system's default. */
  readonly idle: number;
  /**
   * `--keepalive-interval` seconds between probes; -1 = default. Accepted for gearmand
   * compatibility; Node cannot set TCP_KEEPINTVL, so the system's value is used.
   */
  readonly interval: number;
  /** `--keepalive-count` probes; -1 = default. Accepted; Node cannot set TCP_KEEPCNT. */
  readonly count: number;
}

/** Everything `startServer` needs. */
export interface ServerConfig {
  /** Addresses to listen on (`-L`, repeatable); empty = every interface, as gearmand does. */
  readonly listen: readonly string[];
  /** `-p`: the TCP port (0 = any free port, useful in tests). */
  readonly port: number;
  /** `-b`: the listen backlog. */
  readonly backlog: number;
  /** `-j`: total attempts before a job is dropped with WORK_FAIL; 0 = unlimited. */
  readonly jobRetries: number;
  /** `-R`: rotate a worker's functions after each assignment. */
  readonly roundRobin: boolean;
  /** `-w`: how many sleeping workers one new job wakes; 0 = all. */
  readonly workerWakeup: number;
  /**
   * `--fail-on-timeout`: a CAN_DO_TIMEOUT expiry ends the job with WORK_FAIL to its clients (as
   * the protocol text says) instead of requeueing it (gearmand's behaviour, the default).
   */
  readonly failOnTimeout: boolean;
  /** `--job-handle-prefix`; default `H:<hostname>`. */
  readonly jobHandlePrefix: string;
  /** `--exceptions`: WORK_EXCEPTION forwarded to every client without OPTION_REQ. */
  readonly exceptions: boolean;
  /** `-l`: `stderr`, `none`, or a file path to append to. */
  readonly logFile: string;
  /** `--verbose` / `-v`: the quietest level still logged. */
  readonly verbose: LogLevel;
  /** `-P`: where to write the process id; none when undefined. */
  readonly pidFile: string | undefined;
  readonly keepalive: KeepaliveConfig;
  /** `-u`: the user to switch to once the listeners are bound (the process must be root). */
  readonly user: string | undefined;
  /** `-t`: accepted for compatibility; Gearbox runs one event loop whatever the value. */
  readonly threads: number;
  /**
   * `-q …` / `--store URL`: where background jobs are kept (`builtin`: in memory only).
   * `gearbox server` without either uses a SQLite file at the storage layer's default path
   * (`$GEARBOX_DATA_DIR/queue.sqlite`, else `$XDG_STATE_HOME/gearbox/queue.sqlite`, else
   * `~/.local/state/gearbox/queue.sqlite`).
   */
  readonly queue: QueueConfig;
  /** `--store-queue-on-shutdown`: accepted (sqlite only in gearmand); jobs are always written. */
  readonly storeQueueOnShutdown: boolean;
  /** `--max-packet-size`: the largest packet payload a peer may send, in bytes. */
  readonly maxPacketSize: number;
  /** The longest admin text line, in bytes. */
  readonly maxLineLength: number;
  /** `--max-output-buffer`: unsent bytes a connection may owe before it is dropped. */
  readonly maxOutputBuffer: number;
  /** `--shutdown-timeout`: how long a graceful stop waits for running jobs, in ms. */
  readonly shutdownTimeoutMs: number;
  /** `--store-open-timeout`: how long the start waits for the store to open, in ms. */
  readonly storeOpenTimeoutMs: number;
}

/**
 * The defaults: gearmand's (jobs in memory only), except the listen address (loopback) and the
 * backlog. `gearbox server` without `-q` keeps jobs in SQLite instead; its `--help` shows them.
 */
export function defaultServerConfig(): ServerConfig {
  return {
    listen: ['127.0.0.1'],
    port: 4730,
    // gearmand's 32 makes a burst of connections wait for SYN retransmits (1 s each).
    backlog: 4096,
    jobRetries: 0,
    roundRobin: false,
    workerWakeup: 0,
    failOnTimeout: false,
    jobHandlePrefix: `H:${hostname()}`,
    exceptions: false,
    logFile: 'stderr',
    verbose: 'ERROR',
    pidFile: undefined,
    user: undefined,
    keepalive: { enabled: false, idle: -1, interval: -1, count: -1 },
    threads: 0,
    queue: { type: 'builtin' },
    storeQueueOnShutdown: false,
    maxPacketSize: 64 * 1024 * 1024,
    maxLineLength: 64 * 1024,
    maxOutputBuffer: 64 * 1024 * 1024,
    shutdownTimeoutMs: 30_000,
    storeOpenTimeoutMs: 30_000,
  };
}

/** Codes for a configuration the server cannot run with. */
export type ConfigErrorCode = 'BAD_VALUE' | 'UNSUPPORTED';

/** A config value the server cannot run with (a log file it cannot open, a `user` it cannot be). */
export class ConfigError extends GearboxError<ConfigErrorCode> {}
