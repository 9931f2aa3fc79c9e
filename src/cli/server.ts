/**
 * `gearbox server`: argv → config → startServer. Accepts gearmand's flags (server-flags.ts); a
 * bad command line prints one clear line and exits with 2. What it says at start goes to stderr
 * whatever the log level (unless `-l none`): the replay's progress when it takes more than a
 * second, then where it listens and where the jobs are kept.
 */
import { ConfigError } from '../server/config.js';
import { describeReplayProgress } from '../server/replay-progress.js';
import { gearboxVersion, startServer, type GearboxServer } from '../server/start-server.js';
import { errorMessage, GearboxError } from '../protocol/errors.js';
import { DriverMissingError } from '../sql/store-drivers.js';
import { driverMissingMessage } from './queue-flags.js';
import { PidFile, PidFileError } from './pid-file.js';
import { parseServerArgs, serverHelp } from './server-flags.js';

const STOP_SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/**
 * Runs the server until a signal or an admin `shutdown` stops it; resolves to the exit status.
 * A bad command line throws a `UsageError`, which `main` prints.
 */
export async function run(argv: string[]): Promise<number> {
  const parsed = parseServerArgs(argv);
  if (parsed.action === 'help') {
    console.log(serverHelp());
    return 0;
  }
  if (parsed.action === 'version') {
    console.log(`gearbox ${gearboxVersion()}`);
    return 0;
  }
  const { config, warnings } = parsed;
  const say = (line: string): void => {
    if (config.logFile !== 'none') console.error(`gearbox server: ${line}`);
  };
  for (const warning of warnings) console.error(`gearbox server: ${warning}`);
  let pidFile: PidFile | undefined;
  try {
    pidFile = config.pidFile === undefined ? undefined : PidFile.check(config.pidFile);
  } catch (err) {
    if (!(err instanceof PidFileError)) throw err;
    console.error(`gearbox server: ${err.message}`);
    return 1;
  }
  if (pidFile?.stalePid !== undefined)
    say(`replacing ${pidFile.path}: process ${pidFile.stalePid} is gone`);

  // Signals are handled from the start: one that arrives while the store opens stops the
  // server as soon as it is up, instead of killing the process half-way.
  let server: GearboxServer | undefined;
  let requested: { graceful: boolean } | undefined;
  let signals = 0;
  const stop = (graceful: boolean): void => {
    requested ??= { graceful };
    if (server) void server.close(requested);
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) {
      // A second signal means "now": do not wait for peers or the store any longer.
      pidFile?.remove();
      process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
    }
    stop(false);
  };
  const onGraceful = (): void => stop(true);
  const removeHandlers = (): void => {
    for (const signal of STOP_SIGNALS) process.off(signal, onSignal);
    process.off('SIGUSR1', onGraceful);
  };
  for (const signal of STOP_SIGNALS) process.on(signal, onSignal);
  process.on('SIGUSR1', onGraceful);

  try {
    server = await startServer(config, {
      onReplayProgress: (progress) => say(describeReplayProgress(progress)),
    });
  } catch (err) {
    removeHandlers();
    const message =
      err instanceof DriverMissingError
        ? driverMissingMessage(err, parsed.storeFlag)
        : errorMessage(err);
    console.error(`gearbox server: ${message}`);
    const status = err instanceof ConfigError ? 2 : err instanceof GearboxError ? 1 : 70;
    exitSoon(status);
    return status;
  }
  if (pidFile !== undefined) {
    try {
      pidFile.write();
    } catch (err) {
      if (!(err instanceof PidFileError)) throw err;
      console.error(`gearbox server: ${err.message}`);
      removeHandlers();
      await server.close();
      exitSoon(1);
      return 1;
    }
  }
  if (config.logFile !== 'none') {
    // One line at start whatever the log level, so that where the jobs are kept is never a guess.
    const where = server.addresses.map(
      (a) => `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`,
    );
    console.error(
      `gearbox server ${gearboxVersion()}: listening on ${where.join(', ')}; jobs kept in ${server.storeDescription === 'builtin' ? 'memory only (-q builtin)' : server.storeDescription}`,
    );
  }
  if (requested) void server.close(requested);

  await server.closed;

  removeHandlers();
  pidFile?.remove();
  exitSoon(0);
  return 0;
}

/** Safety net: a store driver that keeps a handle open must not keep a stopped server alive. */
function exitSoon(status: number): void {
  setTimeout(() => process.exit(status), 2000).unref();
}
