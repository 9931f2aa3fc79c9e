/**
 * Shared parts of the interop tests: the two servers every scenario runs against (ours and
 * Debian's gearmand), and running third-party programs with a time limit, stopped by PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { startGearmand, type RunningServer } from '../helpers/processes.js';
import { startGearboxServer } from '../helpers/gearbox-cli.js';
import type { ServiceName } from '../helpers/services.js';

/** A server implementation a scenario runs against. */
export interface Target {
  readonly name: 'gearbox' | 'gearmand';
  /** What must be installed for this target (beyond the client under test). */
  readonly needs: readonly ServiceName[];
  start(args?: string[]): Promise<RunningServer>;
}

/** Our server and the reference one; the same assertions hold on both. */
export const TARGETS: readonly Target[] = [
  { name: 'gearbox', needs: [], start: (args = []) => startGearboxServer(args) },
  { name: 'gearmand', needs: ['gearmand'], start: (args = []) => startGearmand(args) },
];

/** What a finished program produced. */
export interface ToolResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a program to completion (killed by PID after `timeoutMs`), feeding it `input`. */
export async function runTool(
  file: string,
  args: readonly string[],
  options: { timeoutMs?: number; input?: string | Buffer; env?: NodeJS.ProcessEnv } = {},
): Promise<ToolResult> {
  const child = spawn(file, args, {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: options.env ?? process.env,
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (d: Buffer) => out.push(d));
  child.stderr.on('data', (d: Buffer) => err.push(d));
  child.stdin.on('error', () => undefined);
  child.stdin.end(options.input ?? '');
  const timer = setTimeout(() => {
    if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
  }, options.timeoutMs ?? 20_000);
  const [code] = (await once(child, 'close')) as [number | null];
  clearTimeout(timer);
  return {
    code,
    stdout: Buffer.concat(out).toString('latin1'),
    stderr: Buffer.concat(err).toString('latin1'),
  };
}

/** A long-running helper process (a worker), stopped by its PID. */
export interface Background {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Kills it by PID (SIGKILL by default) and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Resolves with the exit code once it exits by itself. */
  readonly exited: Promise<number | null>;
}

/** Starts a program in the background. */
export function startTool(file: string, args: readonly string[]): Background {
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString('latin1')));
  child.stderr.on('data', (d: Buffer) => (err += d.toString('latin1')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        process.kill(child.pid, signal);
        await exited;
      }
    },
  };
}

/** Polls `check` every 50 ms until it returns a value, for at most `timeoutMs`. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 10_000; i++) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Parses `gearadmin --status` / admin `status` into rows by function name. */
export function statusRows(text: string): Map<string, string[]> {
  const rows = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    if (line === '.' || line === '') continue;
    const [name, ...rest] = line.split('\t');
    if (name !== undefined) rows.set(name, rest);
  }
  return rows;
}
