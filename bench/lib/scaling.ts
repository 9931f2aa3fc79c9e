/**
 * Runs the scaling figures: for each figure, each point, each repeat and each line (server),
 * a freshly started server measured alone, lines alternating so a burst of other load on the
 * machine hits all of them. Points that would need more open files than the hard limit allows
 * are skipped with a note instead of failing half-way.
 */
import { loadavg } from 'node:os';
import { Agent } from './agent-pool.js';
import { describeMachine, formatValue, median } from './benchmark.js';
import { planFds, readFdLimits, type FdLimits } from './fd-limits.js';
import {
  FIGURES,
  type FigureSpec,
  type ScalingFigureName,
  type ScalingLoad,
  type ScalingSizes,
  type Series,
} from './scaling-figures.js';
import { startServer, type ServerKind, type ServerPaths } from './servers.js';
import type { Chart } from './svg-chart.js';

/** What to run. */
export interface ScalingOptions {
  readonly figures: readonly ScalingFigureName[];
  readonly servers: readonly ServerKind[];
  readonly sizes: ScalingSizes;
  readonly load: ScalingLoad;
  readonly paths: ServerPaths;
  /** Runs per point and line; the median is reported. */
  readonly repeat: number;
  readonly timeoutMs: number;
  /** Limits on open files; read from /proc/self/limits when not given. */
  readonly fdLimits?: FdLimits;
}

/** One point of one line of one figure. */
export interface ScalingPoint {
  readonly figure: ScalingFigureName;
  readonly series: string;
  readonly x: number;
  /** The median of each value over the runs; empty when skipped or failed. */
  readonly values: Record<string, number>;
  /** Every run's values. */
  readonly runs: Record<string, number>[];
  /** Jobs the load generator counted in each run, and the jobs it was asked for. */
  readonly jobsCounted: number[];
  readonly jobsExpected: number[];
  /** Why the point was not measured (open-file limit), or how it failed. */
  readonly skipped?: string;
  readonly failed?: string;
}

/** Everything a scaling run produced, as written to scaling.json. */
export interface ScalingRecord {
  readonly date: string;
  readonly machine: Record<string, string | number>;
  readonly fdLimits: { soft: number | string; hard: number | string };
  readonly sizes: ScalingSizes;
  readonly load: ScalingLoad;
  readonly repeat: number;
  readonly commandLines: Record<string, string>;
  readonly points: ScalingPoint[];
}

/** The most connections any chosen point holds, to size the load generators' limit. */
function mostConnections(options: ScalingOptions): number {
  let most = 0;
  for (const name of options.figures) {
    const spec = FIGURES[name];
    for (const x of spec.points(options.sizes)) most = Math.max(most, spec.connections(x));
  }
  return most;
}

/** The load generators' soft limit on open files: raised to what the largest point needs. */
function agentFdLimit(options: ScalingOptions, limits: FdLimits): number | undefined {
  const plan = planFds(mostConnections(options), limits, 'load generator');
  if (plan.ok) return plan.raiseTo;
  // Even the hard limit is not enough for the largest point: take it, skip what does not fit.
  return Number.isFinite(limits.hard) && limits.hard > limits.soft ? limits.hard : undefined;
}

async function runPoint(
  spec: FigureSpec,
  x: number,
  lines: readonly Series[],
  options: ScalingOptions,
  context: {
    agents: readonly [Agent, Agent];
    raiseTo: number | undefined;
    log: (l: string) => void;
  },
  commandLines: Record<string, string>,
): Promise<ScalingPoint[]> {
  const { log } = context;
  const runs = new Map<
    string,
    { values: Record<string, number>; counted: number; expected: number }[]
  >();
  const failed = new Map<string, string>();
  for (let r = 0; r < options.repeat; r++) {
    for (const line of lines) {
      if (failed.has(line.label)) continue;
      try {
        const server = await startServer(line.kind, options.paths, line.args, {
          fdLimit: context.raiseTo,
        });
        commandLines[line.label] = server.commandLine;
        log(`${spec.name} x=${x} on ${line.label} (pid ${server.pid}), run ${r + 1}`);
        try {
          const measured = await spec.run(
            {
              server,
              agents: context.agents,
              sizes: options.sizes,
              load: options.load,
              timeoutMs: options.timeoutMs,
              log,
            },
            x,
          );
          log(
            `  ${Object.entries(measured.values)
              .map(([k, v]) => `${k} ${formatValue(v)}`)
              .join(', ')}`,
          );
          runs.set(line.label, [
            ...(runs.get(line.label) ?? []),
            {
              values: measured.values,
              counted: measured.jobsCounted,
              expected: measured.jobsExpected,
            },
          ]);
        } finally {
          await server.stop();
        }
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        log(`  FAILED: ${message}`);
        failed.set(line.label, message);
      }
    }
  }
  return lines.map((line): ScalingPoint => {
    const lineRuns = runs.get(line.label) ?? [];
    const error = failed.get(line.label);
    const keys = Object.keys(lineRuns[0]?.values ?? {});
    return {
      figure: spec.name,
      series: line.label,
      x,
      values:
        error === undefined
          ? Object.fromEntries(
              keys.map((k) => [k, median(lineRuns.map((run) => run.values[k] ?? Number.NaN))]),
            )
          : {},
      runs: lineRuns.map((run) => run.values),
      jobsCounted: lineRuns.map((run) => run.counted),
      jobsExpected: lineRuns.map((run) => run.expected),
      ...(error === undefined ? {} : { failed: error }),
    };
  });
}

/** Fills in each deep-queue point's rate ÷ the same line's rate on the empty server. */
function relateToEmpty(points: ScalingPoint[]): void {
  for (const point of points) {
    if (point.figure !== 'deep-queue') continue;
    const empty = points.find(
      (p) => p.figure === 'deep-queue' && p.series === point.series && p.x === 0,
    );
    const base = empty?.values.rate;
    if (base === undefined || !(base > 0) || point.values.rate === undefined) continue;
    point.values['vs-empty'] = point.values.rate / base;
    point.runs.forEach((run, i) => {
      const emptyRun = empty?.runs[i]?.rate;
      if (run.rate !== undefined && emptyRun !== undefined && emptyRun > 0)
        run['vs-empty'] = run.rate / emptyRun;
    });
  }
}

/** Runs every chosen figure; `log` receives progress lines. */
export async function runScaling(
  options: ScalingOptions,
  log: (line: string) => void = () => undefined,
): Promise<ScalingRecord> {
  const limits = options.fdLimits ?? readFdLimits();
  const raised = agentFdLimit(options, limits);
  if (raised !== undefined) log(`load generators start with ulimit -S -n ${raised}`);
  const agents: [Agent, Agent] = [new Agent('A', raised), new Agent('B', raised)];
  const points: ScalingPoint[] = [];
  const commandLines: Record<string, string> = {};
  const loadAtStart = loadavg()[0] ?? 0;
  try {
    for (const name of options.figures) {
      const spec = FIGURES[name];
      const lines = spec.series(options.servers);
      if (lines.length === 0) {
        log(`${name}: no server to run it on (the null server cannot)`);
        continue;
      }
      for (const x of spec.points(options.sizes)) {
        const plan = planFds(spec.connections(x), limits, 'load generator and in the server');
        if (!plan.ok) {
          log(`${name} x=${x}: ${plan.note}`);
          for (const line of lines)
            points.push({
              figure: name,
              series: line.label,
              x,
              values: {},
              runs: [],
              jobsCounted: [],
              jobsExpected: [],
              skipped: plan.note,
            });
          continue;
        }
        points.push(
          ...(await runPoint(
            spec,
            x,
            lines,
            options,
            { agents, raiseTo: plan.raiseTo, log },
            commandLines,
          )),
        );
      }
    }
  } finally {
    await Promise.all(agents.map((a) => a.stop()));
  }
  relateToEmpty(points);
  const show = (n: number): number | string => (Number.isFinite(n) ? n : 'unlimited');
  return {
    date: new Date().toISOString(),
    machine: {
      ...describeMachine(options.paths),
      loadAverage1mAtStart: loadAtStart,
      loadAverage1mAtEnd: loadavg()[0] ?? 0,
    },
    fdLimits: { soft: show(limits.soft), hard: show(limits.hard) },
    sizes: options.sizes,
    load: options.load,
    repeat: options.repeat,
    commandLines,
    points,
  };
}

/** The lines of a figure in the record, in the order they were run. */
function linesOf(record: ScalingRecord, figure: ScalingFigureName): string[] {
  return [...new Set(record.points.filter((p) => p.figure === figure).map((p) => p.series))];
}

/** The chart of one figure of the record. */
export function scalingChart(record: ScalingRecord, figure: ScalingFigureName): Chart {
  const spec = FIGURES[figure];
  const xs = spec.points(record.sizes);
  const lines = linesOf(record, figure);
  const at = (series: string, x: number, key: string): number | undefined =>
    record.points.find((p) => p.figure === figure && p.series === series && p.x === x)?.values[key];
  return {
    title: spec.title,
    xTitle: spec.xTitle,
    xLabels: xs.map((x) => x.toLocaleString('en-US')),
    note: `${record.date.slice(0, 10)} · ${String(record.machine.cpu)} × ${String(record.machine.cores)} · ${record.load.pattern} pattern · median of ${record.repeat}`,
    panels: spec.values.map((v) => ({
      title: v.label,
      unit: v.unit,
      series: lines.map((name) => ({ name, values: xs.map((x) => at(name, x, v.key)) })),
    })),
  };
}

/** One figure of the record as a Markdown table: a row per point and line. */
export function scalingTable(record: ScalingRecord, figure: ScalingFigureName): string {
  const spec = FIGURES[figure];
  const header = [spec.xTitle, 'server', ...spec.values.map((v) => `${v.label} (${v.unit})`)];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  for (const p of record.points.filter((q) => q.figure === figure)) {
    const cells = spec.values.map((v) => {
      if (p.skipped !== undefined) return 'skipped';
      if (p.failed !== undefined) return 'failed';
      const value = p.values[v.key];
      return value === undefined ? '—' : formatValue(value);
    });
    lines.push(`| ${[p.x.toLocaleString('en-US'), p.series, ...cells].join(' | ')} |`);
  }
  const notes = [
    ...new Set(
      record.points
        .filter((p) => p.figure === figure)
        .flatMap((p) => [p.skipped, p.failed].filter((n): n is string => n !== undefined)),
    ),
  ];
  return [...lines, ...notes.map((n) => `\n- ${n}`)].join('\n');
}
