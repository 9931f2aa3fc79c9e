/**
 * One `workers` entry at run time: converges its processes to the declared state. The entry
 * holds `desired` slots; each slot has a process (or waits to restart one), and, during a
 * rolling restart, the replacement being started. A change of the entry's spec, a watched file
 * or a process past `max_lifetime` makes processes outdated; they are replaced one at a time,
 * the new one first (it must be ready before the old one is asked to stop), so capacity never
 * drops and no job is cut short. Scaling down drains the last slots.
 *
 * A slot whose process died unexpectedly restarts after `restart_delay`; one that lived less
 * than `min_uptime` counts as a quick exit, and each quick exit in a row doubles the delay (up
 * to `restart_delay_max`): the slot shows `backoff`, and `crashloop` from the third one on.
 * Exits the manager asked for, and retirements (`max_jobs`), restart at once.
 */
import { resolveBackoff } from '../connection/backoff.js';
import { backoffDelay } from '../protocol/backoff.js';
import type { EntrySpec } from './config.js';
import {
  ManagedProcess,
  type CurrentJob,
  type OutputSink,
  type ProcessExit,
} from './managed-process.js';
import type { ManagerLogger } from './manager-logger.js';

/** Quick exits in a row from which a slot's state reads `crashloop`. */
const CRASH_LOOP_AFTER = 3;

/** One row of `gearbox manager status`. */
export interface ProcessRow {
  readonly name: string;
  readonly slot: number;
  readonly pid: number | null;
  readonly state: 'starting' | 'running' | 'stopping' | 'backoff' | 'crashloop';
  readonly uptime_seconds: number | null;
  /** null for command processes: the manager cannot see their jobs. */
  readonly jobs_done: number | null;
  readonly restarts: number;
  readonly current_jobs: readonly CurrentJob[] | null;
  /** Quick exits in a row (crash-loop detection). */
  readonly quick_exits: number;
  /** For a slot waiting to restart: in how many seconds. */
  readonly restart_in_seconds: number | null;
}

interface Slot {
  readonly index: number;
  proc: ManagedProcess | undefined;
  /** The replacement being started during a rolling restart. */
  next: ManagedProcess | undefined;
  restarts: number;
  quickExits: number;
  restartTimer: NodeJS.Timeout | undefined;
  restartAt: number | undefined;
}

export class Entry {
  /** Processes wanted now (the config's count, `scale`, or the autoscaler). */
  desired: number;
  private generation = 0;
  private readonly slots: Slot[] = [];
  private readonly draining = new Set<ManagedProcess>();
  private stopped = false;
  /** Functions learnt from runners, kept for scaling while none runs. */
  private learntFunctions: readonly string[] = [];
  /** Totals of processes that have exited, so counters survive restarts. */
  private exitedJobs = 0;
  private totalRestarts = 0;
  private totalStarts = 0;

  constructor(
    public spec: EntrySpec,
    private servers: readonly string[],
    private readonly output: OutputSink,
    private readonly log: ManagerLogger,
  ) {
    this.desired = spec.count;
  }

  get name(): string {
    return this.spec.name;
  }

  /** The functions (with prefix) whose backlog the autoscaler reads. */
  get functions(): readonly string[] {
    if (this.spec.functions !== undefined)
      return this.spec.functions.map((f) => this.spec.prefix + f);
    for (const slot of this.slots)
      if (slot.proc?.ready && slot.proc.functions.length > 0)
        this.learntFunctions = slot.proc.functions;
    return this.learntFunctions;
  }

  /** Counters for metrics: jobs done (module and exec), processes started and restarted. */
  get totals(): { jobsDone: number; starts: number; restarts: number } {
    let live = 0;
    for (const p of this.processes()) live += p.jobsDone ?? 0;
    return {
      jobsDone: this.exitedJobs + live,
      starts: this.totalStarts,
      restarts: this.totalRestarts,
    };
  }

  /** Every live process (slots, replacements, draining). */
  processes(): ManagedProcess[] {
    const out: ManagedProcess[] = [];
    for (const slot of this.slots) {
      if (slot.proc) out.push(slot.proc);
      if (slot.next) out.push(slot.next);
    }
    out.push(...this.draining);
    return out;
  }

  /** Starts converging. */
  start(): void {
    this.reconcile();
  }

  /** Sets how many processes are wanted, and converges. */
  scale(count: number): void {
    if (this.stopped || count === this.desired) return;
    this.log.log('NOTICE', `${this.name}: ${this.desired} → ${count} processes`);
    this.desired = count;
    this.reconcile();
  }

  /** Replaces every process, one at a time (a watched file changed). */
  restartAll(reason: string): void {
    if (this.stopped) return;
    this.log.log('NOTICE', `${this.name}: ${reason}: restarting its processes one at a time`);
    this.generation += 1;
    this.reconcile();
  }

  /**
   * Takes a reloaded spec: a change of anything but `count` and `autoscale` (or of the servers)
   * restarts the processes one at a time; the count becomes the new config's.
   */
  update(spec: EntrySpec, servers: readonly string[]): void {
    const changed = fingerprint(spec, servers) !== fingerprint(this.spec, this.servers);
    this.spec = spec;
    this.servers = servers;
    if (changed) {
      this.log.log('NOTICE', `${this.name}: changed in the config`);
      this.generation += 1;
    }
    const count = spec.autoscale
      ? Math.min(spec.autoscale.max, Math.max(spec.autoscale.min, this.desired))
      : spec.count;
    if (count !== this.desired) this.scale(count);
    else this.reconcile();
  }

  /** Stops every process gracefully and starts no more; resolves once all have exited. */
  async stop(): Promise<void> {
    this.stopped = true;
    const all = this.processes();
    for (const slot of this.slots) clearTimeout(slot.restartTimer);
    this.slots.length = 0;
    await Promise.all(all.map((p) => p.stop()));
  }

  /** SIGKILLs every process group now. */
  kill(): void {
    for (const p of this.processes()) p.kill();
  }

  rows(): ProcessRow[] {
    const rows: ProcessRow[] = [];
    for (const slot of this.slots) {
      for (const p of [slot.proc, slot.next]) if (p) rows.push(this.row(p, slot));
      if (!slot.proc && !slot.next)
        rows.push({
          name: this.name,
          slot: slot.index,
          pid: null,
          state: slot.quickExits >= CRASH_LOOP_AFTER ? 'crashloop' : 'backoff',
          uptime_seconds: null,
          jobs_done: null,
          restarts: slot.restarts,
          current_jobs: null,
          quick_exits: slot.quickExits,
          restart_in_seconds:
            slot.restartAt === undefined ? null : Math.max(0, (slot.restartAt - Date.now()) / 1000),
        });
    }
    for (const p of this.draining) rows.push(this.row(p, undefined));
    return rows;
  }

  private row(p: ManagedProcess, slot: Slot | undefined): ProcessRow {
    return {
      name: this.name,
      slot: slot?.index ?? -1,
      pid: p.pid ?? null,
      state: p.state === 'exited' ? 'stopping' : p.state,
      uptime_seconds: Math.round(p.uptimeMs) / 1000,
      jobs_done: p.jobsDone ?? null,
      restarts: slot?.restarts ?? 0,
      current_jobs: p.currentJobs ?? null,
      quick_exits: slot?.quickExits ?? 0,
      restart_in_seconds: null,
    };
  }

  /** Brings the processes to the declared state; called after every change and event. */
  private reconcile(): void {
    if (this.stopped) return;
    while (this.slots.length < this.desired) {
      this.slots.push({
        index: this.slots.length,
        proc: undefined,
        next: undefined,
        restarts: 0,
        quickExits: 0,
        restartTimer: undefined,
        restartAt: undefined,
      });
    }
    while (this.slots.length > this.desired) {
      const slot = this.slots.pop();
      if (!slot) break;
      clearTimeout(slot.restartTimer);
      for (const p of [slot.proc, slot.next]) if (p) this.drain(p);
      slot.proc = slot.next = undefined;
    }
    for (const slot of this.slots)
      if (!slot.proc && !slot.next && slot.restartTimer === undefined) slot.proc = this.spawn();
    this.roll();
  }

  /** Replaces one outdated process, if none is being replaced already. */
  private roll(): void {
    if (this.slots.some((s) => s.next !== undefined)) return;
    // A slot whose replacement just failed waits out its restart delay first.
    const slot = this.slots.find(
      (s) => s.proc !== undefined && this.outdated(s.proc) && s.restartTimer === undefined,
    );
    const old = slot?.proc;
    if (!slot || !old) return;
    if (!old.ready) {
      // Not serving yet: nothing to hand over, replace it outright.
      slot.proc = undefined;
      this.drain(old);
      slot.proc = this.spawn();
      return;
    }
    const next = this.spawn(true);
    slot.next = next;
    next.once('ready', () => {
      if (slot.next !== next) return;
      slot.next = undefined;
      if (slot.proc) this.drain(slot.proc);
      slot.proc = next;
      this.reconcile();
    });
  }

  private outdated(p: ManagedProcess): boolean {
    return p.generation !== this.generation || p.expired;
  }

  private spawn(replacement = false): ManagedProcess {
    const p = new ManagedProcess(this.spec, this.servers, this.generation, this.output, this.log);
    this.totalStarts += 1;
    this.log.log('INFO', `${p.label} started${replacement ? ' (replacement)' : ''}`);
    p.once('ready', () => this.readied(p));
    p.once('exit', (exit) => this.exited(p, exit));
    return p;
  }

  private readied(p: ManagedProcess): void {
    const lifetime = this.spec.maxLifetimeMs;
    if (lifetime === undefined) return;
    // Up to 10% later, so processes started together do not all recycle together.
    const timer = setTimeout(
      () => {
        if (p.state === 'exited' || p.state === 'stopping') return;
        this.log.log('INFO', `${p.label} reached max_lifetime: replacing it`);
        p.expired = true;
        this.reconcile();
      },
      lifetime * (1 + Math.random() * 0.1),
    );
    timer.unref();
    p.once('exit', () => clearTimeout(timer));
  }

  private drain(p: ManagedProcess): void {
    this.draining.add(p);
    void p.stop();
  }

  private exited(p: ManagedProcess, exit: ProcessExit): void {
    this.exitedJobs += p.jobsDone ?? 0;
    if (this.draining.delete(p)) {
      this.log.log('INFO', `${p.label} stopped (${describeExit(exit)})`);
      if (exit.killed) this.logTail(p, exit);
      this.reconcile();
      return;
    }
    const slot = this.slots.find((s) => s.proc === p || s.next === p);
    if (!slot) return;
    if (slot.next === p) slot.next = undefined;
    else slot.proc = undefined;
    slot.restarts += 1;
    this.totalRestarts += 1;
    if (exit.planned) {
      this.log.log('INFO', `${p.label} exited (${describeExit(exit)}): replacing it`);
      slot.quickExits = 0;
      this.reconcile();
      return;
    }
    const quick = exit.uptimeMs < this.spec.minUptimeMs;
    slot.quickExits = quick ? slot.quickExits + 1 : 0;
    const delay = quick
      ? backoffDelay(
          resolveBackoff({
            initialDelay: this.spec.restartDelayMs,
            maxDelay: this.spec.restartDelayMaxMs,
            jitter: 0.2,
          }),
          slot.quickExits - 1,
        )
      : exit.code === 0
        ? 0
        : this.spec.restartDelayMs;
    const loop =
      slot.quickExits >= CRASH_LOOP_AFTER
        ? `; crash loop: ${slot.quickExits} exits in a row within ${this.spec.minUptimeMs / 1000} s of start`
        : '';
    this.log.log(
      slot.quickExits >= CRASH_LOOP_AFTER ? 'ERROR' : 'WARNING',
      `${p.label} ${describeExit(exit)} after ${(exit.uptimeMs / 1000).toFixed(1)} s${loop}; restarting in ${(delay / 1000).toFixed(1)} s`,
    );
    this.logTail(p, exit);
    slot.restartAt = Date.now() + delay;
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = undefined;
      slot.restartAt = undefined;
      this.reconcile();
    }, delay);
  }

  private logTail(p: ManagedProcess, exit: ProcessExit): void {
    if (exit.stderrTail.length === 0) return;
    this.log.log(
      'WARNING',
      `${p.label} last stderr lines:\n${exit.stderrTail.map((l) => `    ${l}`).join('\n')}`,
    );
  }
}

/** "exited with status 1", "killed by SIGKILL", "could not start: …". */
export function describeExit(exit: ProcessExit): string {
  if (exit.error) return `could not start: ${exit.error.message}`;
  if (exit.signal !== null) return `killed by ${exit.signal}`;
  return `exited with status ${String(exit.code)}`;
}

/** What of a spec, with the servers, makes its processes differ (count and autoscale do not). */
function fingerprint(spec: EntrySpec, servers: readonly string[]): string {
  const { count: _count, autoscale: _autoscale, ...rest } = spec;
  return JSON.stringify({ rest, servers });
}
