/**
 * `gearbox server`'s command line: gearmand's own flags (long and short forms, `--flag value`,
 * `--flag=value`, bundled `-Rv`, attached `-p4730`), so an existing gearmand command line keeps
 * working, plus a few of ours (`--store URL`, `--max-packet-size`, `--max-output-buffer`, …),
 * turned into the library's plain {@link ServerConfig}.
 */
import { LOG_LEVELS, type LogLevel } from '../server/core/effects.js';
import { defaultServerConfig, type KeepaliveConfig, type ServerConfig } from '../server/config.js';
import { formatHelp, inSection, parseOptions, type OptionSpec } from './options.js';
import { byteSize, formatSize, wholeNumber } from './option-values.js';
import { QUEUE_FLAGS, queueFromFlags, storeFlag } from './queue-flags.js';
import { UsageError } from './usage-error.js';

/** What a command line asks for: run with a config, or print help / the version. */
export type ParsedServerArgs =
  | {
      readonly action: 'run';
      readonly config: ServerConfig;
      readonly warnings: string[];
      /** The flag that chose the store (see `storeFlag`), for messages about it. */
      readonly storeFlag: string | undefined;
    }
  | { readonly action: 'help' }
  | { readonly action: 'version' };

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/* What the flags write into while parsing. */
interface Draft {
  config: Mutable<Omit<ServerConfig, 'listen' | 'keepalive' | 'queue'>>;
  listen: string[];
  listenGiven: boolean;
  keepalive: Mutable<KeepaliveConfig>;
  queue: { queueType?: string; storeUrl?: string; options: Map<string, string> };
  verboseSteps: number;
  verboseNamed: boolean;
  action: 'run' | 'help' | 'version';
}

interface FlagSpec extends OptionSpec {
  /** Writes the flag's value into the draft; `shown` is the flag as written, for messages. */
  readonly apply: (draft: Draft, value: string, shown: string) => void;
}

const INT_MAX = 2 ** 31 - 1;
const DEFAULTS = defaultServerConfig();

function logLevel(shown: string, value: string): LogLevel {
  const upper = value.trim().toUpperCase();
  const level = LOG_LEVELS.find((l) => l === upper);
  if (!level)
    throw new UsageError(
      'BAD_VALUE',
      `${shown}: '${value}' is not one of ${LOG_LEVELS.join(', ')}`,
    );
  return level;
}

function nonEmpty(what: string): (shown: string, value: string) => string {
  return (shown, value) => {
    if (value === '') throw new UsageError('BAD_VALUE', `${shown}: empty ${what}`);
    return value;
  };
}
const fileName = nonEmpty('file name');

/** The store flags keep their value by name until `-q` says which backend they are for. */
function queueFlag(spec: OptionSpec): FlagSpec {
  const apply: FlagSpec['apply'] =
    spec.name === 'queue-type'
      ? (d, v) => (d.queue.queueType = v)
      : spec.name === 'store'
        ? (d, v) => (d.queue.storeUrl = v)
        : spec.name === 'store-queue-on-shutdown'
          ? (d) => (d.config.storeQueueOnShutdown = true)
          : (d, v) => void d.queue.options.set(spec.name, v);
  return { ...spec, apply };
}

const HELP_FLAGS: readonly FlagSpec[] = [
  { name: 'help', short: 'h', help: 'print this help and exit', apply: (d) => (d.action = 'help') },
  {
    name: 'version',
    short: 'V',
    help: 'print the version and exit',
    apply: (d) => (d.action = 'version'),
  },
];

const LISTEN_FLAGS = inSection<FlagSpec>('listening', [
  {
    name: 'listen',
    short: 'L',
    value: 'ADDRESS',
    repeat: 'list',
    help: 'address to listen on; 0.0.0.0 or :: = every interface',
    default: DEFAULTS.listen.join(', '),
    apply: (d, v, f) => {
      if (!d.listenGiven) d.listen = [];
      d.listenGiven = true;
      if (v.trim() === '') throw new UsageError('BAD_VALUE', `${f}: empty address`);
      d.listen.push(v.trim());
    },
  },
  {
    name: 'port',
    short: 'p',
    value: 'PORT',
    help: 'TCP port',
    default: String(DEFAULTS.port),
    apply: (d, v, f) => (d.config.port = wholeNumber(f, v, 0, 65535)),
  },
  {
    name: 'backlog',
    short: 'b',
    value: 'N',
    help: 'listen backlog, capped by net.core.somaxconn (gearmand: 32)',
    default: String(DEFAULTS.backlog),
    apply: (d, v, f) => (d.config.backlog = wholeNumber(f, v, 1, 65535)),
  },
  {
    name: 'keepalive',
    help: 'turn TCP keepalive on for accepted connections',
    apply: (d) => (d.keepalive.enabled = true),
  },
  {
    name: 'keepalive-idle',
    value: 'SECONDS',
    help: 'idle time before the first keepalive probe; -1 = the system default',
    default: String(DEFAULTS.keepalive.idle),
    apply: (d, v, f) => (d.keepalive.idle = wholeNumber(f, v, -1, INT_MAX)),
  },
  {
    name: 'keepalive-interval',
    value: 'SECONDS',
    help: 'accepted for gearmand compatibility; Node uses the system interval',
    apply: (d, v, f) => (d.keepalive.interval = wholeNumber(f, v, -1, INT_MAX)),
  },
  {
    name: 'keepalive-count',
    value: 'N',
    help: 'accepted for gearmand compatibility; Node uses the system probe count',
    apply: (d, v, f) => (d.keepalive.count = wholeNumber(f, v, -1, INT_MAX)),
  },
]);

const JOB_FLAGS = inSection<FlagSpec>('jobs', [
  {
    name: 'job-retries',
    short: 'j',
    value: 'N',
    help: 'attempts before a job is dropped with WORK_FAIL; 0 = no limit',
    default: String(DEFAULTS.jobRetries),
    apply: (d, v, f) => (d.config.jobRetries = wholeNumber(f, v, 0, INT_MAX)),
  },
  {
    name: 'round-robin',
    short: 'R',
    help: "rotate a worker's functions after each job it is given",
    apply: (d) => (d.config.roundRobin = true),
  },
  {
    name: 'worker-wakeup',
    short: 'w',
    value: 'N',
    help: 'sleeping workers woken per new job, N more every 100 ms while it waits; 0 = all',
    default: String(DEFAULTS.workerWakeup),
    apply: (d, v, f) => (d.config.workerWakeup = wholeNumber(f, v, 0, INT_MAX)),
  },
  {
    name: 'fail-on-timeout',
    help: 'end a job whose CAN_DO_TIMEOUT expires with WORK_FAIL instead of requeueing it (as gearmand does)',
    apply: (d) => (d.config.failOnTimeout = true),
  },
  {
    name: 'job-handle-prefix',
    value: 'PREFIX',
    help: 'job handles are PREFIX:<n>',
    default: DEFAULTS.jobHandlePrefix,
    apply: (d, v, f) => {
      if (v.length === 0 || v.length > 40 || /[\0\s]/.test(v))
        throw new UsageError('BAD_VALUE', `${f}: needs 1-40 characters without spaces`);
      d.config.jobHandlePrefix = v;
    },
  },
  {
    name: 'exceptions',
    help: 'forward WORK_EXCEPTION to every client, as if each had sent OPTION_REQ exceptions',
    apply: (d) => (d.config.exceptions = true),
  },
]);

const PROCESS_FLAGS = inSection<FlagSpec>('logging and process', [
  {
    name: 'log-file',
    short: 'l',
    value: 'FILE',
    help: "log destination: 'stderr', 'none', or a file to append to",
    default: DEFAULTS.logFile,
    apply: (d, v, f) => (d.config.logFile = fileName(f, v)),
  },
  {
    name: 'verbose',
    value: 'LEVEL',
    help: `log level: ${LOG_LEVELS.join(', ')}`,
    default: DEFAULTS.verbose,
    apply: (d, v, f) => {
      d.config.verbose = logLevel(f, v);
      d.verboseNamed = true;
    },
  },
  {
    name: 'v',
    short: 'v',
    shortOnly: true,
    repeat: 'list',
    help: 'one level more verbose than ERROR per -v (-v WARNING … -vvvv DEBUG)',
    apply: (d) => (d.verboseSteps += 1),
  },
  {
    name: 'pid-file',
    short: 'P',
    value: 'FILE',
    help: 'write the process id to FILE (removed at exit)',
    default: 'none',
    apply: (d, v, f) => (d.config.pidFile = fileName(f, v)),
  },
  {
    name: 'user',
    short: 'u',
    value: 'USER',
    help: 'switch to USER after the listeners are bound (needs root)',
    default: 'none',
    apply: (d, v, f) => (d.config.user = nonEmpty('user name')(f, v)),
  },
  {
    name: 'daemon',
    short: 'd',
    help: 'refused: run Gearbox under a service manager (systemd, runit, docker) instead',
    apply: (_d, _v, f) => {
      throw new UsageError(
        'UNSUPPORTED',
        `${f}: gearbox server does not detach; run it under systemd, runit or docker`,
      );
    },
  },
  {
    name: 'threads',
    short: 't',
    value: 'N',
    help: 'accepted for compatibility and ignored: Gearbox runs on one event loop',
    apply: (d, v, f) => (d.config.threads = wholeNumber(f, v, 0, 1024)),
  },
  {
    name: 'file-descriptors',
    short: 'f',
    value: 'N',
    help: 'accepted for compatibility and ignored (set the limit with ulimit -n)',
    apply: (_d, v, f) => void wholeNumber(f, v, 0, INT_MAX),
  },
]);

const LIMIT_FLAGS = inSection<FlagSpec>('limits', [
  {
    name: 'store-open-timeout',
    value: 'MS',
    help: 'how long the start waits for the job store to open',
    default: String(DEFAULTS.storeOpenTimeoutMs),
    apply: (d, v, f) => (d.config.storeOpenTimeoutMs = wholeNumber(f, v, 1, INT_MAX)),
  },
  {
    name: 'max-packet-size',
    value: 'BYTES',
    help: 'largest packet payload accepted from a peer; a bigger one closes its connection',
    default: formatSize(DEFAULTS.maxPacketSize),
    apply: (d, v, f) => (d.config.maxPacketSize = byteSize(f, v)),
  },
  {
    name: 'max-output-buffer',
    value: 'BYTES',
    help: 'unsent reply bytes a connection may owe before it is dropped; at least --max-packet-size + 64K',
    default: formatSize(DEFAULTS.maxOutputBuffer),
    apply: (d, v, f) => (d.config.maxOutputBuffer = byteSize(f, v)),
  },
  {
    name: 'shutdown-timeout',
    value: 'MS',
    help: 'how long a graceful stop waits for running jobs',
    default: String(DEFAULTS.shutdownTimeoutMs),
    apply: (d, v, f) => (d.config.shutdownTimeoutMs = wholeNumber(f, v, 0, INT_MAX)),
  },
]);

/** Every flag, in the order `--help` lists them. */
export const SERVER_FLAGS: readonly FlagSpec[] = [
  ...HELP_FLAGS,
  ...LISTEN_FLAGS,
  ...JOB_FLAGS,
  ...PROCESS_FLAGS,
  ...QUEUE_FLAGS.map(queueFlag),
  ...LIMIT_FLAGS,
];

/** The `--help` text. */
export function serverHelp(): string {
  return formatHelp(
    {
      usage: 'usage: gearbox server [options]',
      about: 'Runs the Gearman job server. gearmand command lines work unchanged.',
      notes: [
        'Without -q or --store, background jobs are kept in SQLite at ' +
          '$GEARBOX_DATA_DIR/queue.sqlite (else $XDG_STATE_HOME/gearbox/queue.sqlite, else ' +
          '~/.local/state/gearbox/queue.sqlite); -q builtin keeps them in memory only, as gearmand does.',
        'Signals: SIGTERM or SIGINT stop at once (stored background jobs stay stored); ' +
          'SIGUSR1 stops gracefully (no new connections, running jobs finish first).',
        'Ignored gearmand flags: -t/--threads, -f/--file-descriptors, --keepalive-interval, ' +
          '--keepalive-count (Node cannot set them). Refused: -d/--daemon.',
      ],
    },
    SERVER_FLAGS,
  );
}

function newDraft(): Draft {
  const { listen, keepalive, queue: _queue, ...config } = defaultServerConfig();
  return {
    config,
    listen: [...listen],
    listenGiven: false,
    keepalive: { ...keepalive },
    queue: { options: new Map() },
    verboseSteps: 0,
    verboseNamed: false,
    action: 'run',
  };
}

/**
 * Parses `gearbox server`'s arguments (gearmand's flags and ours). Throws a {@link UsageError}
 * for an unknown flag, a missing or bad value, or a refused flag such as `--daemon`.
 */
export function parseServerArgs(argv: readonly string[]): ParsedServerArgs {
  const draft = newDraft();
  // In command-line order, so that the first bad flag is the one reported, as getopt does.
  for (const { spec, value, shown } of parseOptions('server', SERVER_FLAGS, argv).occurrences)
    (spec as FlagSpec).apply(draft, value, shown);
  if (draft.action !== 'run') return { action: draft.action };
  const queue = queueFromFlags(draft.queue);
  let verbose = draft.config.verbose;
  if (draft.verboseSteps > 0) {
    const base = LOG_LEVELS.indexOf(draft.verboseNamed ? verbose : 'ERROR');
    verbose = LOG_LEVELS[Math.min(LOG_LEVELS.length - 1, base + draft.verboseSteps)] ?? 'DEBUG';
  }
  const warnings: string[] = [];
  if (draft.config.threads > 1)
    warnings.push('-t/--threads is ignored: Gearbox uses one event loop');
  if (draft.config.storeQueueOnShutdown)
    warnings.push(
      '--store-queue-on-shutdown is ignored: background jobs are stored as they are submitted',
    );
  const config: ServerConfig = {
    ...draft.config,
    listen: draft.listen,
    keepalive: { ...draft.keepalive },
    verbose,
    queue,
  };
  return { action: 'run', config, warnings, storeFlag: storeFlag(draft.queue) };
}
