/**
 * The server's configuration, and the parser of `gearbox server`'s command line. The parser
 * accepts gearmand's own flags (long and short forms, `--flag value` and `--flag=value`), so an
 * existing gearmand command line keeps working, plus a few of ours (`--store URL`,
 * `--max-packet-size`, `--max-output-buffer`, …).
 */
import { hostname } from 'node:os';
import { GearboxError } from '../protocol/errors.js';
import { LOG_LEVELS, type LogLevel } from './core/effects.js';
import { parseStoreUrl, type QueueConfig } from '../sql/store-url.js';
import { defaultSqlitePath } from '../storage/create-store.js';

/** TCP keepalive settings applied to every accepted socket. */
export interface KeepaliveConfig {
  /** `--keepalive`: turn SO_KEEPALIVE on. */
  readonly enabled: boolean;
  /** `--keepalive-idle` seconds before the first probe; -1 = the system's default. */
  readonly idle: number;
  /**
   * `--keepalive-interval` seconds between probes; -1 = default. Accepted for gearmand
   * compatibility; Node cannot set TCP_KEEPINTVL, so the system's value is used.
   */
  readonly interval: number;
  /** `--keepalive-count` probes; -1 = default. Accepted; Node cannot set TCP_KEEPCNT. */
  readonly count: number;
}

/** Everything `startServer` needs; `parseServerArgs` builds it from a command line. */
export interface ServerConfig {
  /** Addresses to listen on (`-L`, repeatable); empty = every interface, as gearmand does. */
  readonly listen: readonly string[];
  /** `-p`: the TCP port (0 = any free port, useful in tests). */
  readonly port: number;
  /** `-b`: the listen backlog. */
  readonly backlog: number;
  /** `-j`: total attempts before a job is dropped with WORK_FAIL; 0 = unlimited. */
  readonly jobRetries: number;
  /** `-R`: rotate a worker's functions after each assignment. */
  readonly roundRobin: boolean;
  /** `-w`: how many sleeping workers one new job wakes; 0 = all. */
  readonly workerWakeup: number;
  /**
   * `--fail-on-timeout`: a CAN_DO_TIMEOUT expiry ends the job with WORK_FAIL to its clients (as
   * the protocol text says) instead of requeueing it (gearmand's behaviour, the default).
   */
  readonly failOnTimeout: boolean;
  /** `--job-handle-prefix`; default `H:<hostname>`. */
  readonly jobHandlePrefix: string;
  /** `--exceptions`: WORK_EXCEPTION forwarded to every client without OPTION_REQ. */
  readonly exceptions: boolean;
  /** `-l`: `stderr`, `none`, or a file path to append to. */
  readonly logFile: string;
  /** `--verbose` / `-v`: the quietest level still logged. */
  readonly verbose: LogLevel;
  /** `-P`: where to write the process id; none when undefined. */
  readonly pidFile: string | undefined;
  readonly keepalive: KeepaliveConfig;
  /** `-u`: the user to switch to once the listeners are bound (the process must be root). */
  readonly user: string | undefined;
  /** `-t`: accepted for compatibility; Gearbox runs one event loop whatever the value. */
  readonly threads: number;
  /**
   * `-q …` / `--store URL`: where background jobs are kept. Without either, a SQLite file at
   * the storage layer's default path (`$GEARBOX_DATA_DIR/queue.sqlite`, else
   * `$XDG_STATE_HOME/gearbox/queue.sqlite`, else `~/.local/state/gearbox/queue.sqlite`).
   */
  readonly queue: QueueConfig;
  /** `--store-queue-on-shutdown`: accepted (sqlite only in gearmand); jobs are always written. */
  readonly storeQueueOnShutdown: boolean;
  /** `--max-packet-size`: the largest packet payload a peer may send, in bytes. */
  readonly maxPacketSize: number;
  /** The longest admin text line, in bytes. */
  readonly maxLineLength: number;
  /** `--max-output-buffer`: unsent bytes a connection may owe before it is dropped. */
  readonly maxOutputBuffer: number;
  /** `--shutdown-timeout`: how long a graceful stop waits for running jobs, in ms. */
  readonly shutdownTimeoutMs: number;
  /** `--store-open-timeout`: how long the start waits for the store to open, in ms. */
  readonly storeOpenTimeoutMs: number;
}

/** The defaults: gearmand's, except where the comment on the flag in `--help` says otherwise. */
export function defaultServerConfig(): ServerConfig {
  return {
    listen: ['127.0.0.1'],
    port: 4730,
    // gearmand's 32 makes a burst of connections wait for SYN retransmits (1 s each).
    backlog: 4096,
    jobRetries: 0,
    roundRobin: false,
    workerWakeup: 0,
    failOnTimeout: false,
    jobHandlePrefix: `H:${hostname()}`,
    exceptions: false,
    logFile: 'stderr',
    verbose: 'ERROR',
    pidFile: undefined,
    user: undefined,
    keepalive: { enabled: false, idle: -1, interval: -1, count: -1 },
    threads: 0,
    queue: { type: 'builtin' },
    storeQueueOnShutdown: false,
    maxPacketSize: 64 * 1024 * 1024,
    maxLineLength: 64 * 1024,
    maxOutputBuffer: 64 * 1024 * 1024,
    shutdownTimeoutMs: 30_000,
    storeOpenTimeoutMs: 30_000,
  };
}

/** Codes for a command line that cannot be used. */
export type ConfigErrorCode = 'UNKNOWN_FLAG' | 'MISSING_VALUE' | 'BAD_VALUE' | 'UNSUPPORTED';

/** A flag or value the server cannot run with; the CLI prints the message and exits with 2. */
export class ConfigError extends GearboxError<ConfigErrorCode> {}

/** What a command line asks for: run with a config, or print help / the version. */
export type ParsedServerArgs =
  | { readonly action: 'run'; readonly config: ServerConfig; readonly warnings: string[] }
  | { readonly action: 'help' }
  | { readonly action: 'version' };

/* The mutable shape the flags write into while parsing. */
type Draft = Omit<{ -readonly [K in keyof ServerConfig]: ServerConfig[K] }, 'listen'> & {
  listen: string[];
  keepaliveDraft: { -readonly [K in keyof KeepaliveConfig]: KeepaliveConfig[K] };
  queueType: string | undefined;
  queueOptions: Map<string, string>;
  storeUrl: string | undefined;
  listenGiven: boolean;
  verboseSteps: number;
  verboseNamed: boolean;
  warnings: string[];
  action: 'run' | 'help' | 'version';
};

interface FlagSpec {
  readonly long: string;
  readonly short?: string;
  /** A value is required (`--flag value` or `--flag=value`); otherwise it is a switch. */
  readonly value?: string;
  readonly help: string;
  readonly apply: (draft: Draft, value: string, flag: string) => void;
}

function integer(flag: string, value: string, min: number, max: number): number {
  if (!/^-?\d+$/.test(value.trim())) {
    throw new ConfigError('BAD_VALUE', `${flag}: '${value}' is not a whole number`);
  }
  const n = Number(value);
  if (n < min || n > max) {
    throw new ConfigError('BAD_VALUE', `${flag}: ${n} is out of range (${min}…${max})`);
  }
  return n;
}

const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** A byte count, optionally with a K/M/G (binary) suffix: `65536`, `64M`, `1g`. */
function byteSize(flag: string, value: string): number {
  const match = /^(\d+)\s*([kmg]?)(?:i?b)?$/i.exec(value.trim());
  const unit = SIZE_UNITS[(match?.[2] ?? '').toLowerCase()];
  if (!match || unit === undefined) {
    throw new ConfigError('BAD_VALUE', `${flag}: '${value}' is not a size (e.g. 65536, 64K, 64M)`);
  }
  const n = Number(match[1]) * unit;
  if (n < 1 || n > 2 ** 32 - 1) {
    throw new ConfigError('BAD_VALUE', `${flag}: ${value} is out of range (1 byte … 4 GiB)`);
  }
  return n;
}

function logLevel(flag: string, value: string): LogLevel {
  const upper = value.trim().toUpperCase();
  const level = LOG_LEVELS.find((l) => l === upper);
  if (!level) {
    throw new ConfigError(
      'BAD_VALUE',
      `${flag}: '${value}' is not one of ${LOG_LEVELS.join(', ')}`,
    );
  }
  return level;
}

function queueOption(key: string): FlagSpec['apply'] {
  return (draft, value) => {
    draft.queueOptions.set(key, value);
  };
}

/** Every flag, in the order `--help` lists them. */
const FLAGS: readonly FlagSpec[] = [
  { long: 'help', short: 'h', help: 'print this help and exit', apply: (d) => (d.action = 'help') },
  {
    long: 'version',
    short: 'V',
    help: 'print the version and exit',
    apply: (d) => (d.action = 'version'),
  },
  {
    long: 'listen',
    short: 'L',
    value: 'ADDRESS',
    help: 'address to listen on; repeat for several (default 127.0.0.1; 0.0.0.0 or :: = all)',
    apply: (d, v) => {
      if (!d.listenGiven) d.listen = [];
      d.listenGiven = true;
      if (v.trim() === '') throw new ConfigError('BAD_VALUE', '--listen: empty address');
      d.listen.push(v.trim());
    },
  },
  {
    long: 'port',
    short: 'p',
    value: 'PORT',
    help: 'TCP port (default 4730)',
    apply: (d, v, f) => (d.port = integer(f, v, 0, 65535)),
  },
  {
    long: 'backlog',
    short: 'b',
    value: 'N',
    help: 'listen backlog (default 4096, capped by net.core.somaxconn; gearmand: 32)',
    apply: (d, v, f) => (d.backlog = integer(f, v, 1, 65535)),
  },
  {
    long: 'job-retries',
    short: 'j',
    value: 'N',
    help: 'attempts before a job is dropped with WORK_FAIL; 0 = no limit (default 0)',
    apply: (d, v, f) => (d.jobRetries = integer(f, v, 0, 2 ** 31 - 1)),
  },
  {
    long: 'round-robin',
    short: 'R',
    help: "rotate a worker's functions after each job it is given",
    apply: (d) => (d.roundRobin = true),
  },
  {
    long: 'worker-wakeup',
    short: 'w',
    value: 'N',
    help: 'sleeping workers woken per new job, N more every 100 ms while it waits; 0 = all (default 0)',
    apply: (d, v, f) => (d.workerWakeup = integer(f, v, 0, 2 ** 31 - 1)),
  },
  {
    long: 'fail-on-timeout',
    help: 'end a job whose CAN_DO_TIMEOUT expires with WORK_FAIL instead of requeueing it (as gearmand does)',
    apply: (d) => (d.failOnTimeout = true),
  },
  {
    long: 'job-handle-prefix',
    value: 'PREFIX',
    help: 'job handles are PREFIX:<n> (default H:<hostname>)',
    apply: (d, v, f) => {
      if (v.length === 0 || v.length > 40 || /[\0\s]/.test(v)) {
        throw new ConfigError('BAD_VALUE', `${f}: needs 1-40 characters without spaces`);
      }
      d.jobHandlePrefix = v;
    },
  },
  {
    long: 'exceptions',
    help: 'forward WORK_EXCEPTION to every client, as if each had sent OPTION_REQ exceptions',
    apply: (d) => (d.exceptions = true),
  },
  {
    long: 'log-file',
    short: 'l',
    value: 'FILE',
    help: "log destination: 'stderr' (default), 'none', or a file to append to",
    apply: (d, v, f) => {
      if (v === '') throw new ConfigError('BAD_VALUE', `${f}: empty file name`);
      d.logFile = v;
    },
  },
  {
    long: 'verbose',
    value: 'LEVEL',
    help: `log level: ${LOG_LEVELS.join(', ')} (default ERROR)`,
    apply: (d, v, f) => {
      d.verbose = logLevel(f, v);
      d.verboseNamed = true;
    },
  },
  {
    long: 'v',
    short: 'v',
    help: 'one level more verbose than ERROR per -v (-v WARNING … -vvvv DEBUG)',
    apply: (d) => (d.verboseSteps += 1),
  },
  {
    long: 'pid-file',
    short: 'P',
    value: 'FILE',
    help: 'write the process id to FILE (removed at exit); none by default',
    apply: (d, v, f) => {
      if (v === '') throw new ConfigError('BAD_VALUE', `${f}: empty file name`);
      d.pidFile = v;
    },
  },
  {
    long: 'keepalive',
    help: 'turn TCP keepalive on for accepted connections',
    apply: (d) => (d.keepaliveDraft.enabled = true),
  },
  {
    long: 'keepalive-idle',
    value: 'SECONDS',
    help: 'idle time before the first keepalive probe (-1 = system default)',
    apply: (d, v, f) => (d.keepaliveDraft.idle = integer(f, v, -1, 2 ** 31 - 1)),
  },
  {
    long: 'keepalive-interval',
    value: 'SECONDS',
    help: 'accepted for gearmand compatibility; Node uses the system interval',
    apply: (d, v, f) => (d.keepaliveDraft.interval = integer(f, v, -1, 2 ** 31 - 1)),
  },
  {
    long: 'keepalive-count',
    value: 'N',
    help: 'accepted for gearmand compatibility; Node uses the system probe count',
    apply: (d, v, f) => (d.keepaliveDraft.count = integer(f, v, -1, 2 ** 31 - 1)),
  },
  {
    long: 'threads',
    short: 't',
    value: 'N',
    help: 'accepted for compatibility and ignored: Gearbox runs on one event loop',
    apply: (d, v, f) => (d.threads = integer(f, v, 0, 1024)),
  },
  {
    long: 'daemon',
    short: 'd',
    help: 'refused: run Gearbox under a service manager (systemd, runit, docker) instead',
    apply: (_d, _v, f) => {
      throw new ConfigError(
        'UNSUPPORTED',
        `${f}: gearbox server does not detach; run it under systemd, runit or docker`,
      );
    },
  },
  {
    long: 'user',
    short: 'u',
    value: 'USER',
    help: 'switch to USER after the listeners are bound (needs root)',
    apply: (d, v, f) => {
      if (v === '') throw new ConfigError('BAD_VALUE', `${f}: empty user name`);
      d.user = v;
    },
  },
  {
    long: 'file-descriptors',
    short: 'f',
    value: 'N',
    help: 'accepted for compatibility and ignored (set the limit with ulimit -n)',
    apply: (_d, v, f) => void integer(f, v, 0, 2 ** 31 - 1),
  },
  {
    long: 'queue-type',
    short: 'q',
    value: 'TYPE',
    help: 'job store: builtin (memory), libsqlite3, libpq (postgres), mysql, redis',
    apply: (d, v) => (d.queueType = v),
  },
  {
    long: 'store',
    value: 'URL',
    help: 'job store as a URL: sqlite:///path, postgres://…, mysql://…/db, redis://host[/prefix], builtin:',
    apply: (d, v) => (d.storeUrl = v),
  },
  {
    long: 'libsqlite3-db',
    value: 'FILE',
    help: 'SQLite database file (-q libsqlite3)',
    apply: queueOption('sqlite-db'),
  },
  {
    long: 'libsqlite3-table',
    value: 'TABLE',
    help: 'SQLite table (default gearman_queue)',
    apply: queueOption('sqlite-table'),
  },
  {
    long: 'store-queue-on-shutdown',
    help: 'accepted; Gearbox always writes background jobs as they are submitted',
    apply: (d) => (d.storeQueueOnShutdown = true),
  },
  {
    long: 'libpq-conninfo',
    value: 'CONNINFO',
    help: 'PostgreSQL connection string (-q libpq); PG* variables fill the gaps',
    apply: queueOption('pq-conninfo'),
  },
  {
    long: 'libpq-table',
    value: 'TABLE',
    help: 'PostgreSQL table (default queue)',
    apply: queueOption('pq-table'),
  },
  {
    long: 'mysql-host',
    value: 'HOST',
    help: 'MySQL/MariaDB host (-q mysql; default localhost)',
    apply: queueOption('mysql-host'),
  },
  {
    long: 'mysql-port',
    value: 'PORT',
    help: 'MySQL port (default 3306)',
    apply: queueOption('mysql-port'),
  },
  { long: 'mysql-user', value: 'USER', help: 'MySQL user', apply: queueOption('mysql-user') },
  {
    long: 'mysql-password',
    value: 'PASSWORD',
    help: 'MySQL password',
    apply: queueOption('mysql-password'),
  },
  { long: 'mysql-db', value: 'DB', help: 'MySQL database', apply: queueOption('mysql-db') },
  {
    long: 'mysql-table',
    value: 'TABLE',
    help: 'MySQL table (default gearman_queue)',
    apply: queueOption('mysql-table'),
  },
  {
    long: 'redis-server',
    value: 'HOST',
    help: 'Redis host (-q redis; default 127.0.0.1)',
    apply: queueOption('redis-server'),
  },
  {
    long: 'redis-port',
    value: 'PORT',
    help: 'Redis port (default 6379)',
    apply: queueOption('redis-port'),
  },
  {
    long: 'redis-password',
    value: 'PASSWORD',
    help: 'Redis password',
    apply: queueOption('redis-password'),
  },
  {
    long: 'redis-prefix',
    value: 'PREFIX',
    help: 'Redis key prefix (default _gear_)',
    apply: queueOption('redis-prefix'),
  },
  {
    long: 'max-packet-size',
    value: 'BYTES',
    help: 'largest packet payload accepted from a peer (default 64M); bigger closes it',
    apply: (d, v, f) => (d.maxPacketSize = byteSize(f, v)),
  },
  {
    long: 'max-output-buffer',
    value: 'BYTES',
    help: 'unsent reply bytes a connection may owe before it is dropped (default 64M; at least --max-packet-size + 64K)',
    apply: (d, v, f) => (d.maxOutputBuffer = byteSize(f, v)),
  },
  {
    long: 'shutdown-timeout',
    value: 'MS',
    help: 'how long a graceful stop waits for running jobs (default 30000)',
    apply: (d, v, f) => (d.shutdownTimeoutMs = integer(f, v, 0, 2 ** 31 - 1)),
  },
  {
    long: 'store-open-timeout',
    value: 'MS',
    help: 'how long the start waits for the job store to open (default 30000)',
    apply: (d, v, f) => (d.storeOpenTimeoutMs = integer(f, v, 1, 2 ** 31 - 1)),
  },
];

const BY_LONG = new Map(FLAGS.map((f) => [f.long, f]));
const BY_SHORT = new Map(FLAGS.flatMap((f) => (f.short ? [[f.short, f] as const] : [])));

/** The `--help` text. */
export function serverHelp(): string {
  const lines = [
    'usage: gearbox server [options]',
    '',
    'Runs the Gearman job server. gearmand command lines work unchanged.',
    '',
    'options:',
  ];
  for (const flag of FLAGS) {
    if (flag.long === 'v') {
      lines.push(`  -v${' '.repeat(33)}${flag.help}`);
      continue;
    }
    const names = `${flag.short ? `-${flag.short}, ` : '    '}--${flag.long}${flag.value ? ` ${flag.value}` : ''}`;
    lines.push(`  ${names.padEnd(34)} ${flag.help}`);
  }
  lines.push(
    '',
    'Without -q or --store, background jobs are kept in SQLite at',
    '$GEARBOX_DATA_DIR/queue.sqlite (else $XDG_STATE_HOME/gearbox/queue.sqlite, else',
    '~/.local/state/gearbox/queue.sqlite); -q builtin keeps them in memory only, as gearmand does.',
    'Signals: SIGTERM or SIGINT stop at once (stored background jobs stay stored);',
    'SIGUSR1 stops gracefully (no new connections, running jobs finish first).',
    'Ignored gearmand flags: -t/--threads, -f/--file-descriptors, --keepalive-interval,',
    '--keepalive-count (Node cannot set them). Refused: -d/--daemon.',
  );
  return lines.join('\n');
}

function newDraft(): Draft {
  const base = defaultServerConfig();
  return {
    ...base,
    listen: [...base.listen],
    keepaliveDraft: { ...base.keepalive },
    queueType: undefined,
    queueOptions: new Map(),
    storeUrl: undefined,
    listenGiven: false,
    verboseSteps: 0,
    verboseNamed: false,
    warnings: [],
    action: 'run',
  };
}

function parse(argv: readonly string[]): Draft {
  const draft = newDraft();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const takeValue = (spec: FlagSpec, shown: string, inline: string | undefined): string => {
      if (inline !== undefined) return inline;
      const next = argv[i + 1];
      if (next === undefined) {
        throw new ConfigError('MISSING_VALUE', `${shown} needs a value (${spec.value ?? ''})`);
      }
      i++;
      return next;
    };
    if (arg.startsWith('--') && arg.length > 2) {
      const eq = arg.indexOf('=');
      const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      const inline = eq === -1 ? undefined : arg.slice(eq + 1);
      const spec = name === 'v' ? undefined : BY_LONG.get(name);
      if (!spec) throw new ConfigError('UNKNOWN_FLAG', `unknown option --${name}`);
      const shown = `--${name}`;
      if (spec.value) spec.apply(draft, takeValue(spec, shown, inline), shown);
      else if (inline !== undefined) {
        throw new ConfigError('BAD_VALUE', `${shown} takes no value`);
      } else spec.apply(draft, '', shown);
      continue;
    }
    if (arg.startsWith('-') && arg.length > 1) {
      // Short flags may be bundled (-Rv, -vvv) and a value may be attached (-p4730).
      for (let k = 1; k < arg.length; k++) {
        const letter = arg[k] as string;
        const spec = BY_SHORT.get(letter);
        if (!spec) throw new ConfigError('UNKNOWN_FLAG', `unknown option -${letter}`);
        const shown = `-${letter}`;
        if (spec.value) {
          const rest = arg.slice(k + 1);
          spec.apply(
            draft,
            takeValue(spec, shown, rest === '' ? undefined : rest.replace(/^=/, '')),
            shown,
          );
          break;
        }
        spec.apply(draft, '', shown);
      }
      continue;
    }
    throw new ConfigError(
      'UNKNOWN_FLAG',
      `unexpected argument '${arg}' (gearbox server takes only options)`,
    );
  }
  return draft;
}

function required(options: Map<string, string>, key: string, flag: string, type: string): string {
  const value = options.get(key);
  if (value === undefined || value === '') {
    throw new ConfigError('MISSING_VALUE', `-q ${type} needs ${flag}`);
  }
  return value;
}

function queueFromFlags(draft: Draft): QueueConfig {
  const o = draft.queueOptions;
  if (draft.queueType === undefined) {
    // No -q: gearmand's libsqlite3 flags alone still mean SQLite; otherwise the durable default.
    const file = o.get('sqlite-db');
    const table = o.get('sqlite-table');
    return { type: 'sqlite', file: file ?? defaultSqlitePath(), ...(table ? { table } : {}) };
  }
  const type = draft.queueType.toLowerCase();
  switch (type) {
    case 'builtin':
    case 'memory':
      return { type: 'builtin' };
    case 'libsqlite3':
    case 'sqlite':
    case 'sqlite3': {
      const table = o.get('sqlite-table');
      return {
        type: 'sqlite',
        file: required(o, 'sqlite-db', '--libsqlite3-db', type),
        ...(table ? { table } : {}),
      };
    }
    case 'libpq':
    case 'postgres':
    case 'postgresql': {
      const table = o.get('pq-table');
      return {
        type: 'postgres',
        conninfo: o.get('pq-conninfo') ?? '',
        ...(table ? { table } : {}),
      };
    }
    case 'mysql':
    case 'mariadb': {
      const table = o.get('mysql-table');
      return {
        type: 'mysql',
        host: o.get('mysql-host') ?? 'localhost',
        port: integer('--mysql-port', o.get('mysql-port') ?? '3306', 1, 65535),
        user: o.get('mysql-user') ?? 'root',
        password: o.get('mysql-password') ?? '',
        database: required(o, 'mysql-db', '--mysql-db', type),
        ...(table ? { table } : {}),
      };
    }
    case 'redis': {
      const password = o.get('redis-password');
      const prefix = o.get('redis-prefix');
      return {
        type: 'redis',
        host: o.get('redis-server') ?? '127.0.0.1',
        port: integer('--redis-port', o.get('redis-port') ?? '6379', 1, 65535),
        ...(password ? { password } : {}),
        ...(prefix ? { prefix } : {}),
      };
    }
    default:
      throw new ConfigError(
        'BAD_VALUE',
        `-q: unknown queue type '${draft.queueType ?? ''}' (builtin, libsqlite3, libpq, mysql, redis)`,
      );
  }
}

/** Turns a `--store` URL into a queue config (the storage layer's parser, errors as ours). */
export function queueFromUrl(url: string): QueueConfig {
  try {
    return parseStoreUrl(url);
  } catch (err) {
    throw new ConfigError('BAD_VALUE', `--store: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Parses `gearbox server`'s arguments (gearmand's flags and ours). Throws a {@link ConfigError}
 * for an unknown flag, a missing or bad value, or a refused flag such as `--daemon`.
 */
export function parseServerArgs(argv: readonly string[]): ParsedServerArgs {
  const draft = parse(argv);
  if (draft.action === 'help') return { action: 'help' };
  if (draft.action === 'version') return { action: 'version' };
  if (draft.storeUrl !== undefined && draft.queueType !== undefined) {
    throw new ConfigError('BAD_VALUE', 'give either -q/--queue-type or --store, not both');
  }
  const queue = draft.storeUrl !== undefined ? queueFromUrl(draft.storeUrl) : queueFromFlags(draft);
  let verbose = draft.verbose;
  if (draft.verboseSteps > 0) {
    const base = draft.verboseNamed
      ? LOG_LEVELS.indexOf(draft.verbose)
      : LOG_LEVELS.indexOf('ERROR');
    verbose = LOG_LEVELS[Math.min(LOG_LEVELS.length - 1, base + draft.verboseSteps)] ?? 'DEBUG';
  }
  if (draft.threads > 1)
    draft.warnings.push('-t/--threads is ignored: Gearbox uses one event loop');
  if (draft.storeQueueOnShutdown) {
    draft.warnings.push(
      '--store-queue-on-shutdown is ignored: background jobs are stored as they are submitted',
    );
  }
  const config: ServerConfig = {
    listen: draft.listen,
    port: draft.port,
    backlog: draft.backlog,
    jobRetries: draft.jobRetries,
    roundRobin: draft.roundRobin,
    workerWakeup: draft.workerWakeup,
    failOnTimeout: draft.failOnTimeout,
    jobHandlePrefix: draft.jobHandlePrefix,
    exceptions: draft.exceptions,
    logFile: draft.logFile,
    verbose,
    pidFile: draft.pidFile,
    user: draft.user,
    keepalive: { ...draft.keepaliveDraft },
    threads: draft.threads,
    queue,
    storeQueueOnShutdown: draft.storeQueueOnShutdown,
    maxPacketSize: draft.maxPacketSize,
    maxLineLength: draft.maxLineLength,
    maxOutputBuffer: draft.maxOutputBuffer,
    shutdownTimeoutMs: draft.shutdownTimeoutMs,
    storeOpenTimeoutMs: draft.storeOpenTimeoutMs,
  };
  return { action: 'run', config, warnings: draft.warnings };
}
