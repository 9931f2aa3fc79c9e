/**
 * Scaling by backlog: every `autoscale_interval` it reads `status` from every job server (the
 * admin protocol, so gearmand works too), adds up the jobs (queued + running) of each
 * autoscaled entry's functions, and wants `ceil(jobs / target_queued_per_worker)` processes,
 * between `min` and `max`. Up at once; down only once the wish has stayed lower for `cooldown`
 * and `cooldown` has passed since the last step, so a bursty queue does not make processes
 * come and go.
 */
import { AdminClient } from '../admin/admin-client.js';
import type { FunctionStatus } from '../admin/admin-replies.js';
import type { Entry } from './entry.js';
import type { ManagerLogger } from './manager-logger.js';

/** Jobs of an entry's functions across every server that answered. */
export interface Backlog {
  readonly queued: number;
  readonly running: number;
}

interface ScaleState {
  lastChange: number;
  /** Since when the wish has been below the current count (for the cooldown). */
  lowSince: number | undefined;
}

export class Autoscaler {
  private readonly admins: AdminClient[];
  private readonly state = new Map<string, ScaleState>();
  /** The last backlog read for each entry, for status and metrics. */
  readonly backlogs = new Map<string, Backlog>();
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;
  private unreachable = new Set<string>();

  constructor(
    servers: readonly string[],
    private readonly entries: () => Iterable<Entry>,
    private readonly intervalMs: number,
    private readonly log: ManagerLogger,
  ) {
    this.admins = servers.map(
      (server) =>
        new AdminClient({ server, timeout: Math.max(1000, intervalMs), connectTimeout: 2000 }),
    );
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all(this.admins.map((a) => a.close()));
  }

  /** One reading and one decision per autoscaled entry. */
  async tick(now = Date.now()): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      const statuses = await this.readStatus();
      if (statuses === undefined) return;
      for (const entry of this.entries()) {
        const spec = entry.spec.autoscale;
        if (spec === undefined) continue;
        const backlog = sum(statuses, entry.functions);
        this.backlogs.set(entry.name, backlog);
        const wanted = Math.ceil((backlog.queued + backlog.running) / spec.targetQueuedPerWorker);
        this.decide(entry, Math.min(spec.max, Math.max(spec.min, wanted)), spec.cooldownMs, now);
      }
    } finally {
      this.ticking = false;
    }
  }

  private decide(entry: Entry, wanted: number, cooldownMs: number, now: number): void {
    let state = this.state.get(entry.name);
    if (state === undefined) {
      state = { lastChange: 0, lowSince: undefined };
      this.state.set(entry.name, state);
    }
    const current = entry.desired;
    if (wanted > current) {
      state.lowSince = undefined;
      state.lastChange = now;
      entry.scale(wanted);
    } else if (wanted < current) {
      state.lowSince ??= now;
      if (now - state.lowSince >= cooldownMs && now - state.lastChange >= cooldownMs) {
        state.lowSince = undefined;
        state.lastChange = now;
        entry.scale(wanted);
      }
    } else {
      state.lowSince = undefined;
    }
  }

  /** `status` of every server; undefined when none answered (then nothing is decided). */
  private async readStatus(): Promise<FunctionStatus[][] | undefined> {
    const results = await Promise.allSettled(this.admins.map((a) => a.status()));
    const answered: FunctionStatus[][] = [];
    results.forEach((result, i) => {
      const server = this.admins[i]?.server ?? '?';
      if (result.status === 'fulfilled') {
        answered.push(result.value);
        if (this.unreachable.delete(server))
          this.log.log('NOTICE', `autoscale: ${server} answers again`);
      } else if (!this.unreachable.has(server)) {
        // Said once per outage, not every interval.
        this.unreachable.add(server);
        const reason = result.reason instanceof Error ? result.reason.message : 'failed';
        this.log.log('WARNING', `autoscale: cannot read status from ${server}: ${reason}`);
      }
    });
    return answered.length > 0 ? answered : undefined;
  }
}

function sum(statuses: readonly FunctionStatus[][], functions: readonly string[]): Backlog {
  let queued = 0;
  let running = 0;
  const wanted = new Set(functions);
  for (const list of statuses)
    for (const f of list)
      if (wanted.has(f.name)) {
        running += f.running;
        queued += Math.max(0, f.total - f.running);
      }
  return { queued, running };
}
