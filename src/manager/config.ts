/**
 * The manager's config file (YAML or JSON): the job servers, the control socket, the metrics
 * port and the declared worker entries. Every problem is reported with the path of its key
 * (`workers[2].count: must be a whole number ≥ 0`), all at once; unknown keys are errors, so a
 * misspelt `max_job` does not silently do nothing.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, extname, join, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { formatAddress, parseServers } from '../connection/server-address.js';
import { GearboxError } from '../protocol/errors.js';
import { ConfigReader, type Problems } from './config-reader.js';

/** What an entry runs: a worker program, a JavaScript module of handlers, or a command per job. */
export type EntryKind = 'command' | 'module' | 'exec';

/** Scaling between `min` and `max` by the backlog of the entry's functions. */
export interface AutoscaleSpec {
  readonly min: number;
  readonly max: number;
  /** Jobs (queued + running) per process the scaler aims at. */
  readonly targetQueuedPerWorker: number;
  /** How long the backlog must stay low before scaling down, and the least time between steps. */
  readonly cooldownMs: number;
}

/** The account a child runs as (`user`, honoured only when the manager runs as root). */
export interface RunAs {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
}

/** One `workers` entry, checked, with defaults filled in and paths made absolute. */
export interface EntrySpec {
  readonly name: string;
  readonly kind: EntryKind;
  /** `command` and `exec`: the argv; `module`: the absolute path of the module. */
  readonly argv: readonly string[];
  /** Processes wanted at start (autoscaled entries: between min and max). */
  readonly count: number;
  /** The functions the entry serves, without prefix (optional for command and module). */
  readonly functions: readonly string[] | undefined;
  readonly prefix: string;
  readonly concurrency: number;
  readonly timeoutMs: number | undefined;
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
  readonly user: RunAs | undefined;
  readonly maxJobs: number | undefined;
  readonly maxLifetimeMs: number | undefined;
  readonly restartDelayMs: number;
  readonly restartDelayMaxMs: number;
  /** A process that exits sooner than this after its start counts towards a crash loop. */
  readonly minUptimeMs: number;
  readonly stopSignal: NodeJS.Signals;
  readonly stopTimeoutMs: number;
  /** Absolute paths whose changes restart the entry, one process at a time. */
  readonly watch: readonly string[];
  readonly autoscale: AutoscaleSpec | undefined;
}

/** The whole file, checked. */
export interface ManagerConfig {
  /** The absolute path it was read from. */
  readonly file: string;
  /** `host:port` of every job server. */
  readonly servers: readonly string[];
  readonly controlSocket: string;
  readonly webPort: number | undefined;
  readonly webHost: string;
  readonly autoscaleIntervalMs: number;
  readonly workers: readonly EntrySpec[];
}

/** The config file is missing, unreadable or wrong; `problems` lists every mistake found. */
export class ManagerConfigError extends GearboxError<'BAD_CONFIG'> {
  constructor(
    readonly file: string,
    readonly problems: readonly string[],
  ) {
    super('BAD_CONFIG', `${file}: ${problems.join(`\n${file}: `)}`);
  }
}

const TOP_KEYS = [
  'servers',
  'control_socket',
  'web_port',
  'web_host',
  'autoscale_interval',
  'workers',
] as const;
const ENTRY_KEYS = [
  'name',
  'count',
  'command',
  'module',
  'exec',
  'functions',
  'prefix',
  'concurrency',
  'timeout',
  'env',
  'cwd',
  'user',
  'max_jobs',
  'max_lifetime',
  'restart_delay',
  'restart_delay_max',
  'min_uptime',
  'stop_signal',
  'stop_timeout',
  'watch',
  'autoscale',
] as const;
const AUTOSCALE_KEYS = ['min', 'max', 'target_queued_per_worker', 'cooldown'] as const;
/** Keys that only make sense when the manager itself runs the jobs (module and exec entries). */
const JOB_KEYS = ['prefix', 'concurrency', 'timeout', 'max_jobs'] as const;

/** The control socket when the config names none: per user, in the runtime directory. */
export function defaultControlSocket(): string {
  const runtime = process.env.XDG_RUNTIME_DIR;
  if (runtime) return join(runtime, 'gearbox-manager.sock');
  return join(tmpdir(), `gearbox-manager-${process.getuid?.() ?? 'user'}.sock`);
}

/** Reads and checks a config file; throws a {@link ManagerConfigError} listing every problem. */
export function loadConfig(path: string): ManagerConfig {
  const file = resolve(path);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ManagerConfigError(file, [`cannot read the file: ${(err as Error).message}`]);
  }
  return parseConfig(text, file);
}

/** Parses config text (JSON when `file` ends in .json, YAML otherwise) and checks it. */
export function parseConfig(text: string, file: string): ManagerConfig {
  let data: unknown;
  if (extname(file).toLowerCase() === '.json') {
    try {
      data = JSON.parse(text);
    } catch (err) {
      throw new ManagerConfigError(file, [`not valid JSON: ${(err as Error).message}`]);
    }
  } else {
    const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
    if (doc.errors.length > 0)
      throw new ManagerConfigError(
        file,
        doc.errors.map((e) => `not valid YAML: ${e.message.split('\n')[0] ?? ''}`),
      );
    data = doc.toJS();
  }
  const problems: Problems = [];
  const config = checkConfig(data, file, problems);
  if (problems.length > 0) throw new ManagerConfigError(file, problems);
  return config;
}

function checkConfig(data: unknown, file: string, problems: Problems): ManagerConfig {
  const top = new ConfigReader(data ?? {}, '', problems, TOP_KEYS);
  const base = dirname(file);
  let servers = ['127.0.0.1:4730'];
  if (top.has('servers')) {
    const list = top.raw('servers');
    const items = typeof list === 'string' ? [list] : top.stringList('servers', 'host:port');
    if (items) {
      try {
        servers = parseServers(items).map(formatAddress);
      } catch (err) {
        top.report('servers', (err as Error).message);
      }
    }
  }
  const workersRaw = top.raw('workers');
  const workers: EntrySpec[] = [];
  if (!Array.isArray(workersRaw)) {
    top.report('workers', 'must be a list of worker entries');
  } else {
    const names = new Set<string>();
    workersRaw.forEach((raw, i) => {
      const entry = checkEntry(new ConfigReader(raw, `workers[${i}]`, problems, ENTRY_KEYS), base);
      if (entry === undefined) return;
      if (names.has(entry.name))
        problems.push(`workers[${i}].name: '${entry.name}' is used by an earlier entry`);
      names.add(entry.name);
      workers.push(entry);
    });
  }
  const socket = top.string('control_socket');
  return {
    file,
    servers,
    controlSocket: socket === undefined ? defaultControlSocket() : resolve(base, socket),
    webPort: top.wholeNumber('web_port', 0, 65535),
    webHost: top.string('web_host') ?? '127.0.0.1',
    autoscaleIntervalMs: top.seconds('autoscale_interval', true) ?? 5000,
    workers,
  };
}

function checkEntry(r: ConfigReader, base: string): EntrySpec | undefined {
  const name = r.string('name');
  if (name === undefined) {
    if (!r.has('name')) r.report('name', 'is required');
  } else if (!/^[A-Za-z0-9_.-]+$/.test(name)) {
    r.report('name', 'may hold only letters, digits, "_", "." and "-"');
  }
  const kinds = (['command', 'module', 'exec'] as const).filter((k) => r.has(k));
  if (kinds.length !== 1)
    r.report('', `needs exactly one of command, module or exec (found ${kinds.length})`);
  const kind = kinds[0] ?? 'command';
  let argv: string[] = [];
  if (kind === 'module') {
    const module = r.string('module');
    if (module !== undefined) {
      argv = [resolve(base, module)];
      if (!isFile(argv[0] ?? '')) r.report('module', `${argv[0]} is not a file`);
    }
  } else {
    argv = r.stringList(kind, 'program and arguments (an argv list)') ?? [];
  }
  const functions = r.stringList('functions', 'function names');
  for (const f of functions ?? [])
    if (/[\s\0]/.test(f)) r.report('functions', `'${f}' holds white space or NUL`);
  if (kind === 'exec' && functions === undefined && !r.has('functions'))
    r.report('functions', 'an exec entry needs the functions it serves');
  if (kind === 'command')
    for (const key of JOB_KEYS)
      if (r.has(key))
        r.report(key, 'only module and exec entries have it (a command runs its own jobs)');
  const cwdText = r.string('cwd');
  const cwd = cwdText === undefined ? base : resolve(base, cwdText);
  if (cwdText !== undefined && !isDirectory(cwd)) r.report('cwd', `${cwd} is not a directory`);
  const restartDelayMs = r.seconds('restart_delay') ?? 1000;
  const restartDelayMaxMs = r.seconds('restart_delay_max') ?? Math.max(60_000, restartDelayMs);
  if (restartDelayMaxMs < restartDelayMs)
    r.report('restart_delay_max', 'must not be less than restart_delay');
  const autoscale = r.has('autoscale') ? checkAutoscale(r, kind, functions) : undefined;
  let count = r.wholeNumber('count', 0);
  if (autoscale !== undefined) {
    if (count !== undefined && (count < autoscale.min || count > autoscale.max))
      r.report('count', `must lie between autoscale.min and autoscale.max`);
    count ??= autoscale.min;
  }
  return {
    name: name ?? '',
    kind,
    argv,
    count: count ?? 1,
    functions,
    prefix: r.string('prefix') ?? '',
    concurrency: r.wholeNumber('concurrency', 1) ?? 1,
    timeoutMs: r.seconds('timeout', true),
    env: r.environment('env') ?? {},
    cwd,
    user: checkUser(r),
    maxJobs: r.wholeNumber('max_jobs', 1),
    maxLifetimeMs: r.seconds('max_lifetime', true),
    restartDelayMs,
    restartDelayMaxMs,
    minUptimeMs: r.seconds('min_uptime') ?? 5000,
    stopSignal: r.signal('stop_signal') ?? 'SIGTERM',
    stopTimeoutMs: r.seconds('stop_timeout') ?? 30_000,
    watch: checkWatch(r, kind, argv, base),
    autoscale,
  };
}

function checkAutoscale(
  entry: ConfigReader,
  kind: EntryKind,
  functions: readonly string[] | undefined,
): AutoscaleSpec | undefined {
  const reader = entry.child('autoscale', AUTOSCALE_KEYS);
  const min = reader.wholeNumber('min', 0);
  const max = reader.wholeNumber('max', 1);
  if (!reader.has('min')) reader.report('min', 'is required');
  if (!reader.has('max')) reader.report('max', 'is required');
  if (min !== undefined && max !== undefined && max < min)
    reader.report('max', 'must not be less than min');
  if (functions === undefined && (kind === 'command' || (kind === 'module' && min === 0)))
    entry.report(
      'functions',
      kind === 'command'
        ? 'an autoscaled command entry needs the functions whose backlog it follows'
        : 'an autoscaled module entry with min 0 needs the functions whose backlog it follows',
    );
  if (min === undefined || max === undefined) return undefined;
  return {
    min,
    max,
    targetQueuedPerWorker: reader.positiveNumber('target_queued_per_worker') ?? 1,
    cooldownMs: reader.seconds('cooldown') ?? 60_000,
  };
}

function checkWatch(
  r: ConfigReader,
  kind: EntryKind,
  argv: readonly string[],
  base: string,
): string[] {
  const value = r.raw('watch');
  if (value === undefined || value === null || value === false) return [];
  if (value === true) {
    if (kind === 'module' && argv[0] !== undefined) return [dirname(argv[0])];
    r.report('watch', 'true (the module’s folder) is only for module entries: give paths');
    return [];
  }
  const list = typeof value === 'string' ? [value] : r.stringList('watch', 'paths');
  return (list ?? []).map((p) => resolve(base, p));
}

function checkUser(r: ConfigReader): RunAs | undefined {
  const name = r.string('user');
  if (name === undefined) return undefined;
  if (process.getuid?.() !== 0) {
    r.report('user', 'needs the manager to run as root (it switches the child to that user)');
    return undefined;
  }
  let line: string;
  try {
    line = execFileSync('getent', ['passwd', name], { encoding: 'utf8', timeout: 5000 });
  } catch {
    r.report('user', `no such user: ${name}`);
    return undefined;
  }
  const [, , uid, gid, , home] = line.trim().split(':');
  return { name, uid: Number(uid), gid: Number(gid), home: home ?? '/' };
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
