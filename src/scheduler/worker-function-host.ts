import { Worker, type WorkerOptions } from '../worker/worker.js';
import type { FunctionHost } from './function-host.js';
import type { SchedulerFunction } from './scheduler-functions.js';

/**
 * Serves the scheduler's functions through a Gearbox {@link Worker} connected to every job
 * server. A handler's throw becomes WORK_EXCEPTION (with the reason), then WORK_FAIL.
 */
export class WorkerFunctionHost implements FunctionHost {
  private readonly worker: Worker;

  constructor(options: WorkerOptions) {
    this.worker = new Worker({ concurrency: 32, clientId: 'gearbox-scheduler', ...options });
    // Failures are the caller's answer; nothing more to do here, but the event must be handled.
    this.worker.on('failed', () => undefined);
    this.worker.on('warning', () => undefined);
  }

  register(name: string, handler: SchedulerFunction): void {
    this.worker.register(name, (job) => handler(job.workload));
  }

  start(): Promise<void> {
    return this.worker.start();
  }

  stop(): Promise<void> {
    return this.worker.stop({ timeout: 10_000 });
  }
}
