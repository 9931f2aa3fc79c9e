/**
 * `gearbox admin`: gearadmin's options, printing what gearadmin prints (list replies verbatim,
 * ended by `.`; single values without the `OK`; errors as `Error: …` on stderr), plus `--json`
 * for parsed results and `--watch` for a live table of several servers.
 */
import { parseArgs } from 'node:util';
import { AdminClient, AdminCommandError } from '../admin/admin-client.js';
import {
  parseJobs,
  parsePriorityStatus,
  parseStatus,
  parseWorkers,
} from '../admin/admin-replies.js';
import { formatAddress, serversFromHostsAndPort } from '../connection/server-address.js';

const USAGE = `usage: gearbox admin [options]

Administers Gearman job servers, like gearadmin.

options:
  -h, --host HOST           server host (default localhost); host[:port],host2 for several
  -p, --port PORT           port of hosts given without one (default 4730)
      --servers LIST        the same as -h
      --status              functions: queued+running, running, workers
      --priority-status     functions: queued jobs per priority, workers
      --workers             connections and their functions
      --show-jobs           jobs: handle, retries, ignored, queued
      --show-unique-jobs    unique ids of the jobs
      --cancel-job HANDLE   cancel a job
      --create-function F   create a function
      --drop-function F     drop a function
      --getpid              the server's process id
      --server-version      the server's version
      --server-verbose      the server's log level
      --json                print parsed results as JSON
      --watch               live table of functions (queued by priority, running, workers),
                            refreshed every second, for every server given
      --interval MS         refresh interval of --watch (default 1000)
      --iterations N        stop --watch after N refreshes
      --help                this text`;

const OPTIONS = {
  host: { type: 'string', short: 'h', multiple: true },
  port: { type: 'string', short: 'p' },
  servers: { type: 'string', multiple: true },
  status: { type: 'boolean' },
  'priority-status': { type: 'boolean' },
  workers: { type: 'boolean' },
  'show-jobs': { type: 'boolean' },
  'show-unique-jobs': { type: 'boolean' },
  'cancel-job': { type: 'string' },
  'create-function': { type: 'string' },
  'drop-function': { type: 'string' },
  getpid: { type: 'boolean' },
  'server-version': { type: 'boolean' },
  'server-verbose': { type: 'boolean' },
  json: { type: 'boolean' },
  watch: { type: 'boolean' },
  interval: { type: 'string' },
  iterations: { type: 'string' },
  help: { type: 'boolean' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>['values'];

/** One gearadmin action: the command line, whether it is a list, and how to parse it. */
interface Action {
  readonly key: string;
  readonly command: string;
  readonly list: boolean;
  readonly parse: (lines: string[]) => unknown;
}

const okValue = (lines: string[]): string => {
  const line = lines[0] ?? '';
  return line === 'OK' ? 'OK' : line.startsWith('OK ') ? line.slice(3) : line;
};

/** The requested actions, in the order gearadmin runs them. */
function actions(values: Values): Action[] {
  const out: Action[] = [];
  const single = (
    key: string,
    command: string,
    parse: (lines: string[]) => unknown = okValue,
  ): void => {
    out.push({ key, command, list: false, parse });
  };
  const list = (key: string, command: string, parse: (lines: string[]) => unknown): void => {
    out.push({ key, command, list: true, parse });
  };
  if (values.getpid) single('getpid', 'getpid', (l) => Number(okValue(l)));
  if (values['create-function'] !== undefined)
    single('create-function', `create function ${values['create-function']}`);
  if (values['drop-function'] !== undefined)
    single('drop-function', `drop function ${values['drop-function']}`);
  if (values['show-jobs']) list('show-jobs', 'show jobs', parseJobs);
  if (values['show-unique-jobs']) list('show-unique-jobs', 'show unique jobs', (l) => l);
  if (values['cancel-job'] !== undefined)
    single('cancel-job', `cancel job ${values['cancel-job']}`);
  if (values['server-verbose']) single('server-verbose', 'verbose');
  if (values['server-version']) single('server-version', 'version');
  if (values.workers) list('workers', 'workers', parseWorkers);
  if (values['priority-status']) list('priority-status', 'prioritystatus', parsePriorityStatus);
  if (values.status) list('status', 'status', parseStatus);
  return out;
}

function checkArgument(value: string | undefined, option: string): void {
  if (value !== undefined && (value === '' || /\s/.test(value)))
    throw new TypeError(`--${option} needs one word without spaces`);
}

/** Runs the actions against one server; resolves with whether all succeeded. */
async function runActions(
  admin: AdminClient,
  todo: Action[],
  json: Record<string, unknown> | undefined,
): Promise<boolean> {
  let ok = true;
  for (const action of todo) {
    let lines: string[];
    try {
      lines = await admin.command(action.command, action.list);
    } catch (err) {
      if (err instanceof AdminCommandError) {
        const text = `${err.serverCode}${err.serverMessage ? ` ${err.serverMessage}` : ''}`;
        if (json) json[action.key] = { error: text };
        // gearadmin echoes the server's line ending, \r included.
        else process.stderr.write(`Error: ${text}${err.crlf ? '\r' : ''}\n`);
        ok = false;
        continue;
      }
      throw err;
    }
    if (json) json[action.key] = action.parse(lines);
    else if (action.list) process.stdout.write(lines.map((l) => `${l}\n`).join('') + '.\n');
    else process.stdout.write(`${okValue(lines)}\n`);
  }
  return ok;
}

interface WatchRow {
  server: string;
  name: string;
  high: number;
  normal: number;
  low: number;
  running: number;
  workers: number;
}

async function snapshot(admin: AdminClient): Promise<WatchRow[] | string> {
  try {
    const [priorities, statuses] = await Promise.all([admin.priorityStatus(), admin.status()]);
    const running = new Map(statuses.map((s) => [s.name, s.running]));
    return priorities.map((p) => ({
      server: admin.server,
      name: p.name,
      high: p.high,
      normal: p.normal,
      low: p.low,
      running: running.get(p.name) ?? 0,
      workers: p.workers,
    }));
  } catch (err) {
    return (err as Error).message;
  }
}

/** Renders the `--watch` table: one row per server and function. */
export function renderWatchTable(results: Array<WatchRow[] | string>, now: Date): string {
  const header = ['SERVER', 'FUNCTION', 'HIGH', 'NORMAL', 'LOW', 'RUNNING', 'WORKERS'];
  const rows: string[][] = [];
  const problems: string[] = [];
  for (const result of results) {
    if (typeof result === 'string') {
      problems.push(result);
      continue;
    }
    const sorted = [...result].sort((a, b) => a.name.localeCompare(b.name));
    for (const r of sorted)
      rows.push([r.server, r.name, r.high, r.normal, r.low, r.running, r.workers].map(String));
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const format = (cells: string[]): string =>
    cells
      .map((c, i) => (i < 2 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [
    `gearbox admin --watch  ${now.toISOString()}`,
    '',
    format(header),
    ...rows.map(format),
    ...problems.map((p) => `! ${p}`),
    '',
  ].join('\n');
}

async function watch(admins: AdminClient[], interval: number, iterations: number): Promise<void> {
  let stop = false;
  let wake: (() => void) | undefined;
  const onSignal = (): void => {
    stop = true;
    wake?.();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const tty = process.stdout.isTTY;
  try {
    for (let i = 0; i < iterations && !stop; i++) {
      const results = await Promise.all(admins.map(snapshot));
      // Clear the screen on a terminal; a pipe gets one table after another.
      process.stdout.write((tty ? '\x1b[H\x1b[2J' : '') + renderWatchTable(results, new Date()));
      if (i + 1 < iterations && !stop)
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, interval);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** Runs `gearbox admin`; resolves with the exit status. */
export async function run(argv: string[]): Promise<number> {
  let values: Values;
  try {
    values = parseArgs({ args: argv, options: OPTIONS, allowPositionals: false }).values;
  } catch (err) {
    console.error(`gearbox admin: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  let admins: AdminClient[];
  let interval = 1000;
  let iterations = Infinity;
  try {
    checkArgument(values['cancel-job'], 'cancel-job');
    checkArgument(values['create-function'], 'create-function');
    checkArgument(values['drop-function'], 'drop-function');
    if (values.interval !== undefined) {
      interval = Number(values.interval);
      if (!(interval >= 10)) throw new TypeError('--interval must be at least 10 ms');
    }
    if (values.iterations !== undefined) {
      iterations = Number(values.iterations);
      if (!Number.isInteger(iterations) || iterations < 1)
        throw new TypeError('--iterations must be a positive integer');
    }
    const servers = serversFromHostsAndPort(
      [...(values.host ?? []), ...(values.servers ?? [])],
      values.port,
    );
    admins = servers.map((s) => new AdminClient({ server: formatAddress(s) }));
  } catch (err) {
    console.error(`gearbox admin: ${(err as Error).message}`);
    return 2;
  }
  try {
    if (values.watch) {
      await watch(admins, interval, iterations);
      return 0;
    }
    const todo = actions(values);
    if (todo.length === 0) {
      console.error(`gearbox admin: nothing to do\n\n${USAGE}`);
      return 2;
    }
    let ok = true;
    const json: Record<string, Record<string, unknown>> = {};
    for (const admin of admins) {
      const out: Record<string, unknown> | undefined = values.json ? {} : undefined;
      if (!values.json && admins.length > 1) console.log(`# ${admin.server}`);
      try {
        ok = (await runActions(admin, todo, out)) && ok;
      } catch (err) {
        ok = false;
        if (out) out.error = (err as Error).message;
        else console.error(`Error: ${(err as Error).message}`);
      }
      if (out) json[admin.server] = out;
    }
    if (values.json) {
      const only = admins.length === 1 ? json[admins[0]?.server ?? ''] : json;
      console.log(JSON.stringify(only, null, 2));
    }
    return ok ? 0 : 1;
  } finally {
    await Promise.all(admins.map((a) => a.close()));
  }
}
