/**
 * What the manager tests share: a temp folder with a config, `gearbox manager` started as a
 * real child process (stopped by its PID), its control socket, and checks on process liveness
 * that count a zombie as dead (a killed orphan waits for an init that may never reap it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '../../src/index.js';
import { sendControl } from '../../src/manager/control-client.js';
import type { StatusReport } from '../../src/manager/control-protocol.js';
import type { ProcessRow } from '../../src/manager/entry.js';
import { eventually as waitFor } from '../helpers/lib-servers.js';
import { gearboxMain } from '../helpers/processes.js';

export { waitFor };

/** Whether `pid` is a live process (a zombie is not). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** A temp folder for one test's config, scripts and files. */
export function tempDir(prefix: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), `gearbox-manager-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Writes a config as JSON (the manager reads YAML too; config.test.ts covers that). */
export function writeConfig(dir: string, config: object, name = 'manager.json'): string {
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

/** A running `gearbox manager CONFIG`. */
export interface RunningManager {
  readonly process: ChildProcess;
  readonly pid: number;
  readonly socket: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
  stdout(): string;
  status(): Promise<StatusReport>;
  /** The rows of one entry that have a live process. */
  rows(name: string): Promise<ProcessRow[]>;
  signal(signal: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL after `graceMs`; waits for the exit. */
  stop(graceMs?: number): Promise<void>;
}

/** Starts `gearbox manager -v CONFIG`; `socket` is the config's control_socket. */
export function startManager(config: string, socket: string, args: string[] = []): RunningManager {
  const child = spawn(process.execPath, [gearboxMain, 'manager', '-v', ...args, config], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const pid = child.pid;
  if (pid === undefined) throw new Error('gearbox manager did not start');
  const manager: RunningManager = {
    process: child,
    pid,
    socket,
    exited,
    stderr: () => err,
    stdout: () => out,
    async status() {
      const answer = await sendControl(socket, { command: 'status' }, 5000);
      if (!answer.ok) throw new Error(answer.error);
      return answer as unknown as StatusReport;
    },
    async rows(name) {
      const report = await manager.status();
      return report.processes.filter((p) => p.name === name && p.pid !== null);
    },
    signal(signal) {
      if (child.exitCode === null && child.signalCode === null) process.kill(pid, signal);
    },
    async stop(graceMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      process.kill(pid, 'SIGTERM');
      const timer = setTimeout(() => {
        if (child.exitCode === null) process.kill(pid, 'SIGKILL');
      }, graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
  return manager;
}

/** Waits until the manager answers on its control socket (or exits: then throws with stderr). */
export async function managerUp(manager: RunningManager, timeoutMs = 10_000): Promise<void> {
  let gone = false;
  void manager.exited.then(() => (gone = true));
  await waitFor(
    async () => {
      if (gone) throw new Error(`gearbox manager exited: ${manager.stderr()}`);
      try {
        await manager.status();
        return true;
      } catch {
        return false;
      }
    },
    timeoutMs,
    'the control socket answers',
  );
}

/** Waits until `name` has `count` running (ready) processes; returns their rows. */
export async function running(
  manager: RunningManager,
  name: string,
  count: number,
  timeoutMs = 15_000,
): Promise<ProcessRow[]> {
  let rows: ProcessRow[] = [];
  await waitFor(
    async () => {
      rows = (await manager.rows(name)).filter((r) => r.state === 'running');
      const all = await manager.rows(name);
      return rows.length === count && all.length === count;
    },
    timeoutMs,
    `${name} has ${count} running processes (last: ${JSON.stringify(rows.map((r) => r.pid))})`,
  );
  return rows;
}

/** Child pids that are alive, of those given. */
export function survivors(pids: readonly number[]): number[] {
  return pids.filter((pid) => alive(pid));
}

/** A manager started for one test, with a client on the same server. */
export interface ManagerRun {
  readonly manager: RunningManager;
  readonly client: Client;
  readonly file: string;
  readonly socket: string;
  /** Closes the client and stops the manager (if the test has not). */
  close(): Promise<void>;
}

/**
 * Writes `config` (plus `servers` and a `control_socket` in `dir`) as `name`, starts the
 * manager on it, and waits for its control socket.
 */
export async function launch(
  dir: string,
  serverPort: number,
  config: Record<string, unknown>,
  name = 'manager.json',
): Promise<ManagerRun> {
  const socket = join(dir, `${name}.sock`);
  const file = writeConfig(
    dir,
    { servers: [`127.0.0.1:${serverPort}`], control_socket: socket, ...config },
    name,
  );
  const manager = startManager(file, socket);
  const client = new Client({ servers: `127.0.0.1:${serverPort}` });
  const close = async (): Promise<void> => {
    await client.close();
    await manager.stop();
  };
  try {
    await managerUp(manager);
  } catch (err) {
    await close();
    throw err;
  }
  return { manager, client, file, socket, close };
}
