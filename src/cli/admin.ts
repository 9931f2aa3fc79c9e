/**
 * `gearbox admin`: gearadmin's options, printing what gearadmin prints (list replies verbatim,
 * ended by `.`; single values without the `OK`; errors as `Error: …` on stderr), plus `--json`
 * for parsed results and `--watch` for a live table of several servers.
 */
import { AdminClient, AdminCommandError } from '../admin/admin-client.js';
import {
  parseJobs,
  parsePriorityStatus,
  parseStatus,
  parseWorkers,
} from '../admin/admin-replies.js';
import { formatAddress } from '../connection/server-address.js';
import { HELP_OPTION, serverListOptions, serversFromOptions } from './common-options.js';
import { formatHelp, parseOptions, type ParsedOptions } from './options.js';
import { positiveInteger } from './option-values.js';
import { UsageError } from './usage-error.js';

const DEFAULT_INTERVAL_MS = 1000;

/** Every option of `gearbox admin`, in the order `--help` lists them. */
export const ADMIN_OPTIONS = [
  ...serverListOptions(),
  { name: 'status', help: 'functions: queued+running, running, workers' },
  { name: 'priority-status', help: 'functions: queued jobs per priority, workers' },
  { name: 'workers', help: 'connections and their functions' },
  { name: 'show-jobs', help: 'jobs: handle, retries, ignored, queued' },
  { name: 'show-unique-jobs', help: 'unique ids of the jobs' },
  { name: 'cancel-job', value: 'HANDLE', repeat: 'once', help: 'cancel a job' },
  { name: 'create-function', value: 'F', repeat: 'once', help: 'create a function' },
  { name: 'drop-function', value: 'F', repeat: 'once', help: 'drop a function' },
  { name: 'getpid', help: "the server's process id" },
  { name: 'server-version', help: "the server's version" },
  { name: 'server-verbose', help: "the server's log level" },
  { name: 'json', help: 'print parsed results as JSON' },
  {
    name: 'watch',
    help: 'live table of functions (queued by priority, running, workers), refreshed every --interval, for every server given; q quits (on a terminal), as Ctrl-C does',
  },
  {
    name: 'interval',
    value: 'MS',
    help: 'refresh interval of --watch, at least 10',
    default: String(DEFAULT_INTERVAL_MS),
  },
  {
    name: 'iterations',
    value: 'N',
    help: 'stop --watch after N refreshes',
    default: 'until q or Ctrl-C',
  },
  HELP_OPTION,
] as const;

type Values = ParsedOptions<(typeof ADMIN_OPTIONS)[number]['name']>;

const HELP = formatHelp(
  {
    usage: 'usage: gearbox admin [options]',
    about: 'Administers Gearman job servers, like gearadmin.',
  },
  ADMIN_OPTIONS,
);

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

/**
 * `workers` with `fd` as a number, as every other count in `--json` is (the library keeps
 * the column's text; a server that prints something other than a number keeps its text).
 */
function workersForJson(lines: string[]): unknown[] {
  return parseWorkers(lines).map((w) => ({ ...w, fd: /^\d+$/.test(w.fd) ? Number(w.fd) : w.fd }));
}

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
  const argument = (
    name: 'create-function' | 'drop-function' | 'cancel-job',
  ): string | undefined => {
    const value = values.value(name);
    if (value !== undefined && (value === '' || /\s/.test(value)))
      throw new UsageError('BAD_VALUE', `${values.shown(name)} needs one word without spaces`);
    return value;
  };
  const create = argument('create-function');
  const drop = argument('drop-function');
  const cancel = argument('cancel-job');
  if (values.has('getpid')) single('getpid', 'getpid', (l) => Number(okValue(l)));
  if (create !== undefined) single('create-function', `create function ${create}`);
  if (drop !== undefined) single('drop-function', `drop function ${drop}`);
  if (values.has('show-jobs')) list('show-jobs', 'show jobs', parseJobs);
  if (values.has('show-unique-jobs')) list('show-unique-jobs', 'show unique jobs', (l) => l);
  if (cancel !== undefined) single('cancel-job', `cancel job ${cancel}`);
  if (values.has('server-verbose')) single('server-verbose', 'verbose');
  if (values.has('server-version')) single('server-version', 'version');
  if (values.has('workers')) list('workers', 'workers', workersForJson);
  if (values.has('priority-status')) list('priority-status', 'prioritystatus', parsePriorityStatus);
  if (values.has('status')) list('status', 'status', parseStatus);
  return out;
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

/** What the `--watch` header says besides the time. */
export interface WatchHeader {
  /** The refresh interval, in ms. */
  readonly intervalMs: number;
  /** How to stop it: `q` works only when stdin is a terminal. */
  readonly quitKey: boolean;
}

/** `500 ms`, `2 s`, `1.5 s`. */
function formatInterval(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${ms / 1000} s`;
}

/** Renders the `--watch` table: one row per server and function. */
export function renderWatchTable(
  results: Array<WatchRow[] | string>,
  now: Date,
  header: WatchHeader,
): string {
  const columns = ['SERVER', 'FUNCTION', 'HIGH', 'NORMAL', 'LOW', 'RUNNING', 'WORKERS'];
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
  const widths = columns.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const format = (cells: string[]): string =>
    cells
      .map((c, i) => (i < 2 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [
    `gearbox admin --watch  ${now.toISOString()}  every ${formatInterval(header.intervalMs)}  ` +
      (header.quitKey ? 'q or Ctrl-C: quit' : 'Ctrl-C: quit'),
    '',
    format(columns),
    ...rows.map(format),
    ...problems.map((p) => `! ${p}`),
    '',
  ].join('\n');
}

/**
 * Resolves when the user presses `q` (or Ctrl-C, which raw mode delivers as a byte rather than
 * a signal) on a terminal; `undefined` when stdin is not one. `stop()` restores the terminal.
 */
function quitKey(): { pressed: Promise<void>; stop(): void } | undefined {
  const stdin = process.stdin;
  if (!stdin.isTTY) return undefined;
  let quit: () => void = () => undefined;
  const pressed = new Promise<void>((resolve) => (quit = resolve));
  const onData = (key: Buffer): void => {
    if (key.includes(0x71) || key.includes(0x51) || key.includes(0x03)) quit();
  };
  stdin.setRawMode(true);
  stdin.on('data', onData);
  stdin.resume();
  return {
    pressed,
    stop() {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
    },
  };
}

async function watch(admins: AdminClient[], interval: number, iterations: number): Promise<void> {
  let stop = false;
  let wake: (() => void) | undefined;
  const onStop = (): void => {
    stop = true;
    wake?.();
  };
  process.once('SIGINT', onStop);
  process.once('SIGTERM', onStop);
  const keys = quitKey();
  void keys?.pressed.then(onStop);
  const header = { intervalMs: interval, quitKey: keys !== undefined };
  const tty = process.stdout.isTTY;
  try {
    for (let i = 0; i < iterations && !stop; i++) {
      const results = await Promise.all(admins.map(snapshot));
      if (stop) break;
      // Clear the screen on a terminal; a pipe gets one table after another.
      process.stdout.write(
        (tty ? '\x1b[H\x1b[2J' : '') + renderWatchTable(results, new Date(), header),
      );
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
    keys?.stop();
    process.off('SIGINT', onStop);
    process.off('SIGTERM', onStop);
  }
}

/**
 * Runs `gearbox admin`; resolves with the exit status. A bad command line throws a
 * `UsageError`, which `main` prints.
 */
export async function run(argv: string[]): Promise<number> {
  const values = parseOptions('admin', ADMIN_OPTIONS, argv);
  if (values.has('help')) {
    console.log(HELP);
    return 0;
  }
  const intervalText = values.value('interval');
  const interval = intervalText === undefined ? DEFAULT_INTERVAL_MS : Number(intervalText);
  if (!(interval >= 10))
    throw new UsageError('BAD_VALUE', `${values.shown('interval')} must be at least 10 ms`);
  const iterationsText = values.value('iterations');
  const iterations =
    iterationsText === undefined
      ? Infinity
      : positiveInteger(values.shown('iterations'), iterationsText);
  const todo = actions(values);
  if (!values.has('watch') && todo.length === 0)
    throw new UsageError('MISSING_VALUE', 'nothing to do');
  const json = values.has('json');
  const admins = serversFromOptions(values).map(
    (s) => new AdminClient({ server: formatAddress(s) }),
  );
  try {
    if (values.has('watch')) {
      await watch(admins, interval, iterations);
      return 0;
    }
    let ok = true;
    const results: Record<string, Record<string, unknown>> = {};
    for (const admin of admins) {
      const out: Record<string, unknown> | undefined = json ? {} : undefined;
      if (!json && admins.length > 1) console.log(`# ${admin.server}`);
      try {
        ok = (await runActions(admin, todo, out)) && ok;
      } catch (err) {
        ok = false;
        if (out) out.error = (err as Error).message;
        else console.error(`Error: ${(err as Error).message}`);
      }
      if (out) results[admin.server] = out;
    }
    if (json) {
      const only = admins.length === 1 ? results[admins[0]?.server ?? ''] : results;
      console.log(JSON.stringify(only, null, 2));
    }
    return ok ? 0 : 1;
  } finally {
    await Promise.all(admins.map((a) => a.close()));
  }
}
