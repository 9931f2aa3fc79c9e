/** A Dispatcher that runs jobs in this process, for tests of the scheduling logic. */
import type {
  Dispatcher,
  DispatchOutcome,
  DispatchRequest,
} from '../../src/scheduler/dispatcher.js';

/** One dispatch as the test saw it. */
export interface DispatchRecord {
  readonly request: DispatchRequest;
  readonly at: number;
}

/** Runs each dispatch through `handler`; records what was dispatched and when. */
export class InProcessDispatcher implements Dispatcher {
  readonly records: DispatchRecord[] = [];

  constructor(
    private readonly now: () => number,
    private readonly handler: (
      request: DispatchRequest,
    ) => DispatchOutcome | Promise<DispatchOutcome> = () => ({
      status: 'complete',
    }),
  ) {}

  async dispatch(request: DispatchRequest): Promise<DispatchOutcome> {
    this.records.push({ request, at: this.now() });
    return this.handler(request);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
