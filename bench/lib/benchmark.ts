/**
 * Runs the chosen scenarios on each chosen server, one server at a time (never two at once),
 * each (scenario, server) on a freshly started server, and gathers the figures.
 */
import { execFileSync } from 'node:child_process';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { Agent } from './agent-pool.js';
import { METRICS, type Figures } from './metrics.js';
import {
  SCENARIOS,
  type LoadShape,
  type Measurement,
  type ScenarioName,
  type Sizes,
} from './scenarios.js';
import { startServer, type ServerKind, type ServerPaths } from './servers.js';

/** What to run. */
export interface BenchmarkOptions {
  readonly scenarios: readonly ScenarioName[];
  readonly servers: readonly ServerKind[];
  readonly sizes: Sizes;
  readonly shape: LoadShape;
  readonly paths: ServerPaths;
  /** Runs per (scenario, server); the median is reported. */
  readonly repeat: number;
  /** Time limit of one load phase. */
  readonly timeoutMs: number;
}

/** One figure on one server, over its repeated runs. */
export interface RecordedMeasurement extends Measurement {
  readonly server: ServerKind;
  /** Every run's value; `value` is their median. */
  readonly runs: number[];
}

/** Everything a run produced, as written to bench/results/*.json. */
export interface BenchmarkRecord {
  readonly date: string;
  readonly machine: Record<string, string | number>;
  readonly sizes: Sizes;
  readonly shape: LoadShape;
  readonly repeat: number;
  readonly commandLines: Partial<Record<ServerKind, string>>;
  readonly measurements: RecordedMeasurement[];
  /** Scenario/server pairs that failed, with the reason. */
  readonly failures: { scenario: ScenarioName; server: ServerKind; error: string }[];
  /** Scenario/server pairs not run because the server cannot run them (the null server). */
  readonly skipped: { scenario: ScenarioName; server: ServerKind; reason: string }[];
}

/** Why the null server sits out every scenario but the background submits. */
const NULL_SKIP = 'the null server only answers background submits';

/** The median; the mean of the middle two for an even count. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function gearmandVersion(path: string): string {
  try {
    return execFileSync(path, ['--version'], { encoding: 'utf8', timeout: 5000 }).trim();
  } catch {
    return 'unknown';
  }
}

/** Facts about the machine, for the record. */
export function describeMachine(paths: ServerPaths): Record<string, string | number> {
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    node: process.version,
    gearmand: gearmandVersion(paths.gearmand),
  };
}

/** Runs the benchmark; `log` receives progress lines. */
export async function runBenchmark(
  options: BenchmarkOptions,
  log: (line: string) => void = () => undefined,
): Promise<BenchmarkRecord> {
  const agents: [Agent, Agent] = [new Agent('A'), new Agent('B')];
  const measurements: RecordedMeasurement[] = [];
  const failures: BenchmarkRecord['failures'] = [];
  const skipped: BenchmarkRecord['skipped'] = [];
  const commandLines: BenchmarkRecord['commandLines'] = {};
  const loadAtStart = loadavg()[0] ?? 0;
  try {
    for (const name of options.scenarios) {
      const scenario = SCENARIOS[name];
      const runs = new Map<ServerKind, Measurement[][]>();
      const servers = options.servers.filter((kind) => {
        if (kind !== 'null' || scenario.nullServer === true) return true;
        skipped.push({ scenario: name, server: kind, reason: NULL_SKIP });
        log(`${name} on null: skipped (${NULL_SKIP})`);
        return false;
      });
      // Repeats alternate between the servers, so a burst of other load on the machine hits
      // both rather than one.
      for (let i = 0; i < options.repeat; i++) {
        for (const kind of servers) {
          if (failures.some((f) => f.scenario === name && f.server === kind)) continue;
          try {
            const server = await startServer(kind, options.paths);
            commandLines[kind] = server.commandLine;
            log(`${name} on ${kind} (pid ${server.pid}, port ${server.port}), run ${i + 1}`);
            try {
              const figures = await scenario.run({
                server,
                agents,
                sizes: options.sizes,
                shape: options.shape,
                timeoutMs: options.timeoutMs,
                log,
              });
              for (const m of figures) log(`  ${m.key} = ${formatValue(m.value)}`);
              runs.set(kind, [...(runs.get(kind) ?? []), figures]);
            } finally {
              await server.stop();
            }
          } catch (err) {
            const error = err instanceof Error ? err.message : String(err);
            log(`  FAILED: ${error}`);
            failures.push({ scenario: name, server: kind, error });
          }
        }
      }
      for (const kind of servers) {
        const kindRuns = runs.get(kind) ?? [];
        if (failures.some((f) => f.scenario === name && f.server === kind)) continue;
        for (const [index, first] of (kindRuns[0] ?? []).entries()) {
          const values = kindRuns.map((r) => r[index]?.value ?? Number.NaN);
          const recorded: RecordedMeasurement = {
            ...first,
            server: kind,
            value: median(values),
            runs: values,
          };
          measurements.push(recorded);
          if (options.repeat > 1)
            log(
              `  ${kind} ${first.key}: median ${formatValue(recorded.value)} of ${values.map(formatValue).join(', ')}`,
            );
        }
      }
      if (scenario.nullServer === true) {
        for (const share of nullShares(name, measurements)) {
          measurements.push(share);
          log(`  ${share.server} ${share.key} = ${formatValue(share.value)}`);
        }
      }
    }
  } finally {
    await Promise.all(agents.map((a) => a.stop()));
  }
  return {
    date: new Date().toISOString(),
    machine: {
      ...describeMachine(options.paths),
      loadAverage1mAtStart: loadAtStart,
      loadAverage1mAtEnd: loadavg()[0] ?? 0,
    },
    sizes: options.sizes,
    shape: options.shape,
    repeat: options.repeat,
    commandLines,
    measurements,
    failures,
    skipped,
  };
}

/**
 * Each server's `<scenario>.rate` as a share of the null server's in the same run: the median
 * divided by the null server's median, with the runs divided pairwise (they alternate, so run
 * i of each server saw the same moment of the machine).
 */
export function nullShares(
  scenario: ScenarioName,
  measurements: readonly RecordedMeasurement[],
): RecordedMeasurement[] {
  const key = `${scenario}.rate`;
  const base = measurements.find((m) => m.key === key && m.server === 'null');
  if (base === undefined || base.value <= 0) return [];
  return measurements
    .filter((m) => m.key === key && m.server !== 'null')
    .map((m) => ({
      ...m,
      key: `${scenario}.share-of-null`,
      value: m.value / base.value,
      runs: m.runs.map((v, i) => v / (base.runs[i] ?? Number.NaN)),
    }));
}

/** A figure rounded for people: integers for big numbers, two decimals for ratios. */
export function formatValue(value: number): string {
  if (!Number.isFinite(value)) return '—';
  if (Math.abs(value) >= 100) return Math.round(value).toLocaleString('en-US');
  return value.toFixed(2);
}

/** One line of the results table. */
export interface TableRow {
  readonly metric: string;
  readonly unit: string;
  readonly null: string;
  readonly gearmand: string;
  readonly gearmandDefault: string;
  readonly gearbox: string;
  readonly ratio: string;
  readonly target: string;
  readonly met: string;
  readonly issueGearmand: string;
}

/** The table: one row per metric that was measured on some server. */
export function tableRows(record: BenchmarkRecord): TableRow[] {
  const rows: TableRow[] = [];
  for (const spec of METRICS) {
    const pick = (server: ServerKind): number | undefined =>
      record.measurements.find((m) => m.key === spec.key && m.server === server)?.value;
    const figures: Figures = {
      null: pick('null'),
      gearmand: pick('gearmand'),
      gearmandDefault: pick('gearmand-default'),
      gearbox: pick('gearbox'),
    };
    if (Object.values(figures).every((v) => v === undefined)) continue;
    const show = (v: number | undefined): string => (v === undefined ? '—' : formatValue(v));
    const ratio =
      spec.compare !== false &&
      figures.gearbox !== undefined &&
      figures.gearmand !== undefined &&
      figures.gearmand !== 0
        ? `${(figures.gearbox / figures.gearmand).toFixed(2)}×`
        : '—';
    const met = spec.met(figures);
    rows.push({
      metric: spec.label,
      unit: spec.unit,
      null: show(figures.null),
      gearmand: show(figures.gearmand),
      gearmandDefault: show(figures.gearmandDefault),
      gearbox: show(figures.gearbox),
      ratio,
      target: spec.target,
      met: met === undefined ? '—' : met ? 'met' : 'NOT met',
      issueGearmand: spec.issueGearmand,
    });
  }
  return rows;
}

/** The table as Markdown. */
export function markdownTable(rows: readonly TableRow[]): string {
  const header = [
    'metric',
    'unit',
    'null server',
    'gearmand tuned',
    'gearmand default',
    'Gearbox',
    'Gearbox ÷ tuned',
    'target',
    'met',
    'issue’s gearmand figure',
  ];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  for (const r of rows) {
    lines.push(
      `| ${[r.metric, r.unit, r.null, r.gearmand, r.gearmandDefault, r.gearbox, r.ratio, r.target, r.met, r.issueGearmand].join(' | ')} |`,
    );
  }
  return lines.join('\n');
}

/** Every metric key, for validating options and tests. */
export const METRIC_KEYS: readonly string[] = METRICS.map((m) => m.key);
