/**
 * Running the compiled `gearbox` CLI (`node dist/src/cli/main.js …`) in a child process: to
 * completion (for `--help`, bad flags) or as a server on a free port, stopped by its PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  freePort,
  gearboxMain,
  runToEnd,
  waitForPort,
  type ProcessResult,
  type RunningServer,
} from './processes.js';

/** Spawns `gearbox <args>`; `env` is added to this process's environment. */
export function spawnGearbox(args: readonly string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  // No node flags here: worker threads the server starts inherit them.
  return spawn(process.execPath, [gearboxMain, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
}

/** What a finished CLI run produced. */
export type CliResult = ProcessResult;

/** Runs `gearbox <args>` to completion; kills it (by PID) after `timeoutMs`. */
export function runGearbox(args: readonly string[], timeoutMs = 15_000): Promise<CliResult> {
  return runToEnd(process.execPath, [gearboxMain, ...args], { timeoutMs });
}

/** A `gearbox server` child with its exit awaited. */
export interface GearboxProcess extends RunningServer {
  /** Resolves with the exit code and signal once the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stdout(): string;
}

/**
 * Starts `gearbox server -L 127.0.0.1 -p <free port> <args>` and waits until it accepts
 * connections. Each server gets its own GEARBOX_DATA_DIR (removed when it stops), so the
 * default SQLite queue of one test never leaks jobs into another.
 */
export async function startGearboxServer(args: readonly string[] = []): Promise<GearboxProcess> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'gearbox-data-'));
  const child = spawnGearbox(['server', '-L', '127.0.0.1', '-p', String(port), ...args], {
    GEARBOX_DATA_DIR: dataDir,
  });
  child.once('exit', () => rmSync(dataDir, { recursive: true, force: true }));
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const server: GearboxProcess = {
    port,
    process: child,
    exited,
    stdout: () => stdout,
    stderr: () => stderr,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
      process.kill(child.pid, signal);
      const timer = setTimeout(() => {
        if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
      }, 5000);
      await exited;
      clearTimeout(timer);
    },
  };
  try {
    await Promise.race([
      waitForPort(port),
      exited.then(({ code }) => {
        throw new Error(`gearbox server exited with ${String(code)}: ${stderr}`);
      }),
    ]);
  } catch (err) {
    await server.stop('SIGKILL');
    throw err;
  }
  return server;
}
