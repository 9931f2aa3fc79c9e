import type { UniqueMode } from './submit-packets.js';

/**
 * What the benchmark's parent asks a load-generator process to do, and what it hears back.
 * Everything here crosses the IPC channel, so it is plain data.
 */

/**
 * How a load generator talks, as a client library would:
 *
 * - `stream`: a sliding window — a new submit leaves as soon as a reply frees a slot, sends are
 *   gathered into one write per incoming chunk, workers use GRAB_JOB (JOB_ASSIGN).
 * - `libgearman`: what the C library (PHP, Python-C, the `gearman` tool) does — a batch of
 *   `window` submits, written through an 8 KiB send buffer, then nothing until every reply of
 *   the batch is in (JOB_CREATED for background jobs, WORK_COMPLETE for foreground ones); its
 *   workers use GRAB_JOB_ALL (JOB_ASSIGN_UNIQ) and write WORK_COMPLETE and the next grab as two
 *   separate writes.
 */
export type Pattern = 'stream' | 'libgearman';

/** Every pattern, in report order. */
export const PATTERNS: readonly Pattern[] = ['stream', 'libgearman'];

/** SUBMIT_JOB_BG on several connections, each keeping at most `window` unacknowledged. */
export interface BackgroundSubmitTask {
  readonly kind: 'bg-submit';
  readonly port: number;
  readonly functionName: string;
  /**
   * Functions the jobs are spread over, round robin (1: all go to `functionName`; more: see
   * {@link functionNameAt}).
   */
  readonly functions?: number;
  readonly connections: number;
  readonly jobsPerConnection: number;
  readonly payloadBytes: number;
  /** Stream: most unacknowledged submits; libgearman: the batch size. */
  readonly window: number;
  readonly uniques: UniqueMode;
  /** Default `stream`. */
  readonly pattern?: Pattern;
}

/** Workers in the usual grab / PRE_SLEEP / WORK_COMPLETE loop, until `target` jobs are done. */
export interface WorkerGroupTask {
  readonly kind: 'workers';
  readonly port: number;
  readonly functionName: string;
  /** Functions each worker can do (CAN_DO for every {@link functionNameAt}); default 1. */
  readonly functions?: number;
  readonly count: number;
  /** Jobs completed by the whole group after which it stops. */
  readonly target: number;
  readonly resultBytes: number;
  /** Stream: GRAB_JOB, writes gathered; libgearman: GRAB_JOB_ALL, one write per packet. */
  readonly pattern?: Pattern;
}

/**
 * Foreground clients: SUBMIT_JOB, then wait for WORK_COMPLETE. Stream: `window` jobs in flight
 * each; libgearman: batches of `window`, the next one once every job of the last has completed.
 */
export interface ForegroundClientsTask {
  readonly kind: 'fg-clients';
  readonly port: number;
  readonly functionName: string;
  readonly count: number;
  readonly jobsPerClient: number;
  readonly window: number;
  readonly payloadBytes: number;
  readonly uniques: UniqueMode;
  /** Whether to return each job's submit-to-WORK_COMPLETE time. */
  readonly recordLatency: boolean;
  /** Default `stream`. */
  readonly pattern?: Pattern;
}

/**
 * Connections that connect, make one ECHO round trip (so the server has accepted them) and then
 * stay idle. The task is done at once; its connections close when the agent's other tasks are
 * done, so give it to the agent that runs the load.
 */
export interface IdleConnectionsTask {
  readonly kind: 'idle';
  readonly port: number;
  readonly connections: number;
}

/** A worker of the project's library that echoes workloads, until `target` jobs are done. */
export interface LibraryWorkerTask {
  readonly kind: 'lib-worker';
  readonly port: number;
  readonly functionName: string;
  readonly concurrency: number;
  readonly target: number;
}

/** A client of the project's library running `jobs` foreground jobs, `inFlight` at a time. */
export interface LibraryClientsTask {
  readonly kind: 'lib-clients';
  readonly port: number;
  readonly functionName: string;
  readonly jobs: number;
  readonly inFlight: number;
  readonly payloadBytes: number;
}

/** One unit of load. */
export type Task =
  | BackgroundSubmitTask
  | WorkerGroupTask
  | ForegroundClientsTask
  | LibraryWorkerTask
  | LibraryClientsTask
  | IdleConnectionsTask;

/** What one task did, with wall-clock times comparable across processes. */
export interface TaskResult {
  readonly kind: Task['kind'];
  /** Jobs sent (submitters) or grabbed (workers). */
  readonly sent: number;
  /** Jobs acknowledged with JOB_CREATED (bg), completed (fg clients) or completed (workers). */
  readonly counted: number;
  /** Epoch milliseconds, sub-millisecond precision, when the task was told to go. */
  readonly startedAt: number;
  /** Epoch milliseconds when its last job was counted. */
  readonly finishedAt: number;
  /** Per-job latencies in microseconds, when asked for. */
  readonly latenciesUs?: number[];
}

/** A task that has connected and is ready to go. */
export interface PreparedTask {
  /** Starts the load; resolves when the task's count is reached. */
  start(): Promise<TaskResult>;
  /** Closes every connection of the task. */
  close(): void;
}

/** Parent → agent messages. */
export type AgentCommand =
  | { readonly kind: 'setup'; readonly tasks: readonly Task[]; readonly timeoutMs: number }
  | { readonly kind: 'go' }
  /** Another agent failed: end the running phase now (answered by the phase's `error`). */
  | { readonly kind: 'abort' }
  | { readonly kind: 'exit' };

/** Agent → parent messages. */
export type AgentReply =
  | { readonly kind: 'ready' }
  | { readonly kind: 'done'; readonly results: TaskResult[] }
  | { readonly kind: 'error'; readonly message: string };

/** What one connection of a task counted. */
export interface ConnectionCount {
  sent: number;
  counted: number;
  latenciesUs?: number[];
}

/** One connection of a task: runs its share of the load. */
export interface LoadConnection {
  run(): Promise<ConnectionCount>;
  close(): void;
}

/**
 * A prepared task made of connections that all start together; its result sums their counts
 * and runs from the start to the last connection's end.
 */
export function connectionsTask(
  kind: Task['kind'],
  connections: readonly LoadConnection[],
  recordLatency = false,
): PreparedTask {
  return {
    async start() {
      const startedAt = wallClockMs();
      const counts = await Promise.all(connections.map((c) => c.run()));
      const finishedAt = wallClockMs();
      const result: TaskResult = {
        kind,
        sent: counts.reduce((a, c) => a + c.sent, 0),
        counted: counts.reduce((a, c) => a + c.counted, 0),
        startedAt,
        finishedAt,
        ...(recordLatency ? { latenciesUs: counts.flatMap((c) => c.latenciesUs ?? []) } : {}),
      };
      return result;
    },
    close() {
      for (const c of connections) c.close();
    },
  };
}

/**
 * The name of function `index` of `count`: the base name when there is one, else the base name
 * and a 5-digit index (all names the same length, so submit packets can be templated).
 */
export function functionNameAt(base: string, index: number, count: number): string {
  return count <= 1 ? base : `${base}-${String(index).padStart(5, '0')}`;
}

/** Bytes of libgearman's send buffer: a batch of submits leaves in writes of at most this much. */
export const LIBGEARMAN_SEND_BUFFER = 8192;

/** Epoch milliseconds with the monotonic clock's resolution, comparable between processes. */
export function wallClockMs(): number {
  return performance.timeOrigin + performance.now();
}

/** The error message of an agent whose phase was ended because another agent failed. */
export const ABORT_MESSAGE = 'aborted: another load generator failed';
