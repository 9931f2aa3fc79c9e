/** What a foreground job returned (WORK_COMPLETE): bytes, with text and JSON views. */
export class JobResult {
  constructor(
    /** The job handle the server assigned. */
    readonly handle: string,
    /** The result bytes, exactly as the worker sent them. */
    readonly data: Buffer,
  ) {}

  /** The result decoded as text (UTF-8 unless told otherwise). */
  text(encoding: BufferEncoding = 'utf8'): string {
    return this.data.toString(encoding);
  }

  /** The result parsed as JSON; throws a `SyntaxError` when it is not JSON. */
  json<T = unknown>(): T {
    return JSON.parse(this.data.toString('utf8')) as T;
  }
}
