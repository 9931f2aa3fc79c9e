/**
 * `gearbox server`: argv → config → startServer. Accepts gearmand's flags; a bad command line
 * prints one clear line and exits with 2.
 */
import { unlinkSync, writeFileSync } from 'node:fs';
import { ConfigError, parseServerArgs, serverHelp } from '../server/config.js';
import { gearboxVersion, startServer, type GearboxServer } from '../server/start-server.js';
import { GearboxError } from '../protocol/errors.js';

const STOP_SIGNALS = ['SIGTERM', 'SIGINT'] as const;

function removePidFile(path: string | undefined): void {
  if (path === undefined) return;
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

/** Runs the server until a signal or an admin `shutdown` stops it; resolves to the exit status. */
export async function run(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseServerArgs>;
  try {
    parsed = parseServerArgs(argv);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`gearbox server: ${err.message}\nRun 'gearbox server --help' for the options.`);
      return 2;
    }
    throw err;
  }
  if (parsed.action === 'help') {
    console.log(serverHelp());
    return 0;
  }
  if (parsed.action === 'version') {
    console.log(`gearbox ${gearboxVersion()}`);
    return 0;
  }
  const { config, warnings } = parsed;
  for (const warning of warnings) console.error(`gearbox server: ${warning}`);

  let server: GearboxServer;
  try {
    server = await startServer(config);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    console.error(`gearbox server: ${message}`);
    const status = err instanceof ConfigError ? 2 : err instanceof GearboxError ? 1 : 70;
    exitSoon(status);
    return status;
  }
  if (config.pidFile !== undefined) {
    try {
      writeFileSync(config.pidFile, `${process.pid}\n`);
    } catch (err) {
      console.error(`gearbox server: cannot write pid file: ${(err as Error).message}`);
      await server.close();
      return 1;
    }
  }

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) {
      // A second signal means "now": do not wait for peers or the store any longer.
      removePidFile(config.pidFile);
      process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
    }
    void server.close({ graceful: false });
  };
  const onGraceful = (): void => void server.close({ graceful: true });
  for (const signal of STOP_SIGNALS) process.on(signal, onSignal);
  process.on('SIGUSR1', onGraceful);

  await server.closed;

  for (const signal of STOP_SIGNALS) process.off(signal, onSignal);
  process.off('SIGUSR1', onGraceful);
  removePidFile(config.pidFile);
  exitSoon(0);
  return 0;
}

/** Safety net: a store driver that keeps a handle open must not keep a stopped server alive. */
function exitSoon(status: number): void {
  setTimeout(() => process.exit(status), 2000).unref();
}
