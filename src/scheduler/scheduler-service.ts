import type { ServerList } from '../connection/server-address.js';
import { ClientDispatcher } from './client-dispatcher.js';
import type { Dispatcher } from './dispatcher.js';
import type { FunctionHost } from './function-host.js';
import { openSchedulerStore } from './open-scheduler-store.js';
import type { ScheduleDefaults } from './schedule-request.js';
import { SCHEDULER_DEFAULTS } from './defaults.js';
import { Scheduler, type SchedulerEvent, type SchedulerOptions } from './scheduler.js';
import { schedulerFunctions } from './scheduler-functions.js';
import type { SchedulerStore } from './scheduler-store.js';
import { WorkerFunctionHost } from './worker-function-host.js';

/** Everything `gearbox scheduler` needs. */
export interface SchedulerServiceOptions {
  /** The job servers, e.g. `'gm1:4730,gm2:4730'`. */
  readonly servers: ServerList;
  /** `postgres://…`, `mysql://…` or `sqlite:<file>`. */
  readonly store: string;
  readonly table?: string;
  /** Prefix of the function names (default `SCHEDULER_DEFAULTS.functionPrefix`). */
  readonly prefix?: string;
  /** Also serve Gearsloth's `submitJobDelayed`. */
  readonly gearslothCompatible?: boolean;
  readonly defaults?: ScheduleDefaults;
  /** A foreground dispatch running longer than this counts as a failed attempt (default none). */
  readonly dispatchTimeoutMs?: number;
  readonly scheduler?: Omit<SchedulerOptions, 'store' | 'dispatcher'>;
  readonly onEvent?: (event: SchedulerEvent) => void;
}

/**
 * One scheduler instance, assembled: the store, the claim loop dispatching through a Client, and
 * a Worker serving `gearbox.schedule` and friends. Run as many as you like against one
 * PostgreSQL or MySQL database.
 */
export class SchedulerService {
  private constructor(
    readonly store: SchedulerStore,
    readonly scheduler: Scheduler,
    private readonly dispatcher: Dispatcher,
    private readonly host: FunctionHost,
  ) {}

  /** Opens the store, starts claiming and starts serving the functions. */
  static async start(options: SchedulerServiceOptions): Promise<SchedulerService> {
    const onEvent = options.onEvent ?? options.scheduler?.onEvent;
    const store = await openSchedulerStore(options.store, {
      table: options.table,
      onRetry: (error) => onEvent?.({ type: 'error', at: Date.now(), where: 'open', error }),
    });
    const dispatcher = new ClientDispatcher(
      { servers: options.servers },
      options.dispatchTimeoutMs,
    );
    const scheduler = new Scheduler({
      ...options.scheduler,
      store,
      dispatcher,
      onEvent: options.onEvent ?? options.scheduler?.onEvent,
    });
    const host = new WorkerFunctionHost({ servers: options.servers });
    for (const [name, handler] of schedulerFunctions(scheduler, store, {
      prefix: options.prefix,
      defaults: options.defaults,
      gearslothCompatible: options.gearslothCompatible,
    }))
      host.register(name, handler);
    try {
      await scheduler.start();
      // With no job server up yet the worker keeps trying in the background; the claim loop
      // meanwhile puts jobs it cannot dispatch back.
      await host
        .start()
        .catch((error: unknown) =>
          onEvent?.({ type: 'error', at: Date.now(), where: 'serve', error }),
        );
    } catch (err) {
      await scheduler.stop(0).catch(() => undefined);
      await dispatcher.close().catch(() => undefined);
      await store.close().catch(() => undefined);
      throw err;
    }
    return new SchedulerService(store, scheduler, dispatcher, host);
  }

  /**
   * Stops serving, lets dispatches in flight finish for up to `graceMs` and releases the jobs
   * of those still waiting (see {@link Scheduler.stop}), and closes everything.
   */
  async stop(graceMs: number = SCHEDULER_DEFAULTS.stopGraceMs): Promise<void> {
    await this.host.stop().catch(() => undefined);
    await this.scheduler.stop(graceMs);
    await this.dispatcher.close().catch(() => undefined);
    await this.store.close();
  }
}
