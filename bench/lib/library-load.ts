/**
 * Load through the project's own client library (src/client, src/worker) rather than raw
 * sockets: measures the library and the server together on large payloads.
 */
import { Client, Worker } from '../../src/index.js';
import { BenchError } from './bench-error.js';
import {
  wallClockMs,
  type LibraryClientsTask,
  type LibraryWorkerTask,
  type PreparedTask,
} from './tasks.js';

/** Starts a library {@link Worker} that echoes each workload back as its result. */
export async function prepareLibraryWorker(task: LibraryWorkerTask): Promise<PreparedTask> {
  let completed = 0;
  let startedAt = 0;
  let finish: ((at: number) => void) | undefined;
  const done = new Promise<number>((resolve) => (finish = resolve));
  const worker = new Worker({
    servers: `127.0.0.1:${task.port}`,
    concurrency: task.concurrency,
  });
  worker.register(task.functionName, (job) => {
    completed++;
    if (completed >= task.target) {
      // Counted when the result leaves the handler; the clients' side times the round trip.
      setImmediate(() => finish?.(wallClockMs()));
    }
    return job.workload;
  });
  await worker.start();
  return {
    async start() {
      startedAt = wallClockMs();
      const finishedAt = task.target === 0 ? startedAt : await done;
      return { kind: 'lib-worker', sent: completed, counted: completed, startedAt, finishedAt };
    },
    close() {
      worker.stop({ timeout: 1000 }).catch(() => undefined);
    },
  };
}

/** Opens a library {@link Client} that runs `jobs` foreground jobs, `inFlight` at a time. */
export function prepareLibraryClients(task: LibraryClientsTask): Promise<PreparedTask> {
  const client = new Client({ servers: `127.0.0.1:${task.port}` });
  const payload = Buffer.alloc(task.payloadBytes, 0x64);
  let sent = 0;
  let completed = 0;
  const loop = async (): Promise<void> => {
    while (sent < task.jobs) {
      sent++;
      const result = await client.run(task.functionName, payload);
      if (result.data.length !== payload.length) {
        throw new BenchError(
          'SERVER_ERROR',
          `result of ${result.data.length} bytes for a ${payload.length}-byte echo`,
        );
      }
      completed++;
    }
  };
  return Promise.resolve({
    async start() {
      const startedAt = wallClockMs();
      await Promise.all(Array.from({ length: Math.max(1, task.inFlight) }, loop));
      return {
        kind: 'lib-clients',
        sent,
        counted: completed,
        startedAt,
        finishedAt: wallClockMs(),
      };
    },
    close() {
      client.close().catch(() => undefined);
    },
  });
}
