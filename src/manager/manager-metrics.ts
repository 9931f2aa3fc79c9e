/**
 * The manager's own Prometheus metrics, on `web_port` (`/metrics`; `/status` gives the status
 * report as JSON). Every gauge and counter is computed from the entries when scraped, so
 * supervising pays nothing for being watched.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Backlog } from './autoscaler.js';
import type { StatusReport } from './control-protocol.js';
import type { Entry } from './entry.js';

/** What the metrics read. */
export interface MetricsSource {
  entries(): Iterable<Entry>;
  backlog(name: string): Backlog | undefined;
  status(): StatusReport;
}

const STATES = ['starting', 'running', 'stopping', 'backoff', 'crashloop'] as const;

/** A registry with the `gearbox_manager_*` metrics. */
export function managerRegistry(source: MetricsSource): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'gearbox_manager_' });
  new Gauge({
    name: 'gearbox_manager_processes',
    help: 'Processes (and slots waiting to restart) of each entry, by state',
    labelNames: ['entry', 'state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const entry of source.entries()) {
        const counts = new Map<string, number>(STATES.map((s) => [s, 0]));
        for (const row of entry.rows()) counts.set(row.state, (counts.get(row.state) ?? 0) + 1);
        for (const [state, n] of counts) this.set({ entry: entry.name, state }, n);
      }
    },
  });
  new Gauge({
    name: 'gearbox_manager_desired_processes',
    help: 'Processes each entry is converging to (count, scale or autoscale)',
    labelNames: ['entry'],
    registers: [registry],
    collect() {
      this.reset();
      for (const entry of source.entries()) this.set({ entry: entry.name }, entry.desired);
    },
  });
  new Counter({
    name: 'gearbox_manager_restarts_total',
    help: 'Processes restarted after they exited (crashes, retirements)',
    labelNames: ['entry'],
    registers: [registry],
    collect() {
      this.reset();
      for (const entry of source.entries()) this.inc({ entry: entry.name }, entry.totals.restarts);
    },
  });
  new Counter({
    name: 'gearbox_manager_jobs_done_total',
    help: 'Jobs finished by the processes of module and exec entries',
    labelNames: ['entry'],
    registers: [registry],
    collect() {
      this.reset();
      for (const entry of source.entries())
        if (entry.spec.kind !== 'command') this.inc({ entry: entry.name }, entry.totals.jobsDone);
    },
  });
  new Gauge({
    name: 'gearbox_manager_jobs_running',
    help: 'Jobs running now in the processes of module and exec entries',
    labelNames: ['entry'],
    registers: [registry],
    collect() {
      this.reset();
      for (const entry of source.entries()) {
        if (entry.spec.kind === 'command') continue;
        let running = 0;
        for (const p of entry.processes()) running += p.currentJobs?.length ?? 0;
        this.set({ entry: entry.name }, running);
      }
    },
  });
  new Gauge({
    name: 'gearbox_manager_backlog_jobs',
    help: "Jobs of an autoscaled entry's functions on the servers at the last reading",
    labelNames: ['entry', 'state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const entry of source.entries()) {
        const backlog = source.backlog(entry.name);
        if (backlog === undefined) continue;
        this.set({ entry: entry.name, state: 'queued' }, backlog.queued);
        this.set({ entry: entry.name, state: 'running' }, backlog.running);
      }
    },
  });
  return registry;
}

/** Serves `/metrics` and `/status` on host:port; resolves once listening. */
export async function serveMetrics(
  source: MetricsSource,
  host: string,
  port: number,
): Promise<Server> {
  const registry = managerRegistry(source);
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
    } else if (path === '/metrics') {
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        (err: Error) => res.writeHead(500).end(err.message),
      );
    } else if (path === '/status') {
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(`${JSON.stringify(source.status())}\n`);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics\n');
    }
  });
  server.listen(port, host);
  await Promise.race([
    once(server, 'listening'),
    once(server, 'error').then(([err]) => {
      throw err;
    }),
  ]);
  return server;
}
