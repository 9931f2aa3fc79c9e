/**
 * The delayed-job service as a library (`import … from 'gearbox/scheduler'`); kept out of the
 * main entry so that a plain client does not load the database drivers. See docs/scheduler.md.
 */
export { SchedulerService, type SchedulerServiceOptions } from './scheduler-service.js';
export { SCHEDULER_DEFAULTS } from './defaults.js';
export { Scheduler, type SchedulerOptions, type SchedulerEvent } from './scheduler.js';
export { openSchedulerStore } from './open-scheduler-store.js';
export { CronExpression } from './cron.js';
export { SchedulerError, type SchedulerErrorCode } from './errors.js';
/** What opening a store rejects with when its driver package is not installed. */
export { DriverMissingError } from '../sql/store-drivers.js';
