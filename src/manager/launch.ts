/**
 * How a child of each kind is started: the program and arguments, the environment, and the
 * shell shim that every child goes through so that none outlives the manager.
 *
 * Node has no PR_SET_PDEATHSIG, so the manager hands every child the read end of a pipe as
 * fd 3 and keeps the write end. The shim (`/bin/sh`, started as a new session, so it leads its
 * own process group) forks a watcher that blocks reading fd 3, then execs the real program in
 * its place — same pid, so signals and exit statuses are the program's own. When the manager
 * dies, however it dies (SIGKILL included), the kernel closes the write end; the watcher's read
 * returns and it SIGKILLs its whole process group: the program and anything it started. The
 * manager also closes the pipe itself once a child has exited, which sweeps up what the child
 * left behind in its group. A program that leaves its process group (daemonises, setsid)
 * escapes this, as it escapes supervisord: workers must stay in the foreground.
 */
import { fileURLToPath } from 'node:url';
import type { EntrySpec } from './config.js';

/** fd 3: the manager's pipe the watcher reads; fd 4: the IPC channel of a module runner. */
const SHIM = '( exec </dev/null >/dev/null 2>&1 4>&-; read -r _ <&3; kill -9 0 ) & exec "$@" 3<&-';

/** The shim's $0, which also tells its watcher apart from a worker's own children. */
export const SHIM_NAME = 'gearbox-manager-shim';

/** The compiled `gearbox` CLI, next to this module in the package. */
export const GEARBOX_MAIN = fileURLToPath(new URL('../cli/main.js', import.meta.url));
/** The script a module entry's processes run. */
export const MODULE_RUNNER = fileURLToPath(new URL('./module-runner.js', import.meta.url));

/** What a module runner is told, in GEARBOX_MANAGER_CHILD (JSON). */
export interface RunnerSpec {
  readonly name: string;
  readonly module: string;
  readonly servers: readonly string[];
  readonly functions: readonly string[] | undefined;
  readonly prefix: string;
  readonly concurrency: number;
  readonly timeoutMs: number | undefined;
  readonly maxJobs: number | undefined;
  readonly stopTimeoutMs: number;
}

/** Everything `child_process.spawn` needs for one child. */
export interface LaunchPlan {
  readonly file: string;
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  readonly uid: number | undefined;
  readonly gid: number | undefined;
  /** Whether fd 4 is a Node IPC channel (module runners). */
  readonly ipc: boolean;
}

/** The program and arguments an entry's process runs, before the shim. */
export function programOf(entry: EntrySpec, servers: readonly string[]): string[] {
  switch (entry.kind) {
    case 'command':
      return [...entry.argv];
    case 'module':
      return [process.execPath, MODULE_RUNNER];
    case 'exec': {
      // An exec entry's process is a `gearbox worker`: it runs the command once per job. -v
      // makes it log each job it starts, which is how the manager counts them.
      const args = [GEARBOX_MAIN, 'worker', '-v', '--servers', servers.join(','), '-i', entry.name];
      for (const f of entry.functions ?? []) args.push('-f', entry.prefix + f);
      if (entry.concurrency > 1) args.push('--concurrency', String(entry.concurrency));
      if (entry.timeoutMs !== undefined) args.push('-t', String(entry.timeoutMs));
      if (entry.maxJobs !== undefined) args.push('-c', String(entry.maxJobs));
      return [process.execPath, ...args, '--', ...entry.argv];
    }
  }
}

/** The full plan: the shim, the program, the environment and the account. */
export function launchPlan(entry: EntrySpec, servers: readonly string[]): LaunchPlan {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...entry.env,
    GEARBOX_MANAGER_ENTRY: entry.name,
  };
  if (entry.user !== undefined)
    Object.assign(env, { HOME: entry.user.home, USER: entry.user.name, LOGNAME: entry.user.name });
  if (entry.kind === 'module') {
    const spec: RunnerSpec = {
      name: entry.name,
      module: entry.argv[0] ?? '',
      servers,
      functions: entry.functions,
      prefix: entry.prefix,
      concurrency: entry.concurrency,
      timeoutMs: entry.timeoutMs,
      maxJobs: entry.maxJobs,
      stopTimeoutMs: entry.stopTimeoutMs,
    };
    env.GEARBOX_MANAGER_CHILD = JSON.stringify(spec);
  }
  return {
    file: '/bin/sh',
    args: ['-c', SHIM, SHIM_NAME, ...programOf(entry, servers)],
    env,
    cwd: entry.cwd,
    uid: entry.user?.uid,
    gid: entry.user?.gid,
    ipc: entry.kind === 'module',
  };
}
