/**
 * `gearbox scheduler`: argv → options → SchedulerService. Runs one instance of the delayed-job
 * service; start as many as you like against one PostgreSQL or MySQL/MariaDB database.
 */
import { defaultSchedulerOwner, SCHEDULER_DEFAULTS } from '../scheduler/defaults.js';
import { HistoryLog } from '../scheduler/history-log.js';
import { SchedulerService, type SchedulerServiceOptions } from '../scheduler/scheduler-service.js';
import type { SchedulerEvent } from '../scheduler/scheduler.js';
import { errorMessage } from '../protocol/errors.js';
import { DriverMissingError } from '../sql/store-drivers.js';
import { HELP_OPTION, serverListOptions, serversFromOptions } from './common-options.js';
import { formatHelp, parseOptions, type ParsedOptions } from './options.js';
import { positiveInteger, seconds } from './option-values.js';
import { driverMissingMessage } from './queue-flags.js';
import { UsageError } from './usage-error.js';

const D = SCHEDULER_DEFAULTS;
const P = D.functionPrefix;

/** Every option of `gearbox scheduler`, in the order `--help` lists them. */
export const SCHEDULER_OPTIONS = [
  {
    name: 'store',
    value: 'URL',
    repeat: 'once',
    help: 'postgres://user@host/db, mysql://user:pw@host/db or sqlite:<file>; required, or GEARBOX_SCHEDULER_STORE',
  },
  ...serverListOptions('s'),
  { name: 'table', value: 'NAME', help: 'table name', default: D.table },
  { name: 'prefix', value: 'PREFIX', help: 'function name prefix', default: P },
  { name: 'gearsloth', help: "also serve Gearsloth's submitJobDelayed" },
  {
    name: 'lease',
    value: 'SECONDS',
    help: 'claim lease, renewed every third',
    default: String(D.leaseMs / 1000),
  },
  {
    name: 'poll',
    value: 'SECONDS',
    help: 'safety-net poll interval',
    default: String(D.pollIntervalMs / 1000),
  },
  { name: 'batch', value: 'N', help: 'jobs per claim transaction', default: String(D.batchSize) },
  {
    name: 'max-in-flight',
    value: 'N',
    help: 'dispatches in flight at most',
    default: String(D.maxInFlight),
  },
  {
    name: 'dispatch-timeout',
    value: 'SECONDS',
    help: 'a foreground dispatch longer than this fails',
    default: 'none',
  },
  {
    name: 'stop-grace',
    value: 'SECONDS',
    help: 'on SIGTERM, how long dispatches in flight may finish before their jobs are released to other instances',
    default: String(D.stopGraceMs / 1000),
  },
  {
    name: 'max-attempts',
    value: 'N',
    help: 'max_attempts of a job whose request does not say',
    default: String(D.maxAttempts),
  },
  {
    name: 'backoff',
    value: 'SECONDS',
    help: 'first retry delay of a job whose request does not say',
    default: String(D.backoffSeconds),
  },
  {
    name: 'keep-finished',
    value: 'SECONDS',
    help: 'delete done and cancelled rows after this long; 0 keeps them',
    default: String(D.keepFinishedMs / 1000),
  },
  {
    name: 'history',
    value: 'FILE',
    help: 'append every claim, dispatch and outcome as JSON lines (an audit trail; the fault test checks it)',
  },
  {
    name: 'owner',
    value: 'NAME',
    help: "this instance's name in the table and logs",
    default: 'host:pid:random',
  },
  { name: 'verbose', short: 'v', help: 'log every claim, dispatch and outcome' },
  HELP_OPTION,
] as const;

type Options = ParsedOptions<(typeof SCHEDULER_OPTIONS)[number]['name']>;

function help(): string {
  return formatHelp(
    {
      usage: 'usage: gearbox scheduler --store URL [options]',
      about:
        `Runs the delayed-job service: serves ${P}schedule, ${P}cancel, ${P}status, ${P}dead and ` +
        `${P}rerun on the job servers, and dispatches stored jobs when they are due. Any number ` +
        'of instances may share one PostgreSQL or MySQL/MariaDB database; SQLite serves a single instance.',
    },
    SCHEDULER_OPTIONS,
  );
}

/** What one command line asks the scheduler to be. */
interface SchedulerSettings {
  readonly service: Omit<SchedulerServiceOptions, 'onEvent'>;
  readonly owner: string;
  readonly history: string | undefined;
  readonly verbose: boolean;
  readonly stopGraceMs: number;
}

/** An option in seconds, as milliseconds; undefined when it is not given. */
function ms(
  options: Options,
  name: 'lease' | 'poll' | 'stop-grace' | 'keep-finished',
): number | undefined {
  const text = options.value(name);
  return text === undefined ? undefined : seconds(options.shown(name), text) * 1000;
}

function count(
  options: Options,
  name: 'batch' | 'max-in-flight' | 'max-attempts',
): number | undefined {
  const text = options.value(name);
  return text === undefined ? undefined : positiveInteger(options.shown(name), text);
}

/** Turns the options into the service's; throws a `UsageError` for a bad value. */
function settingsFrom(options: Options): SchedulerSettings {
  const store = options.value('store') ?? process.env.GEARBOX_SCHEDULER_STORE;
  if (!store)
    throw new UsageError('MISSING_VALUE', '--store is required (or GEARBOX_SCHEDULER_STORE)');
  const owner = options.value('owner') ?? defaultSchedulerOwner();
  const backoff = options.value('backoff');
  const dispatchTimeout = options.value('dispatch-timeout');
  const lease = ms(options, 'lease');
  const poll = ms(options, 'poll');
  return {
    service: {
      servers: serversFromOptions(options),
      store,
      table: options.value('table'),
      prefix: options.value('prefix'),
      gearslothCompatible: options.has('gearsloth'),
      defaults: {
        maxAttempts: count(options, 'max-attempts') ?? D.maxAttempts,
        backoffSeconds:
          backoff === undefined ? D.backoffSeconds : seconds(options.shown('backoff'), backoff),
      },
      dispatchTimeoutMs:
        dispatchTimeout === undefined
          ? undefined
          : seconds(options.shown('dispatch-timeout'), dispatchTimeout) * 1000,
      scheduler: {
        leaseMs: lease === undefined ? undefined : Math.max(100, lease),
        pollIntervalMs: poll === undefined ? undefined : Math.max(10, poll),
        batchSize: count(options, 'batch'),
        maxInFlight: count(options, 'max-in-flight'),
        keepFinishedMs: ms(options, 'keep-finished'),
        owner,
      },
    },
    owner,
    history: options.value('history'),
    verbose: options.has('verbose'),
    stopGraceMs: ms(options, 'stop-grace') ?? D.stopGraceMs,
  };
}

function describeEvent(e: SchedulerEvent): string {
  const time = new Date(e.at).toISOString();
  switch (e.type) {
    case 'error':
      return `${time} error in ${e.where}: ${e.error instanceof Error ? e.error.message : String(e.error)}`;
    case 'claimed':
    case 'dispatched':
      return `${time} ${e.type} job ${e.job.id} (${e.job.functionName}) due ${new Date(e.job.runAt).toISOString()}`;
    case 'completed':
      return `${time} completed job ${e.job.id}${e.accepted ? '' : ' (lease lost: not recorded)'}`;
    case 'failed':
      return `${time} job ${e.job.id} failed (${e.outcome}): ${e.reason}`;
    case 'released':
      return `${time} job ${e.job.id} put back: ${e.reason}`;
  }
}

/** Extra observers of the service, besides the history log and the log lines. */
export interface SchedulerObservers {
  /** Called with every event, after the history log has recorded it. */
  readonly onEvent?: (event: SchedulerEvent) => void;
}

/**
 * Runs the scheduler until SIGTERM or SIGINT; resolves to the exit status. A bad command line
 * throws a `UsageError`, which `main` prints.
 */
export async function run(argv: string[], observers: SchedulerObservers = {}): Promise<number> {
  const options = parseOptions('scheduler', SCHEDULER_OPTIONS, argv);
  if (options.has('help')) {
    console.log(help());
    return 0;
  }
  const settings = settingsFrom(options);
  // Listened for before anything is printed: a service manager may send SIGTERM as soon as it
  // reads the start line, and one that came before the handler would kill the process. One that
  // comes during the start stops the service once it is up.
  const stopSignal = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  let service: SchedulerService;
  try {
    const history =
      settings.history === undefined ? null : new HistoryLog(settings.history, settings.owner);
    service = await SchedulerService.start({
      ...settings.service,
      onEvent: (e) => {
        history?.write(e);
        observers.onEvent?.(e);
        if (settings.verbose || e.type === 'error' || (e.type === 'completed' && !e.accepted))
          console.error(describeEvent(e));
      },
    });
    console.error(
      `gearbox scheduler: ${service.store.description}, instance ${service.scheduler.owner}, pid ${process.pid}`,
    );
  } catch (err) {
    const flag = options.value('store') === undefined ? 'GEARBOX_SCHEDULER_STORE' : '--store';
    const message =
      err instanceof DriverMissingError ? driverMissingMessage(err, flag) : errorMessage(err);
    console.error(`gearbox scheduler: ${message}`);
    return 2;
  }
  const signal = await stopSignal;
  console.error(`gearbox scheduler: ${signal}, stopping`);
  await service.stop(settings.stopGraceMs);
  return 0;
}
