/**
 * `npm run bench`: runs Gearbox and Debian's gearmand one after another in the same invocation
 * and prints each figure with the ratio and the target. See bench/README.md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { stopChildrenOnSignals } from './lib/children.js';
import { pickList, positiveInt } from './lib/options.js';
import { markdownTable, runBenchmark, tableRows } from './lib/benchmark.js';
import {
  DEFAULT_SHAPE,
  FULL_SIZES,
  QUICK_SIZES,
  SCENARIO_NAMES,
  type ScenarioName,
  type Sizes,
} from './lib/scenarios.js';
import {
  DEFAULT_SERVER_KINDS,
  SERVER_KINDS,
  defaultServerPaths,
  type ServerKind,
} from './lib/servers.js';
import type { BenchmarkOptions } from './lib/benchmark.js';
import type { UniqueMode } from './lib/submit-packets.js';

const USAGE = `usage: node dist/bench/run.js [options]

  --scenario LIST     comma-separated, from: ${SCENARIO_NAMES.join(', ')} (default: all)
  --servers LIST      comma-separated, from: ${SERVER_KINDS.join(', ')}, or all
                      (default: ${DEFAULT_SERVER_KINDS.join(',')}; null runs the bg-submit
                      scenarios only and is skipped, with a note, for the others)
  --jobs N            jobs for the bg-submit, end-to-end, fg-latency and fg-throughput
                      scenarios (both patterns)
  --queued N          jobs queued in the memory and deep-queue scenarios (default 1000000)
  --probe N           submits timed in deep-queue, empty and full (default 100000)
  --library-jobs N    10 MB jobs in library-10mb (default ${FULL_SIZES.libraryJobs})
  --quick             tiny sizes, for a smoke run
  --repeat N          runs per scenario and server; the median is reported (default 1)
  --window N          streaming: unacknowledged background submits per connection (default ${DEFAULT_SHAPE.submitWindow})
  --fg-window N       streaming: foreground jobs in flight per client in fg-throughput (default ${DEFAULT_SHAPE.foregroundWindow})
  --batch N           libgearman pattern: jobs per batch, waited for before the next (default ${DEFAULT_SHAPE.batchSize})
  --connections N     submitting connections in bg-submit (default ${DEFAULT_SHAPE.submitConnections})
  --e2e-workers N     workers in end-to-end (default ${DEFAULT_SHAPE.e2eWorkers})
  --agents 1|2        load-generator processes: 2 = workers and clients apart (default ${DEFAULT_SHAPE.agents})
  --uniques MODE      distinct (a UUID-shaped id per job, as libgearman sends) or empty (default ${DEFAULT_SHAPE.uniques})
  --gearmand PATH     gearmand binary (default ${defaultServerPaths.gearmand})
  --gearbox-main PATH compiled gearbox CLI (default: next to this script)
  --profile DIR       run gearbox server under node --cpu-prof, profiles into DIR
  --timeout SECONDS   limit for one load phase (default 600)
  --out FILE          where to write the JSON record (default bench/results/<date>.json)
  --no-save           do not write the JSON record
  -h, --help          this text`;

/** Parsed command line. */
interface CommandLine {
  options: BenchmarkOptions;
  out: string | undefined;
}

function parse(argv: string[]): CommandLine | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      scenario: { type: 'string' },
      servers: { type: 'string' },
      jobs: { type: 'string' },
      queued: { type: 'string' },
      probe: { type: 'string' },
      'library-jobs': { type: 'string' },
      quick: { type: 'boolean' },
      repeat: { type: 'string' },
      window: { type: 'string' },
      'fg-window': { type: 'string' },
      batch: { type: 'string' },
      connections: { type: 'string' },
      'e2e-workers': { type: 'string' },
      agents: { type: 'string' },
      uniques: { type: 'string' },
      gearmand: { type: 'string' },
      'gearbox-main': { type: 'string' },
      profile: { type: 'string' },
      timeout: { type: 'string' },
      out: { type: 'string' },
      'no-save': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) return 'help';
  const base = values.quick ? QUICK_SIZES : FULL_SIZES;
  const jobs = values.jobs === undefined ? undefined : positiveInt('--jobs', values.jobs, 0);
  const sizes: Sizes = {
    bgJobs: jobs ?? base.bgJobs,
    e2eJobs: jobs ?? base.e2eJobs,
    latencyJobs: jobs ?? base.latencyJobs,
    fgJobs: jobs ?? base.fgJobs,
    queuedJobs: positiveInt('--queued', values.queued, base.queuedJobs),
    probeJobs: positiveInt('--probe', values.probe, base.probeJobs),
    libraryJobs: positiveInt('--library-jobs', values['library-jobs'], base.libraryJobs),
  };
  const profileDir = values.profile === undefined ? undefined : resolve(values.profile);
  const options: BenchmarkOptions = {
    scenarios: pickList<ScenarioName>('--scenario', values.scenario, SCENARIO_NAMES),
    servers: pickList<ServerKind>('--servers', values.servers, SERVER_KINDS, DEFAULT_SERVER_KINDS),
    sizes,
    shape: {
      submitWindow: Math.max(1, positiveInt('--window', values.window, DEFAULT_SHAPE.submitWindow)),
      foregroundWindow: Math.max(
        1,
        positiveInt('--fg-window', values['fg-window'], DEFAULT_SHAPE.foregroundWindow),
      ),
      submitConnections: Math.max(
        1,
        positiveInt('--connections', values.connections, DEFAULT_SHAPE.submitConnections),
      ),
      uniques:
        pickList<UniqueMode>('--uniques', values.uniques ?? DEFAULT_SHAPE.uniques, [
          'distinct',
          'empty',
        ])[0] ?? DEFAULT_SHAPE.uniques,
      agents: positiveInt('--agents', values.agents, DEFAULT_SHAPE.agents) === 1 ? 1 : 2,
      e2eWorkers: Math.max(
        1,
        positiveInt('--e2e-workers', values['e2e-workers'], DEFAULT_SHAPE.e2eWorkers),
      ),
      batchSize: Math.max(1, positiveInt('--batch', values.batch, DEFAULT_SHAPE.batchSize)),
    },
    paths: {
      gearmand: values.gearmand ?? defaultServerPaths.gearmand,
      gearboxMain: values['gearbox-main'] ?? defaultServerPaths.gearboxMain,
      ...(profileDir === undefined ? {} : { profileDir }),
    },
    repeat: Math.max(1, positiveInt('--repeat', values.repeat, 1)),
    timeoutMs: positiveInt('--timeout', values.timeout, 600) * 1000,
  };
  const out = values['no-save']
    ? undefined
    : (values.out ??
      join('bench', 'results', `${new Date().toISOString().replace(/[:.]/g, '-')}.json`));
  return { options, out };
}

/** Runs the benchmark from a command line; returns the exit status. */
export async function run(argv: string[]): Promise<number> {
  let parsed: CommandLine | 'help';
  try {
    parsed = parse(argv);
  } catch (err) {
    console.error(`bench: ${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`);
    return 2;
  }
  if (parsed === 'help') {
    console.log(USAGE);
    return 0;
  }
  const { options, out } = parsed;
  if (options.paths.profileDir !== undefined)
    mkdirSync(options.paths.profileDir, { recursive: true });
  const record = await runBenchmark(options, (line) => console.error(line));
  const table = markdownTable(tableRows(record));
  console.log(`\n${table}\n`);
  const skips = [...new Set(record.skipped.map((s) => `${s.server} (${s.reason})`))];
  for (const skip of skips) console.log(`skipped where it cannot run: ${skip}`);
  for (const f of record.failures) console.log(`FAILED: ${f.scenario} on ${f.server}: ${f.error}`);
  if (out !== undefined) {
    mkdirSync(resolve(out, '..'), { recursive: true });
    writeFileSync(out, `${JSON.stringify({ ...record, table: tableRows(record) }, null, 2)}\n`);
    console.error(`record written to ${out}`);
  }
  return record.failures.length === 0 ? 0 : 1;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  stopChildrenOnSignals('bench');
  run(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
