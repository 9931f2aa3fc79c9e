import { GearboxError } from '../protocol/errors.js';

/** The worker gave up on the job (WORK_FAIL), or the server dropped it. */
export class JobFailedError extends GearboxError<'JOB_FAILED'> {
  constructor(
    /** The job handle. */
    readonly handle: string,
    readonly functionName: string,
  ) {
    super('JOB_FAILED', `job ${handle} (${functionName}) failed`);
  }
}

/**
 * The worker raised an exception (WORK_EXCEPTION); `data` carries what it sent, usually an
 * error message, which is also the error's message when it is text.
 */
export class JobExceptionError extends GearboxError<'JOB_EXCEPTION'> {
  constructor(
    readonly handle: string,
    readonly functionName: string,
    /** The exception payload the worker sent. */
    readonly data: Buffer,
  ) {
    super('JOB_EXCEPTION', `job ${handle} (${functionName}) raised: ${data.toString('utf8')}`);
  }
}
