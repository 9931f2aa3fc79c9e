/**
 * The worker process manager: the declared entries of a config, each converged to its count of
 * supervised processes (see Entry), plus what is shared — the control socket, `/metrics`, the
 * autoscaler and the file watchers. `reload()` takes a new config and converges to it;
 * `stop()` stops every process gracefully.
 */
import type { Server } from 'node:http';
import { Autoscaler } from './autoscaler.js';
import { ChangeWatcher } from './change-watcher.js';
import { loadConfig, type ManagerConfig } from './config.js';
import type { ControlRequest, ControlResponse, StatusReport } from './control-protocol.js';
import { ControlServer } from './control-server.js';
import { Entry } from './entry.js';
import type { OutputSink } from './managed-process.js';
import type { ManagerLogger } from './manager-logger.js';
import { serveMetrics } from './manager-metrics.js';

/** Children's lines go to the manager's own stdout and stderr. */
export const PROCESS_OUTPUT: OutputSink = {
  write: (stream, line) => process[stream].write(`${line}\n`),
};

/** What a reload or scale did, for the control socket and the log. */
export interface ControlResult {
  readonly ok: boolean;
  readonly message: string;
}

export class Manager {
  private readonly entries = new Map<string, Entry>();
  private readonly watchers = new Map<string, ChangeWatcher>();
  private control: ControlServer | undefined;
  private web: Server | undefined;
  private autoscaler: Autoscaler | undefined;
  private stopping: Promise<void> | undefined;
  private readonly startedAt = Date.now();

  constructor(
    private config: ManagerConfig,
    private readonly log: ManagerLogger,
    private readonly output: OutputSink = PROCESS_OUTPUT,
  ) {}

  /**
   * Opens the control socket and the metrics port, then starts every entry. When the socket or
   * port cannot be opened it throws before any process has started.
   */
  async start(): Promise<void> {
    this.control = await ControlServer.open(this.config.controlSocket, (r) => this.answer(r));
    if (this.config.webPort !== undefined) {
      try {
        this.web = await serveMetrics(
          {
            entries: () => this.entries.values(),
            backlog: (name) => this.autoscaler?.backlogs.get(name),
            status: () => this.status(),
          },
          this.config.webHost,
          this.config.webPort,
        );
      } catch (err) {
        await this.control.close();
        throw err;
      }
    }
    this.log.log(
      'NOTICE',
      `gearbox manager ${process.pid}: ${this.config.workers.length} entries, servers ${this.config.servers.join(', ')}, control socket ${this.config.controlSocket}${this.web ? `, metrics on ${this.config.webHost}:${this.config.webPort}` : ''}`,
    );
    for (const spec of this.config.workers) {
      const entry = new Entry(spec, this.config.servers, this.output, this.log);
      this.entries.set(spec.name, entry);
      entry.start();
      this.watch(entry);
    }
    this.startAutoscaler();
  }

  /** The port `/metrics` listens on (useful with `web_port: 0`). */
  get webPort(): number | undefined {
    const address = this.web?.address();
    return address !== null && typeof address === 'object' ? address.port : undefined;
  }

  /** Re-reads the config file and converges to it; a bad file is refused and the old one kept. */
  reload(): ControlResult {
    if (this.stopping) return { ok: false, message: 'the manager is stopping' };
    let next: ManagerConfig;
    try {
      next = loadConfig(this.config.file);
    } catch (err) {
      const message = `reload refused, keeping the running config: ${(err as Error).message}`;
      this.log.log('ERROR', message);
      return { ok: false, message };
    }
    const previous = this.config;
    this.config = next;
    for (const key of ['controlSocket', 'webPort', 'webHost'] as const)
      if (previous[key] !== next[key])
        this.log.log('WARNING', `reload: a change of ${key} takes effect at the next start`);
    const wanted = new Set(next.workers.map((w) => w.name));
    for (const [name, entry] of this.entries)
      if (!wanted.has(name)) {
        this.log.log('NOTICE', `${name}: removed from the config: stopping its processes`);
        this.entries.delete(name);
        void this.watchers.get(name)?.close();
        this.watchers.delete(name);
        void entry.stop();
      }
    for (const spec of next.workers) {
      let entry = this.entries.get(spec.name);
      if (entry === undefined) {
        this.log.log('NOTICE', `${spec.name}: new in the config`);
        entry = new Entry(spec, next.servers, this.output, this.log);
        this.entries.set(spec.name, entry);
        entry.start();
      } else {
        entry.update(spec, next.servers);
      }
      this.watch(entry);
    }
    const autoscaled = next.workers.some((w) => w.autoscale);
    if (
      autoscaled !== (this.autoscaler !== undefined) ||
      previous.servers.join() !== next.servers.join() ||
      previous.autoscaleIntervalMs !== next.autoscaleIntervalMs
    )
      this.startAutoscaler();
    const message = `reloaded ${next.file}: ${next.workers.length} entries`;
    this.log.log('NOTICE', message);
    return { ok: true, message };
  }

  /** `scale NAME N`; refused for an autoscaled entry (its count is the scaler's). */
  scale(name: string, count: number): ControlResult {
    const entry = this.entries.get(name);
    if (entry === undefined) return { ok: false, message: `no entry named '${name}'` };
    const auto = entry.spec.autoscale;
    if (auto !== undefined)
      return {
        ok: false,
        message: `${name} is autoscaled between ${auto.min} and ${auto.max}: change autoscale in the config instead`,
      };
    if (this.stopping) return { ok: false, message: 'the manager is stopping' };
    entry.scale(count);
    return { ok: true, message: `${name}: ${count} processes (until the next reload)` };
  }

  status(): StatusReport {
    const entries = [...this.entries.values()];
    return {
      pid: process.pid,
      config: this.config.file,
      servers: this.config.servers,
      uptime_seconds: Math.round(Date.now() - this.startedAt) / 1000,
      state: this.stopping ? 'stopping' : 'running',
      entries: entries.map((e) => {
        const backlog = this.autoscaler?.backlogs.get(e.name);
        const auto = e.spec.autoscale;
        const totals = e.totals;
        return {
          name: e.name,
          kind: e.spec.kind,
          desired: e.desired,
          processes: e.processes().length,
          jobs_done: e.spec.kind === 'command' ? null : totals.jobsDone,
          restarts: totals.restarts,
          autoscale: auto
            ? {
                min: auto.min,
                max: auto.max,
                queued: backlog?.queued ?? null,
                running: backlog?.running ?? null,
              }
            : null,
        };
      }),
      processes: entries.flatMap((e) => e.rows()),
    };
  }

  /** Stops every process gracefully (each within its stop_timeout), then closes the sockets. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.log.log('NOTICE', 'stopping: no new jobs; running jobs may finish');
      await this.autoscaler?.close();
      await Promise.all([...this.watchers.values()].map((w) => w.close()));
      await Promise.all([...this.entries.values()].map((e) => e.stop()));
      await this.control?.close();
      await new Promise<void>((resolve) =>
        this.web ? this.web.close(() => resolve()) : resolve(),
      );
      this.log.log('NOTICE', 'stopped');
    })();
    return this.stopping;
  }

  /** SIGKILLs every process group now (a second SIGTERM while stopping). */
  kill(): void {
    for (const entry of this.entries.values()) entry.kill();
  }

  private answer(request: ControlRequest): ControlResponse {
    switch (request.command) {
      case 'status':
        return { ok: true, ...this.status() };
      case 'scale':
      case 'reload': {
        const result =
          request.command === 'scale' ? this.scale(request.name, request.count) : this.reload();
        return result.ok
          ? { ok: true, message: result.message }
          : { ok: false, error: result.message };
      }
    }
  }

  /** (Re)creates the entry's watcher when its watch paths are new or changed. */
  private watch(entry: Entry): void {
    const paths = entry.spec.watch;
    const current = this.watchers.get(entry.name);
    if (current && current.paths.join('\0') === paths.join('\0')) return;
    void current?.close();
    this.watchers.delete(entry.name);
    if (paths.length === 0) return;
    const watcher = new ChangeWatcher(
      paths,
      (path) => entry.restartAll(`${path} changed`),
      (err) =>
        this.log.log('WARNING', `${entry.name}: watching ${paths.join(', ')}: ${err.message}`),
    );
    this.watchers.set(entry.name, watcher);
    void watcher.ready.then(() =>
      this.log.log('NOTICE', `${entry.name}: watching ${paths.join(', ')}`),
    );
  }

  private startAutoscaler(): void {
    void this.autoscaler?.close();
    this.autoscaler = undefined;
    if (!this.config.workers.some((w) => w.autoscale)) return;
    this.autoscaler = new Autoscaler(
      this.config.servers,
      () => this.entries.values(),
      this.config.autoscaleIntervalMs,
      this.log,
    );
    this.autoscaler.start();
  }
}
