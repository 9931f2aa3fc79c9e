/**
 * Starting and stopping the servers tests talk to: `gearbox server` (the compiled CLI) and
 * Debian's `gearmand`, each on a free loopback port, each stopped by its PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { tools } from './services.js';

/** The compiled CLI entry point, next to this compiled helper (works for any outDir). */
export const gearboxMain = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** Asks the kernel for a free loopback port. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Resolves once something accepts TCP connections on the port, or rejects after `timeoutMs`. */
export async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; Date.now() < deadline && attempt < 1000; attempt++) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
}

/** What a finished process produced. */
export interface ProcessResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Options of {@link runToEnd}. */
export interface RunOptions {
  readonly cwd?: string;
  /** The whole environment of the process (default: this process's). */
  readonly env?: NodeJS.ProcessEnv;
  /** Killed (by PID) after this long; default 15 s. */
  readonly timeoutMs?: number;
}

/** Runs `file args` to completion and collects its output; kills it (by PID) after the timeout. */
export async function runToEnd(
  file: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<ProcessResult> {
  const child = spawn(file, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: options.cwd,
    env: options.env ?? process.env,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => {
    if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
  }, options.timeoutMs ?? 15_000);
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  clearTimeout(timer);
  return { code, signal, stdout, stderr };
}

/** A server process started for a test. */
export interface RunningServer {
  readonly port: number;
  readonly process: ChildProcess;
  /** Everything the process wrote to stderr so far. */
  stderr(): string;
  /** Stops it by its PID (SIGTERM, then SIGKILL after 5 s) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Follows a started child: its stderr, and a stop by PID. */
export function track(child: ChildProcess, port: number): RunningServer {
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  return {
    port,
    process: child,
    stderr: () => err,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        process.kill(child.pid, signal);
        const timer = setTimeout(() => {
          if (child.pid !== undefined && child.exitCode === null)
            process.kill(child.pid, 'SIGKILL');
        }, 5000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}

export async function startProcess(
  file: string,
  args: string[],
  port: number,
  env: NodeJS.ProcessEnv = {},
): Promise<RunningServer> {
  const child = spawn(file, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  const server = track(child, port);
  try {
    await Promise.race([
      waitForPort(port),
      once(child, 'exit').then(([code]) => {
        throw new Error(`${file} exited with ${String(code)}: ${server.stderr()}`);
      }),
    ]);
  } catch (err) {
    await server.stop('SIGKILL');
    throw err;
  }
  return server;
}

/** Starts `gearbox server` on a free port; `args` are extra server flags. */
export async function startGearbox(args: string[] = []): Promise<RunningServer> {
  const port = await freePort();
  // Without queue flags the server keeps jobs in SQLite under GEARBOX_DATA_DIR: one folder per
  // server, so test servers never replay each other's jobs.
  const dataDir = mkdtempSync(join(tmpdir(), 'gearbox-data-'));
  const server = await startProcess(
    process.execPath,
    [gearboxMain, 'server', '-L', '127.0.0.1', '-p', String(port), ...args],
    port,
    { GEARBOX_DATA_DIR: dataDir },
  ).catch((err: unknown) => {
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  });
  server.process.once('exit', () => rmSync(dataDir, { recursive: true, force: true }));
  return server;
}

/** Starts Debian's gearmand on a free port; `args` are extra gearmand flags. */
export async function startGearmand(args: string[] = []): Promise<RunningServer> {
  return startGearmandAt(await freePort(), args);
}

/** Starts Debian's gearmand on the given port (to restart one where clients expect it). */
export function startGearmandAt(port: number, args: string[] = []): Promise<RunningServer> {
  return startProcess(
    tools.gearmand,
    ['-L', '127.0.0.1', '-p', String(port), '-l', 'stderr', ...args],
    port,
  );
}
