/**
 * The server as a library call: `startServer(config)` opens the job store, replays its jobs
 * into a fresh core, binds the listeners and returns a handle to stop it.
 */
import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { AdminReply } from '../protocol/admin.js';
import { ServerCore } from './core/server-core.js';
import { ConfigError, defaultServerConfig, type ServerConfig } from './config.js';
import { GearboxError } from '../protocol/errors.js';
import type { ServerClock } from './core/effects.js';
import { NetServer } from './net/net-server.js';
import { TcpListener, type Listener } from './net/listener.js';
import { Logger } from './net/logger.js';
import type { JobStore } from '../storage/job-store.js';
import type { QueueConfig } from '../sql/store-url.js';
import { createStore } from '../storage/create-store.js';
import { GearboxServerView, type ServerView } from './view/server-view.js';
import { canCount, ReplayMeter, type ReplayProgress } from './replay-progress.js';

/** A running Gearbox job server. */
export interface GearboxServer {
  /** The bound addresses (one per `-L`), with the actual port when 0 was asked for. */
  readonly addresses: AddressInfo[];
  /** The port of the first address. */
  readonly port: number;
  /** What observers read (metrics, dashboard, API): functions, workers, jobs, counters. */
  readonly view: ServerView;
  /** What the store is, e.g. `sqlite:/var/lib/gearbox/queue.sqlite`, or `builtin`. */
  readonly storeDescription: string;
  /**
   * Cancels a job by handle, as admin `cancel job` does: its clients get WORK_FAIL, its row is
   * deleted, and it never runs (a running one's result goes nowhere). False for a handle that
   * names no live job.
   */
  cancelJob(handle: string): boolean;
  /** Resolves once the server has stopped (by `close()`, admin `shutdown`, …). */
  readonly closed: Promise<void>;
  /**
   * Stops it: closes the listeners; `graceful` waits up to `timeoutMs` (default: the config's
   * `shutdownTimeoutMs`) for running jobs; then closes connections and flushes the store.
   */
  close(options?: { graceful?: boolean; timeoutMs?: number }): Promise<void>;
}

/** Extra parts a caller may supply instead of the ones built from the config. */
export interface StartServerOptions {
  /**
   * Called about every two seconds while a replay at start takes more than one, and once when
   * it is over (`gearbox server` prints these on stderr; the log has the total at NOTICE).
   */
  readonly onReplayProgress?: (progress: ReplayProgress) => void;
  /** Where log lines go; default a {@link Logger} built from `logFile` and `verbose`. */
  readonly logger?: Logger;
  /**
   * A job store to use instead of the one `config.queue` names (embedding, tests). It is
   * opened, replayed and closed by the server like a configured one.
   */
  readonly store?: JobStore;
  /** The clock of the core and of its timers in the I/O shell (default: the system's). */
  readonly clock?: ServerClock;
  /**
   * Where peers come from, instead of the TCP listener that `config.listen` and `config.port`
   * describe (embedding: another kind of listener; tests: streams handed in process).
   */
  readonly listeners?: readonly Listener[];
}

/** Gearbox's version, from package.json when it can be found next to the build. */
export function gearboxVersion(): string {
  let dir = new URL('.', import.meta.url);
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'gearbox' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not here; look one folder up
    }
    dir = new URL('..', dir);
  }
  return '0.0.0';
}

/** The configured store, not yet opened; `builtin` means none (jobs live in memory only). */
function configuredStore(queue: QueueConfig, logger: Logger): Promise<JobStore | undefined> {
  return createStore(queue, (level, message) => logger.log(level, `store: ${message}`));
}

/**
 * Starts a job server. `config` fields not given take `defaultServerConfig()`'s values
 * (127.0.0.1:4730, `builtin` queue: a library caller chooses its store explicitly, while the
 * `gearbox server` command defaults to SQLite). Rejects with a `ConfigError`, a `NetError`
 * (cannot listen), a `ServerStartError` (the store did not open in time) or a `StoreError`
 * (cannot open or replay the store).
 */
export async function startServer(
  config: Partial<ServerConfig> = {},
  options: StartServerOptions = {},
): Promise<GearboxServer> {
  const full: ServerConfig = { ...defaultServerConfig(), ...config };
  const ownLogger = options.logger === undefined;
  const logger = options.logger ?? openLogger(full);
  let store: JobStore | undefined;
  let net: NetServer | undefined;
  const clock: ServerClock = options.clock ?? { now: () => Date.now() };
  try {
    store = options.store ?? (await configuredStore(full.queue, logger));
    const core = new ServerCore(
      {
        handlePrefix: full.jobHandlePrefix,
        jobRetries: full.jobRetries,
        roundRobin: full.roundRobin,
        wakeWorkers: full.workerWakeup,
        failOnTimeout: full.failOnTimeout,
        exceptions: full.exceptions,
        durable: store !== undefined,
        version: `1.1.20+gearbox-${gearboxVersion()}`,
        pid: process.pid,
        verbose: full.verbose,
      },
      clock,
      // Generated store keys carry this, so they differ from the keys of earlier runs.
      () => randomInt(2 ** 40).toString(36),
    );
    if (store) {
      logger.log('INFO', `opening ${store.description}`);
      await openWithin(store, full.storeOpenTimeoutMs);
      const meter =
        options.onReplayProgress && (await replayMeter(store, options.onReplayProgress));
      let replayed = 0;
      for await (const job of store.replay()) {
        core.restore(job);
        replayed++;
        meter?.tick();
      }
      meter?.finish();
      logger.log('NOTICE', `${store.description}: replayed ${replayed} job(s)`);
    }
    net = new NetServer(
      core,
      store,
      logger,
      {
        limits: { maxPacketSize: full.maxPacketSize, maxLineLength: full.maxLineLength },
        maxOutputBuffer: full.maxOutputBuffer,
        shutdownTimeoutMs: full.shutdownTimeoutMs,
      },
      clock,
    );
    await net.listen(
      ...(options.listeners ?? [
        new TcpListener({
          hosts: full.listen,
          port: full.port,
          backlog: full.backlog,
          keepalive: full.keepalive,
        }),
      ]),
    );
    if (full.user !== undefined) switchUser(full.user);
    logger.log('NOTICE', `Starting up with pid ${process.pid}, verbose is set to ${full.verbose}`);
    const running = net;
    const closed = ownLogger ? net.closed.then(() => logger.close()) : net.closed;
    const addresses = net.addresses;
    const storeDescription = store?.description ?? 'builtin';
    return {
      addresses,
      port: addresses[0]?.port ?? full.port,
      view: new GearboxServerView(core.view, storeDescription, net, store),
      storeDescription,
      cancelJob: (handle) => {
        let reply: Buffer | undefined;
        running.drive(() => {
          const answer = core.adminCommand(`cancel job ${handle}`);
          reply = answer.reply;
          return answer.effects;
        });
        return reply?.equals(AdminReply.ok()) === true;
      },
      closed,
      close: async (opts = {}) => {
        await running.close(opts);
        await closed;
      },
    };
  } catch (err) {
    if (net) await net.close();
    else if (store) await closeWithin(store, 5000, logger);
    if (ownLogger) await logger.close();
    throw err;
  }
}

/** A meter for the replay, with the store's row count when it can give one. */
async function replayMeter(
  store: JobStore,
  report: (progress: ReplayProgress) => void,
): Promise<ReplayMeter> {
  // Only for the time left: a count that fails must not stop the start.
  const total = canCount(store) ? await store.countJobs().catch(() => undefined) : undefined;
  return new ReplayMeter(report, store.description, total);
}

/** Codes for a start that could not complete. */
export type ServerStartErrorCode = 'STORE_OPEN_TIMEOUT';

/** The server could not start (beyond bad flags and busy ports). */
export class ServerStartError extends GearboxError<ServerStartErrorCode> {}

/** Opens the store, giving up (and closing it) after `timeoutMs`: a start must not hang. */
async function openWithin(store: JobStore, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new ServerStartError(
            'STORE_OPEN_TIMEOUT',
            `${store.description}: not open after ${timeoutMs} ms (see --store-open-timeout)`,
          ),
        ),
      timeoutMs,
    );
  });
  try {
    await Promise.race([store.open(), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

/** Closes a store that failed to start, without letting a stuck close hang the start. */
async function closeWithin(store: JobStore, timeoutMs: number, logger: Logger): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    store.close().catch((err: unknown) => {
      logger.log('ERROR', `store: close failed: ${(err as Error).message}`);
    }),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs))),
  ]);
  clearTimeout(timer);
}

function openLogger(config: ServerConfig): Logger {
  try {
    return new Logger(config.logFile, config.verbose);
  } catch (err) {
    throw new ConfigError(
      'BAD_VALUE',
      `--log-file ${config.logFile}: cannot open: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

function switchUser(user: string): void {
  if (typeof process.setuid !== 'function' || typeof process.getuid !== 'function') {
    throw new ConfigError('UNSUPPORTED', `-u ${user}: this platform cannot switch users`);
  }
  if (process.getuid() !== 0) {
    throw new ConfigError('UNSUPPORTED', `-u ${user}: only root can switch users`);
  }
  try {
    // The user's primary group, from /etc/passwd, so files are not created as group root.
    const entry = readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .map((line) => line.split(':'))
      .find((fields) => fields[0] === user);
    const gid = entry?.[3] === undefined ? undefined : Number(entry[3]);
    if (gid !== undefined && process.setgid && process.setgroups) {
      process.setgroups([gid]);
      process.setgid(gid);
    }
    process.setuid(user);
  } catch (err) {
    throw new ConfigError('BAD_VALUE', `-u ${user}: ${(err as Error).message}`, { cause: err });
  }
}
