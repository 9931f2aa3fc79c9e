import type { LogLevel } from './effects.js';

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
   * (gearmand's default). With a cap, more are woken every `REWAKE_DELAY_MS` while the function
   * still has queued jobs, so a woken worker that never answers strands nothing.
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
  /**
   * On CAN_DO_TIMEOUT expiry, end the job with WORK_FAIL to its clients (as the protocol text
   * says) instead of requeueing it (as gearmand does). Default false.
   */
  failOnTimeout?: boolean;
}
