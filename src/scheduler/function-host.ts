import type { SchedulerFunction } from './scheduler-functions.js';

/** Where the scheduler's Gearman functions are served from. */
export interface FunctionHost {
  /** Serves `name`: each job's payload goes to `handler`; a throw refuses the job. */
  register(name: string, handler: SchedulerFunction): void;
  start(): Promise<void>;
  /** Stops taking jobs and lets running ones finish. */
  stop(): Promise<void>;
}
