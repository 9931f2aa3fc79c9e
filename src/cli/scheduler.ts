/**
 * `gearbox scheduler`: argv → options → SchedulerService. Runs one instance of the delayed-job
 * service; start as many as you like against one PostgreSQL or MySQL/MariaDB database.
 */
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { GearboxError } from '../protocol/errors.js';
import { HistoryLog } from '../scheduler/history-log.js';
import { DEFAULT_FUNCTION_PREFIX } from '../scheduler/scheduler-functions.js';
import { SchedulerService } from '../scheduler/scheduler-service.js';
import { DEFAULT_STOP_GRACE_MS, type SchedulerEvent } from '../scheduler/scheduler.js';
import { DEFAULT_SCHEDULER_TABLE } from '../scheduler/sql-scheduler-store.js';

const HELP = `usage: gearbox scheduler --store <url> [options]

Runs the delayed-job service: serves ${DEFAULT_FUNCTION_PREFIX}schedule, ${DEFAULT_FUNCTION_PREFIX}cancel,
${DEFAULT_FUNCTION_PREFIX}status, ${DEFAULT_FUNCTION_PREFIX}dead and ${DEFAULT_FUNCTION_PREFIX}rerun on the job servers, and dispatches
stored jobs when they are due. Any number of instances may share one PostgreSQL or
MySQL/MariaDB database; SQLite serves a single instance.

options:
  --store <url>             postgres://user@host/db, mysql://user:pw@host/db or sqlite:<file>
                            (or GEARBOX_SCHEDULER_STORE)
  -s, --servers <list>      job servers, host[:port],... (default 127.0.0.1:4730)
  --table <name>            table name (default ${DEFAULT_SCHEDULER_TABLE})
  --prefix <prefix>         function name prefix (default ${DEFAULT_FUNCTION_PREFIX})
  --gearsloth               also serve Gearsloth's submitJobDelayed
  --lease <seconds>         claim lease, renewed every third (default 30)
  --poll <seconds>          safety-net poll interval (default 5)
  --batch <n>               jobs per claim transaction (default 200)
  --max-in-flight <n>       dispatches in flight at most (default 2000)
  --dispatch-timeout <s>    a foreground dispatch longer than this fails (default none)
  --stop-grace <s>          on SIGTERM, how long dispatches in flight may finish before their
                            jobs are released to other instances (default 0.5)
  --max-attempts <n>        default max_attempts of a job (default 5)
  --backoff <seconds>       default first retry delay (default 5)
  --keep-finished <s>       delete done/cancelled rows after this long; 0 keeps them (default 86400)
  --history <file>          append every claim, dispatch and outcome as JSON lines (an audit
                            trail; the fault test checks it)
  --owner <name>            this instance's name in the table and logs (default host:pid:random)
  -v, --verbose             log every claim, dispatch and outcome
  -h, --help                this text`;

function seconds(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0)
    throw new GearboxError('BAD_ARGUMENT', `--${name} must be a number of seconds`);
  return n;
}

function count(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new GearboxError('BAD_ARGUMENT', `--${name} must be a positive integer`);
  return n;
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

/** Runs the scheduler until SIGTERM or SIGINT; resolves to the exit status. */
export async function run(argv: string[]): Promise<number> {
  let service: SchedulerService;
  let stopGraceMs: number;
  try {
    const { values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        store: { type: 'string' },
        servers: { type: 'string', short: 's' },
        table: { type: 'string' },
        prefix: { type: 'string' },
        gearsloth: { type: 'boolean' },
        lease: { type: 'string' },
        poll: { type: 'string' },
        batch: { type: 'string' },
        'max-in-flight': { type: 'string' },
        'dispatch-timeout': { type: 'string' },
        'stop-grace': { type: 'string' },
        'max-attempts': { type: 'string' },
        backoff: { type: 'string' },
        'keep-finished': { type: 'string' },
        history: { type: 'string' },
        owner: { type: 'string' },
        verbose: { type: 'boolean', short: 'v' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    const store = values.store ?? process.env.GEARBOX_SCHEDULER_STORE;
    if (!store)
      throw new GearboxError('BAD_ARGUMENT', '--store is required (or GEARBOX_SCHEDULER_STORE)');
    const verbose = values.verbose ?? false;
    const owner = values.owner ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    const history = values.history === undefined ? null : new HistoryLog(values.history, owner);
    // Fault injection for the fault test only: die by SIGKILL right after the n-th claim commits,
    // before the claimed jobs are dispatched.
    let crashAfterClaims = Number(process.env.GEARBOX_SCHEDULER_CRASH_AFTER_CLAIMS ?? 0);
    const dispatchTimeout = values['dispatch-timeout'];
    stopGraceMs = seconds(values['stop-grace'], 'stop-grace', DEFAULT_STOP_GRACE_MS / 1000) * 1000;
    service = await SchedulerService.start({
      servers: values.servers ?? '127.0.0.1:4730',
      store,
      table: values.table,
      prefix: values.prefix,
      gearslothCompatible: values.gearsloth ?? false,
      defaults: {
        maxAttempts: count(values['max-attempts'], 'max-attempts', 5),
        backoffSeconds: seconds(values.backoff, 'backoff', 5),
      },
      dispatchTimeoutMs:
        dispatchTimeout === undefined
          ? undefined
          : seconds(dispatchTimeout, 'dispatch-timeout', 0) * 1000,
      scheduler: {
        leaseMs: Math.max(100, seconds(values.lease, 'lease', 30) * 1000),
        pollIntervalMs: Math.max(10, seconds(values.poll, 'poll', 5) * 1000),
        batchSize: count(values.batch, 'batch', 200),
        maxInFlight: count(values['max-in-flight'], 'max-in-flight', 2000),
        keepFinishedMs: seconds(values['keep-finished'], 'keep-finished', 86_400) * 1000,
        owner,
      },
      onEvent: (e) => {
        history?.write(e);
        if (e.type === 'claimed' && crashAfterClaims > 0 && --crashAfterClaims === 0)
          process.kill(process.pid, 'SIGKILL');
        if (verbose || e.type === 'error' || (e.type === 'completed' && !e.accepted))
          console.error(describeEvent(e));
      },
    });
    console.error(
      `gearbox scheduler: ${service.store.description}, instance ${service.scheduler.owner}, pid ${process.pid}`,
    );
  } catch (err) {
    console.error(`gearbox scheduler: ${err instanceof Error ? err.message : String(err)}`);
    return 2;
  }
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  console.error(`gearbox scheduler: ${signal}, stopping`);
  await service.stop(stopGraceMs);
  return 0;
}
