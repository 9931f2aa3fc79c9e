/**
 * The servers under test, each started on a free loopback port and stopped by its PID:
 * Debian's gearmand with its fastest flags, gearmand with its default flags, `gearbox server`,
 * and the null server (bench/null-server.ts: what Node itself can do).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { BenchError } from './bench-error.js';
import { trackChild } from './children.js';
import { withFdLimit } from './fd-limits.js';

/** Which server a run measures. */
export type ServerKind = 'null' | 'gearmand' | 'gearmand-default' | 'gearbox';

/** Every kind, in the order the benchmark runs them. */
export const SERVER_KINDS: readonly ServerKind[] = [
  'null',
  'gearmand',
  'gearmand-default',
  'gearbox',
];

/**
 * The kinds run when none are named: gearmand with default flags is left out because filling
 * its queue to a million distinct jobs takes minutes (its hash table has 991 buckets). The null
 * server runs only where it can (background submits) and is skipped elsewhere.
 */
export const DEFAULT_SERVER_KINDS: readonly ServerKind[] = ['null', 'gearmand', 'gearbox'];

/** The null server's script, compiled next to this file's folder. */
const nullServerScript = fileURLToPath(new URL('../null-server.js', import.meta.url));

/** gearmand's fastest setting on this machine: one I/O thread, a big job hash table. */
export const GEARMAND_TUNED_FLAGS: readonly string[] = ['-t', '0', '--hashtable-buckets', '99991'];

/** Where the binaries are; overridable from the command line. */
export interface ServerPaths {
  readonly gearmand: string;
  /** The compiled `gearbox` CLI entry (dist/src/cli/main.js). */
  readonly gearboxMain: string;
  /** Directory for a V8 CPU profile of `gearbox server`, when profiling. */
  readonly profileDir?: string;
}

/** Default paths: Debian's gearmand, and the CLI compiled next to this benchmark. */
export const defaultServerPaths: ServerPaths = {
  gearmand: '/usr/sbin/gearmand',
  gearboxMain: fileURLToPath(new URL('../../src/cli/main.js', import.meta.url)),
};

/** What a caller may change on the standard command line. */
export interface ServerExtras {
  /** Replaces `-q builtin` (e.g. `-q libsqlite3 --libsqlite3-db F`, which both servers take). */
  readonly queueArgs?: readonly string[];
  /** Flags for `node` before the gearbox script (e.g. `--expose-gc`); ignored for gearmand. */
  readonly nodeArgs?: readonly string[];
  /** Raises the server's soft limit on open files to this first (see fd-limits.ts). */
  readonly fdLimit?: number;
}

/** The command line a kind is started with (port filled in). */
export function serverCommand(
  kind: ServerKind,
  port: number,
  paths: ServerPaths,
  extras: ServerExtras = {},
): { file: string; args: string[] } {
  const common = [
    '-L',
    '127.0.0.1',
    '-p',
    String(port),
    ...(extras.queueArgs ?? ['-q', 'builtin']),
  ];
  switch (kind) {
    case 'gearmand':
      return { file: paths.gearmand, args: [...common, '-l', 'none', ...GEARMAND_TUNED_FLAGS] };
    case 'gearmand-default':
      return { file: paths.gearmand, args: [...common, '-l', 'none'] };
    case 'null':
      return {
        file: process.execPath,
        args: [nullServerScript, '-L', '127.0.0.1', '-p', String(port)],
      };
    case 'gearbox': {
      const profile =
        paths.profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${paths.profileDir}`];
      return {
        file: process.execPath,
        args: [...profile, ...(extras.nodeArgs ?? []), paths.gearboxMain, 'server', ...common],
      };
    }
  }
}

/** A server process started for one measurement. */
export interface ServerProcess {
  readonly kind: ServerKind;
  readonly port: number;
  readonly pid: number;
  /** The command line, for the record. */
  readonly commandLine: string;
  /** Resident set size in bytes, from /proc/<pid>/status VmRSS. */
  rssBytes(): Promise<number>;
  /** CPU time (user + system) the process has used so far, in ms, from /proc/<pid>/stat. */
  cpuMs(): Promise<number>;
  /** Stops it by PID: SIGTERM, then SIGKILL after 5 s. */
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string')
    throw new BenchError('SERVER_START', 'no free port');
  return address.port;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Reads VmRSS of a process, in bytes. */
export async function readRss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!match?.[1]) throw new BenchError('SERVER_ERROR', `no VmRSS for pid ${pid}`);
  return Number(match[1]) * 1024;
}

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on Linux). */
const USER_HZ = 100;

/** Reads the user + system CPU time of a process (all its threads), in ms. */
export async function readCpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name; utime and stime are the 14th and 15th fields.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  if (!Number.isFinite(ticks)) throw new BenchError('SERVER_ERROR', `no CPU times for pid ${pid}`);
  return (ticks * 1000) / USER_HZ;
}

/**
 * Starts a server of the given kind on a free port and waits until it accepts connections.
 * `extras` changes its queue, node flags or open-files limit.
 */
export async function startServer(
  kind: ServerKind,
  paths: ServerPaths,
  extraArgs: readonly string[] = [],
  extras: ServerExtras = {},
): Promise<ServerProcess> {
  const port = await freePort();
  const command = serverCommand(kind, port, paths, extras);
  const file = command.file;
  const args = [...command.args, ...extraArgs];
  const fdLimit = extras.fdLimit;
  const launched = fdLimit === undefined ? { file, args } : withFdLimit(fdLimit, file, args);
  const child: ChildProcess = spawn(launched.file, launched.args, {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  trackChild(child);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    if (stderr.length < 10_000) stderr += d.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const alive = (): boolean => child.exitCode === null && child.signalCode === null;
  const stop = async (): Promise<void> => {
    if (!alive() || child.pid === undefined) return;
    process.kill(child.pid, 'SIGTERM');
    const timer = setTimeout(() => {
      if (alive() && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    }, 5000);
    await exited;
    clearTimeout(timer);
  };

  const deadline = Date.now() + 15_000;
  for (let attempt = 0; attempt < 500; attempt++) {
    if (!alive()) {
      throw new BenchError('SERVER_START', `${file} ${args.join(' ')} exited: ${stderr.trim()}`);
    }
    if (await accepts(port)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new BenchError('SERVER_START', `${kind} did not listen on ${port}: ${stderr.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 30));
  }
  const pid = child.pid;
  if (pid === undefined) throw new BenchError('SERVER_START', `${kind} has no pid`);
  return {
    kind,
    port,
    pid,
    commandLine: [
      ...(fdLimit === undefined ? [] : [`ulimit -S -n ${fdLimit};`]),
      file === process.execPath ? 'node' : file,
      ...args,
    ].join(' '),
    rssBytes: () => readRss(pid),
    cpuMs: () => readCpuMs(pid),
    stop,
  };
}
