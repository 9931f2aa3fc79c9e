/**
 * The program a `module` entry's processes run (started by the manager, never by hand): imports
 * the entry's module, registers its default export's handlers with a {@link Worker}, and tells
 * the manager over IPC when it is ready and when each job starts and ends. A `stop` message (or
 * SIGTERM / SIGINT) stops it gracefully: no new jobs, the running ones finish within the stop
 * timeout, then it exits 0. After `max_jobs` jobs it retires the same way.
 */
import { pathToFileURL } from 'node:url';
import { Worker } from '../worker/worker.js';
import type { JobHandler, WorkerJob } from '../worker/worker-job.js';
import type { RunnerSpec } from './launch.js';
import type { ManagerMessage, RunnerMessage } from './runner-messages.js';

/** sysexits' EX_CONFIG: the module is not what a module entry needs. */
const EXIT_BAD_MODULE = 78;

function send(message: RunnerMessage): void {
  if (process.connected) process.send?.(message);
}

/** The handlers to register: the default export's functions, or the `functions` listed. */
function handlersOf(exported: unknown, spec: RunnerSpec): Map<string, JobHandler> {
  if (exported === null || typeof exported !== 'object')
    throw new Error('its default export must be an object mapping function names to handlers');
  const all = exported as Record<string, unknown>;
  const names = spec.functions ?? Object.keys(all);
  const handlers = new Map<string, JobHandler>();
  for (const name of names) {
    const handler = all[name];
    if (typeof handler !== 'function')
      throw new Error(
        handler === undefined
          ? `its default export has no handler for '${name}'`
          : `its default export's '${name}' is not a function`,
      );
    handlers.set(name, handler as JobHandler);
  }
  if (handlers.size === 0) throw new Error('its default export has no handlers');
  return handlers;
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.env.GEARBOX_MANAGER_CHILD ?? 'null') as RunnerSpec | null;
  if (spec === null) {
    console.error('module-runner: run by gearbox manager only (GEARBOX_MANAGER_CHILD is unset)');
    process.exit(2);
  }
  let handlers: Map<string, JobHandler>;
  try {
    const module = (await import(pathToFileURL(spec.module).href)) as { default?: unknown };
    handlers = handlersOf(module.default, spec);
  } catch (err) {
    console.error(`cannot load ${spec.module}: ${(err as Error).message}`);
    process.exit(EXIT_BAD_MODULE);
  }

  const worker = new Worker({
    servers: [...spec.servers],
    concurrency: spec.concurrency,
    clientId: `${spec.name}[${process.pid}]`,
  });
  let stopping: Promise<void> | undefined;
  const stop = (timeoutMs: number): Promise<void> =>
    (stopping ??= worker.stop({ timeout: timeoutMs }).then(() => process.exit(0)));

  let started = 0;
  for (const [name, handler] of handlers) {
    const wrapped = async (job: WorkerJob): Promise<unknown> => {
      started += 1;
      send({ type: 'job-start', handle: job.handle, function: job.functionName });
      // The last allowed job has begun: take no more, and leave once it has answered.
      if (spec.maxJobs !== undefined && started >= spec.maxJobs) {
        send({ type: 'retiring', reason: `max_jobs (${spec.maxJobs}) reached` });
        void stop(spec.stopTimeoutMs);
      }
      let ok = false;
      try {
        const result: unknown = await handler(job);
        ok = true;
        return result;
      } finally {
        send({ type: 'job-end', handle: job.handle, ok });
      }
    };
    worker.register(spec.prefix + name, wrapped, { timeout: spec.timeoutMs });
  }
  worker.on('failed', (job, error) =>
    console.error(`job ${job.handle} (${job.functionName}) failed: ${error.message}`),
  );
  worker.on('disconnect', (server, error) =>
    console.error(`${error.message}; reconnecting to ${server}`),
  );
  worker.on('warning', (error) => console.error(error.message));
  process.on('message', (message: ManagerMessage) => {
    if (message?.type === 'stop') void stop(message.timeoutMs);
  });
  process.once('SIGTERM', () => void stop(spec.stopTimeoutMs));
  process.once('SIGINT', () => void stop(spec.stopTimeoutMs));
  // The manager is gone (its shim kills this group anyway): finish what runs and leave.
  process.once('disconnect', () => void stop(spec.stopTimeoutMs));
  try {
    await worker.start();
  } catch (err) {
    // The worker keeps retrying in the background; it is as ready as it can be.
    console.error((err as Error).message);
  }
  send({ type: 'ready', functions: [...handlers.keys()].map((n) => spec.prefix + n) });
}

await main();
