import { GearboxError } from '../protocol/errors.js';

/** Why the scheduler refused or could not do something. */
export type SchedulerErrorCode =
  | 'INVALID_REQUEST'
  | 'INVALID_CRON'
  | 'INVALID_TIMEZONE'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'STORE_FAILED'
  | 'DISPATCH_FAILED';

/**
 * An error of the delayed-job service. `INVALID_*` errors come from a caller's bad input and are
 * answered with WORK_EXCEPTION; the job was not stored.
 */
export class SchedulerError extends GearboxError<SchedulerErrorCode> {}
