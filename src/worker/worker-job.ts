/** Bytes, or a string sent as UTF-8. */
export type Payload = string | Uint8Array;

/** The job a handler is given: what to do, and how to report progress. */
export interface WorkerJob {
  /** The job handle the server assigned. */
  readonly handle: string;
  /** The function the job was submitted to. */
  readonly functionName: string;
  /** The unique id it was submitted with ('' for none). */
  readonly unique: string;
  /** The workload bytes, exactly as submitted. */
  readonly workload: Buffer;
  /**
   * Aborts when the job's timeout passes or the worker stops before the handler finished;
   * pass it on to fetch, timers and child processes so that they stop too.
   */
  readonly signal: AbortSignal;
  /** The workload decoded as UTF-8. */
  text(): string;
  /** The workload parsed as JSON; throws a `SyntaxError` when it is not JSON. */
  json<T = unknown>(): T;
  /** Reports progress (WORK_STATUS); clients see `numerator/denominator`. */
  sendStatus(numerator: number, denominator: number): void;
  /** Sends a partial result (WORK_DATA). */
  sendData(data: Payload): void;
  /** Sends a warning (WORK_WARNING). */
  sendWarning(data: Payload): void;
}

/**
 * A function that does one job. It returns the result — bytes, a string (sent as UTF-8),
 * `undefined` (an empty result) or any other value (sent as JSON) — or throws, which fails
 * the job: the client gets the error message as WORK_EXCEPTION, then WORK_FAIL.
 */
export type JobHandler = (job: WorkerJob) => unknown;

/** Turns what a handler returned into the WORK_COMPLETE payload. */
export function encodeResult(value: unknown): Payload {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string' || value instanceof Uint8Array) return value;
  const json = JSON.stringify(value);
  return json === undefined ? '' : json;
}
