/**
 * How cost grows (issue 16, part 4): rate, server CPU per job and server memory at 10, 1,000
 * and 10,000 connections (idle and active), 1, 100 and 10,000 functions, 1, 100 and 10,000
 * sleeping workers per function (default wake-up and `-w 1`), and 0 to 1M jobs queued; one line
 * per server, one SVG chart per figure. See bench/README.md.
 *
 *   node dist/bench/scaling.js [--quick] [--figures LIST] [--servers LIST] [--repeat N] [--out DIR]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { stopChildrenOnSignals } from './lib/children.js';
import { numberList, pickList, positiveInt } from './lib/options.js';
import {
  FULL_SCALING_SIZES,
  QUICK_SCALING_SIZES,
  SCALING_FIGURES,
  type ScalingFigureName,
  type ScalingSizes,
} from './lib/scaling-figures.js';
import { runScaling, scalingChart, scalingTable, type ScalingOptions } from './lib/scaling.js';
import {
  DEFAULT_SERVER_KINDS,
  SERVER_KINDS,
  defaultServerPaths,
  type ServerKind,
} from './lib/servers.js';
import { svgChart } from './lib/svg-chart.js';
import { PATTERNS, type Pattern } from './lib/tasks.js';

const F = FULL_SCALING_SIZES;
const USAGE = `usage: node dist/bench/scaling.js [options]

  --figures LIST       comma-separated, from: ${SCALING_FIGURES.join(', ')} (default: all)
  --servers LIST       from: ${SERVER_KINDS.join(', ')}, or all (default: ${DEFAULT_SERVER_KINDS.join(',')});
                       null draws a line in the connection figures only; in the workers
                       figure each server is run twice, as is and with -w 1
  --connections LIST   points of the connection figures (default ${F.connections.join(',')})
  --functions LIST     points of the functions figure (default ${F.functions.join(',')})
  --workers LIST       points of the workers figure (default ${F.workers.join(',')})
  --queued LIST        points of the deep-queue figure (default ${F.queued.join(',')})
  --jobs N             submits per rate measurement (default ${F.jobs})
  --worker-jobs N      background jobs per point of the workers figure (default ${F.workerJobs})
  --latency-jobs N     sequential foreground jobs per point of the workers figure (default ${F.latencyJobs})
  --pattern P          ${PATTERNS.join(' or ')} (default libgearman)
  --batch N            libgearman: jobs per batch (default 100)
  --window N           stream: unacknowledged submits per connection (default 1000)
  --quick              tiny points and sizes, for a smoke run
  --repeat N           runs per point and server, alternating; the median is drawn (default 1)
  --gearmand PATH      gearmand binary (default ${defaultServerPaths.gearmand})
  --gearbox-main PATH  compiled gearbox CLI (default: next to this script)
  --timeout SECONDS    limit for one load phase (default 600)
  --out DIR            where scaling.json and the SVG charts go (default bench/results/scaling)
  -h, --help           this text`;

function parse(argv: string[]): { options: ScalingOptions; out: string } | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      figures: { type: 'string' },
      servers: { type: 'string' },
      connections: { type: 'string' },
      functions: { type: 'string' },
      workers: { type: 'string' },
      queued: { type: 'string' },
      jobs: { type: 'string' },
      'worker-jobs': { type: 'string' },
      'latency-jobs': { type: 'string' },
      pattern: { type: 'string' },
      batch: { type: 'string' },
      window: { type: 'string' },
      quick: { type: 'boolean' },
      repeat: { type: 'string' },
      gearmand: { type: 'string' },
      'gearbox-main': { type: 'string' },
      timeout: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  const base = values.quick ? QUICK_SCALING_SIZES : FULL_SCALING_SIZES;
  const sizes: ScalingSizes = {
    connections: numberList('--connections', values.connections, base.connections).map((x) =>
      Math.max(1, x),
    ),
    functions: numberList('--functions', values.functions, base.functions).map((x) =>
      Math.max(1, x),
    ),
    workers: numberList('--workers', values.workers, base.workers).map((x) => Math.max(1, x)),
    queued: numberList('--queued', values.queued, base.queued),
    jobs: Math.max(1, positiveInt('--jobs', values.jobs, base.jobs)),
    workerJobs: Math.max(1, positiveInt('--worker-jobs', values['worker-jobs'], base.workerJobs)),
    latencyJobs: Math.max(
      1,
      positiveInt('--latency-jobs', values['latency-jobs'], base.latencyJobs),
    ),
  };
  const pattern: Pattern =
    pickList('--pattern', values.pattern, PATTERNS, ['libgearman'])[0] ?? 'libgearman';
  const window =
    pattern === 'libgearman'
      ? Math.max(1, positiveInt('--batch', values.batch, 100))
      : Math.max(1, positiveInt('--window', values.window, 1000));
  return {
    options: {
      figures: pickList<ScalingFigureName>('--figures', values.figures, SCALING_FIGURES),
      servers: pickList<ServerKind>(
        '--servers',
        values.servers,
        SERVER_KINDS,
        DEFAULT_SERVER_KINDS,
      ),
      sizes,
      load: { pattern, window, uniques: 'distinct' },
      paths: {
        gearmand: values.gearmand ?? defaultServerPaths.gearmand,
        gearboxMain: values['gearbox-main'] ?? defaultServerPaths.gearboxMain,
      },
      repeat: Math.max(1, positiveInt('--repeat', values.repeat, 1)),
      timeoutMs: Math.max(1, positiveInt('--timeout', values.timeout, 600)) * 1000,
    },
    out: resolve(values.out ?? join('bench', 'results', 'scaling')),
  };
}

/** Runs the scaling figures from a command line; returns the exit status. */
export async function run(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    console.error(`scaling: ${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`);
    return 2;
  }
  if (parsed === 'help') {
    console.log(USAGE);
    return 0;
  }
  const { options, out } = parsed;
  const record = await runScaling(options, (line) => console.error(line));
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'scaling.json'), `${JSON.stringify(record, null, 2)}\n`);
  for (const figure of options.figures) {
    const file = join(out, `${figure}.svg`);
    writeFileSync(file, svgChart(scalingChart(record, figure)));
    console.log(`\n### ${figure} (${file})\n\n${scalingTable(record, figure)}`);
  }
  console.error(`\nrecord and charts written to ${out}`);
  return record.points.some((p) => p.failed !== undefined) ? 1 : 0;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  stopChildrenOnSignals('scaling');
  run(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
