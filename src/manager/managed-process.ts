/**
 * One child process of an entry: started through the shim (see launch.ts), its output prefixed
 * line by line with `name[pid]`, its jobs followed (module runners over IPC, exec processes from
 * `gearbox worker -v`'s log), stopped with a signal or a message and a deadline before SIGKILL.
 *
 *   starting ──ready──▶ running ──stop()──▶ stopping ──exit──▶ exited
 *      │                   │                                     ▲
 *      └───────────────────┴────────────── exit ─────────────────┘
 *
 * "ready" is the runner's `ready` message for a module; a command or exec process is ready once
 * it has stayed up for a second (or `min_uptime`, if shorter), since it cannot say so itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import type { EntrySpec } from './config.js';
import { launchPlan, SHIM_NAME } from './launch.js';
import type { ManagerLogger } from './manager-logger.js';
import { LineSplitter, Tail } from './output-lines.js';
import { isRunnerMessage, type ManagerMessage } from './runner-messages.js';

export type ProcessState = 'starting' | 'running' | 'stopping' | 'exited';

/** How a process ended. */
export interface ProcessExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly uptimeMs: number;
  /** It left on purpose (max_jobs) or because the manager stopped it: not a crash. */
  readonly planned: boolean;
  /** The manager had to SIGKILL it after the stop deadline. */
  readonly killed: boolean;
  readonly stderrTail: readonly string[];
  /** Set when it could not be started at all (spawn failed). */
  readonly error?: Error;
}

/** Where prefixed child output goes. */
export interface OutputSink {
  write(stream: 'stdout' | 'stderr', line: string): void;
}

/** A job a process is running. */
export interface CurrentJob {
  readonly handle: string;
  readonly function: string;
}

export type ManagedProcessEvents = {
  ready: [];
  exit: [exit: ProcessExit];
};

/** Readiness of a process that cannot announce it. */
const SILENT_READY_MS = 1000;
/** Time a module runner gets beyond its stop timeout to close its connections and exit. */
const RUNNER_EXIT_MARGIN_MS = 2000;
/** How long to wait for a dead child's output pipes to close before giving up on them. */
const OUTPUT_DRAIN_MS = 2000;
/** `gearbox worker -v` logs this line as each job starts (src/cli/worker.ts)… */
const EXEC_JOB_LINE = /^gearbox worker: job (\S+) \((.*)\) started$/;
/** …and this one as it ends well (failures are logged whatever the -v). */
const EXEC_DONE_LINE = /^gearbox worker: job \S+ \(.*\) done in /;

export class ManagedProcess extends EventEmitter<ManagedProcessEvents> {
  readonly label: string;
  readonly pid: number | undefined;
  readonly startedAt = Date.now();
  private readonly startedMono = performance.now();
  state: ProcessState = 'starting';
  /** Functions the process registered (module runners say; others: the entry's list). */
  functions: readonly string[];
  private readonly child: ChildProcess;
  private readonly tail = new Tail();
  private readonly running = new Map<string, string>();
  /** exec processes: jobs started, from the log; the last few, for the current job. */
  private execStarted = 0;
  private readonly execRecent: CurrentJob[] = [];
  private watcherPid: string | undefined;
  private jobsEnded = 0;
  private retiring = false;
  private isReady = false;
  /** Past max_lifetime: to be replaced (see Entry). */
  expired = false;
  private stopRequested = false;
  private killed = false;
  private readyTimer: NodeJS.Timeout | undefined;
  private deadline: NodeJS.Timeout | undefined;
  readonly exited: Promise<ProcessExit>;

  constructor(
    readonly entry: EntrySpec,
    servers: readonly string[],
    /** The entry's spec version this process was started with (see Entry). */
    readonly generation: number,
    private readonly output: OutputSink,
    private readonly log: ManagerLogger,
  ) {
    super();
    this.functions = (entry.functions ?? []).map((f) => entry.prefix + f);
    const plan = launchPlan(entry, servers);
    this.child = spawn(plan.file, plan.args, {
      stdio: ['ignore', 'pipe', 'pipe', 'pipe', ...(plan.ipc ? (['ipc'] as const) : [])],
      env: plan.env,
      cwd: plan.cwd,
      detached: true,
      ...(plan.uid !== undefined ? { uid: plan.uid, gid: plan.gid } : {}),
    });
    this.pid = this.child.pid;
    this.label = `${entry.name}[${this.pid ?? '?'}]`;
    this.exited = new Promise((resolve) => this.follow(resolve));
  }

  /** The process has announced (or is assumed to have reached) readiness. */
  get ready(): boolean {
    return this.isReady && this.state !== 'exited';
  }

  get uptimeMs(): number {
    return performance.now() - this.startedMono;
  }

  /** Jobs finished, for module and exec processes; undefined for commands (unknowable). */
  get jobsDone(): number | undefined {
    if (this.entry.kind === 'module') return this.jobsEnded;
    if (this.entry.kind === 'exec') return this.execStarted - this.execBusy();
    return undefined;
  }

  /** The jobs running now, for module and exec processes; undefined for commands. */
  get currentJobs(): CurrentJob[] | undefined {
    if (this.entry.kind === 'module')
      return [...this.running].map(([handle, fn]) => ({ handle, function: fn }));
    if (this.entry.kind === 'exec') {
      const busy = this.execBusy();
      return busy === 0 ? [] : this.execRecent.slice(-busy);
    }
    return undefined;
  }

  /**
   * Stops it gracefully: the stop message (module runners) or `stop_signal`, then SIGKILL of its
   * process group when `stop_timeout` has passed. Resolves when it has exited.
   */
  stop(): Promise<ProcessExit> {
    if (this.state === 'exited' || this.stopRequested) return this.exited;
    this.stopRequested = true;
    this.state = 'stopping';
    const timeout = this.entry.stopTimeoutMs;
    let margin = 0;
    // A runner that is not ready yet may not listen for messages: it has no job either, so
    // the signal (its handler, or the default action) is as good.
    if (this.entry.kind === 'module' && this.isReady && this.child.connected) {
      const message: ManagerMessage = { type: 'stop', timeoutMs: timeout };
      this.child.send(message, (err) => {
        if (err) this.signal(this.entry.stopSignal);
      });
      margin = RUNNER_EXIT_MARGIN_MS;
    } else {
      this.signal(this.entry.stopSignal);
    }
    this.deadline = setTimeout(() => {
      this.log.log(
        'WARNING',
        `${this.label} still running ${timeout / 1000} s after ${this.entry.kind === 'module' ? 'the stop request' : this.entry.stopSignal}: SIGKILL`,
      );
      this.kill();
    }, timeout + margin);
    return this.exited;
  }

  /** SIGKILL to its whole process group, now. */
  kill(): void {
    if (this.pid === undefined || this.state === 'exited') return;
    this.killed = true;
    try {
      process.kill(-this.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }

  private signal(signal: NodeJS.Signals): void {
    if (this.pid === undefined) return;
    try {
      process.kill(this.pid, signal);
    } catch {
      // Already gone: the exit event follows.
    }
  }

  private follow(resolve: (exit: ProcessExit) => void): void {
    const child = this.child;
    let spawnError: Error | undefined;
    this.pipeLines(child.stdout, 'stdout');
    this.pipeLines(child.stderr, 'stderr');
    child.on('message', (message) => this.receive(message));
    if (this.entry.kind !== 'module') {
      const ms = Math.min(SILENT_READY_MS, this.entry.minUptimeMs);
      this.readyTimer = setTimeout(() => this.becomeReady(), ms);
    }
    let done = false;
    const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (done) return;
      done = true;
      clearTimeout(this.readyTimer);
      clearTimeout(this.deadline);
      this.readyTimer = undefined;
      this.state = 'exited';
      const exit: ProcessExit = {
        code,
        signal,
        uptimeMs: this.uptimeMs,
        planned: this.stopRequested || this.retiring || this.execRetired(code),
        killed: this.killed,
        stderrTail: this.tail.get(),
        ...(spawnError ? { error: spawnError } : {}),
      };
      this.emit('exit', exit);
      resolve(exit);
    };
    child.once('error', (err) => {
      spawnError = err;
      if (this.pid === undefined) finish(null, null);
    });
    child.once('exit', (code, signal) => {
      // Closing the watcher's pipe sweeps up whatever the child left in its process group.
      (child.stdio[3] as Readable | null)?.destroy();
      // Output still in the pipes comes first; a grandchild holding them open is killed above.
      const drained = setTimeout(() => finish(code, signal), OUTPUT_DRAIN_MS);
      child.once('close', () => {
        clearTimeout(drained);
        finish(code, signal);
      });
    });
  }

  private pipeLines(stream: Readable | null, name: 'stdout' | 'stderr'): void {
    if (stream === null) return;
    const splitter = new LineSplitter();
    const emit = (line: string): void => {
      if (name === 'stderr') {
        if (this.entry.kind === 'exec' && this.execLine(line)) return;
        this.tail.add(line);
      }
      this.output.write(name, `${this.label} ${line}`);
    };
    stream.on('data', (chunk: Buffer) => {
      for (const line of splitter.push(chunk)) emit(line);
    });
    stream.once('end', () => {
      for (const line of splitter.flush()) emit(line);
    });
  }

  /** Takes `gearbox worker -v`'s per-job lines out of an exec process's stderr. */
  private execLine(line: string): boolean {
    if (EXEC_DONE_LINE.test(line)) {
      if (this.log.enabled('DEBUG')) this.log.log('DEBUG', `${this.label} ${line}`);
      return true;
    }
    const match = EXEC_JOB_LINE.exec(line);
    if (match === null) return false;
    this.execStarted += 1;
    this.execRecent.push({ handle: match[1] ?? '', function: match[2] ?? '' });
    if (this.execRecent.length > this.entry.concurrency) this.execRecent.shift();
    if (this.log.enabled('DEBUG')) this.log.log('DEBUG', `${this.label} started job ${match[1]}`);
    return true;
  }

  /**
   * How many jobs an exec process runs now: `gearbox worker` runs one command per job, so its
   * live children are its running jobs (Linux's /proc; elsewhere the jobs look finished).
   */
  private execBusy(): number {
    if (this.pid === undefined || this.state === 'exited') return 0;
    let children: string[];
    try {
      const text = readFileSync(`/proc/${this.pid}/task/${this.pid}/children`, 'utf8').trim();
      children = text === '' ? [] : text.split(/\s+/);
    } catch {
      return 0;
    }
    // The shim's watcher (forked before the exec) is a child too, and no job.
    this.watcherPid ??= children.find((c) => isWatcher(c));
    const busy = children.filter((c) => c !== this.watcherPid).length;
    return Math.min(busy, this.execStarted, this.entry.concurrency);
  }

  /** `gearbox worker -c max_jobs` exits 0 once it has run its jobs: a planned exit. */
  private execRetired(code: number | null): boolean {
    const max = this.entry.maxJobs;
    return this.entry.kind === 'exec' && code === 0 && max !== undefined && this.execStarted >= max;
  }

  private becomeReady(): void {
    this.readyTimer = undefined;
    if (this.isReady || this.state === 'exited') return;
    this.isReady = true;
    if (this.state === 'starting') this.state = 'running';
    this.emit('ready');
  }

  private receive(message: unknown): void {
    if (!isRunnerMessage(message)) return;
    switch (message.type) {
      case 'ready':
        this.functions = message.functions;
        this.becomeReady();
        return;
      case 'job-start':
        this.running.set(message.handle, message.function);
        return;
      case 'job-end':
        this.running.delete(message.handle);
        this.jobsEnded += 1;
        return;
      case 'retiring':
        this.retiring = true;
        this.log.log('INFO', `${this.label} retires: ${message.reason}`);
        return;
    }
  }
}

function isWatcher(pid: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(SHIM_NAME);
  } catch {
    return false;
  }
}
