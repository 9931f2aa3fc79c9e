import { Client, type ClientOptions } from '../client/client.js';
import { JobExceptionError, JobFailedError } from '../client/errors.js';
import { TimeoutError } from '../connection/errors.js';
import { errorMessage } from '../protocol/errors.js';
import type { Dispatcher, DispatchOutcome, DispatchRequest } from './dispatcher.js';

/**
 * Dispatches through a Gearbox {@link Client} to one or more job servers. Jobs are spread by a
 * hash of their unique id, so a re-dispatch of a job reaches the server that may still run it
 * and coalesces there.
 */
export class ClientDispatcher implements Dispatcher {
  private readonly client: Client;

  /** `timeoutMs`: a foreground dispatch that takes longer counts as a failed attempt. */
  constructor(
    options: ClientOptions,
    private readonly timeoutMs?: number,
  ) {
    this.client = new Client({
      clientId: 'gearbox-scheduler',
      ...options,
      selection: 'hash',
      exceptions: true,
    });
  }

  async dispatch(request: DispatchRequest): Promise<DispatchOutcome> {
    const submit = { unique: request.unique, priority: request.priority };
    try {
      if (request.background) {
        await this.client.submitBackground(request.functionName, request.payload, submit);
      } else {
        await this.client.run(request.functionName, request.payload, {
          ...submit,
          ...(this.timeoutMs === undefined ? {} : { timeout: this.timeoutMs }),
        });
      }
      return { status: 'complete' };
    } catch (err) {
      if (err instanceof JobExceptionError)
        return { status: 'failed', reason: `exception: ${err.data.toString('utf8')}` };
      if (err instanceof JobFailedError)
        return { status: 'failed', reason: 'the worker failed the job (WORK_FAIL)' };
      if (err instanceof TimeoutError)
        return { status: 'failed', reason: `timed out: ${errorMessage(err)}` };
      // The job server could not be reached or the connection dropped: it may have run.
      return { status: 'unknown', reason: errorMessage(err) };
    }
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
