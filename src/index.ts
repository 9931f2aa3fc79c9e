/**
 * Gearbox: a Gearman client, worker and admin client for Node.js, wire-compatible with gearmand.
 *
 * @example
 * import { Client, Worker } from 'gearbox';
 * const worker = new Worker({ servers: '127.0.0.1:4730' });
 * worker.register('reverse', (job) => job.text().split('').reverse().join(''));
 * await worker.start();
 * const client = new Client({ servers: '127.0.0.1:4730' });
 * console.log((await client.run('reverse', 'hello')).text()); // olleh
 */
export {
  Client,
  type ClientOptions,
  type CallOptions,
  type SubmitOptions,
  type BackgroundSubmitOptions,
  type JobStatus,
  type UniqueJobStatus,
  type PriorityName,
  type Workload,
} from './client/client.js';
export { Job, type JobUpdate, type JobEvents } from './client/job.js';
export {
  DEFAULT_SCHEDULER_PREFIX,
  type ScheduleOptions,
  type ScheduleTiming,
  type ScheduledJob,
  type ScheduledJobStatus,
  type CancelScheduledTarget,
} from './client/scheduling.js';
export { JobResult } from './client/job-result.js';
export { JobFailedError, JobExceptionError } from './client/errors.js';
export {
  Worker,
  type WorkerOptions,
  type RegisterOptions,
  type StopOptions,
  type WorkerEvents,
} from './worker/worker.js';
export type { WorkerJob, JobHandler, Payload } from './worker/worker-job.js';
export {
  commandHandler,
  CommandError,
  type CommandOptions,
  type CommandErrorCode,
} from './worker/command-runner.js';
export {
  AdminClient,
  AdminCommandError,
  type AdminClientOptions,
  type QueueLimits,
} from './admin/admin-client.js';
export type {
  FunctionStatus,
  FunctionPriorityStatus,
  WorkerInfo,
  JobInfo,
} from './admin/admin-replies.js';
export {
  ConnectionError,
  ServerError,
  TimeoutError,
  AbortError,
  type ConnectionErrorCode,
} from './connection/errors.js';
export type { BackoffOptions } from './connection/backoff-options.js';
export { tcpTransport, type Transport, type TransportOpenOptions } from './connection/transport.js';
export {
  parseServers,
  DEFAULT_PORT,
  type ServerAddress,
  type ServerList,
  type ServerScheme,
} from './connection/server-address.js';
export { GearboxError } from './protocol/errors.js';
export { Priority } from './protocol/packet-types.js';
/** The wire codec (packet table, decoder, encoder), for tools that speak the protocol directly. */
export * as protocol from './protocol/index.js';
