/**
 * The `gearbox` binary: picks the subcommand and hands the rest of argv to it. Each subcommand
 * module exports `run(argv): Promise<number>` (the exit status) and is loaded only when used.
 * A `UsageError` a subcommand throws is printed here, in the one format every command shares,
 * with exit status 2.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseOptions } from './options.js';
import { UsageError, usageLine } from './usage-error.js';

interface Subcommand {
  run(argv: string[]): Promise<number>;
}

/** What `gearbox bench` says outside a checkout. */
export const BENCH_NEEDS_CHECKOUT =
  'gearbox bench runs only in a Gearbox source checkout (npm run bench)';

/**
 * Loads the benchmark where a source checkout compiles it: `dist/bench/run.js`, beside
 * `dist/src/`. The package ships only `dist/src`, so the path is computed at run time rather
 * than imported: the CLI does not depend on bench/ (a layer rule), and an installed gearbox says
 * why it has no bench instead of failing with ERR_MODULE_NOT_FOUND.
 */
async function loadBench(): Promise<Subcommand | undefined> {
  const entry = new URL('../../bench/run.js', import.meta.url);
  if (!existsSync(fileURLToPath(entry))) return undefined;
  return (await import(entry.href)) as Subcommand;
}

const SUBCOMMANDS: Record<
  string,
  { summary: string; load: () => Promise<Subcommand | undefined>; missing?: string }
> = {
  server: {
    summary: 'run the Gearman job server (accepts gearmand flags)',
    load: () => import('./server.js'),
  },
  submit: {
    summary: "submit a job, like the `gearman` tool's client mode",
    load: () => import('./submit.js'),
  },
  worker: {
    summary: 'run a command for each job, like `gearman -w`',
    load: () => import('./worker.js'),
  },
  admin: { summary: 'administer servers, like `gearadmin`', load: () => import('./admin.js') },
  scheduler: {
    summary: 'run the delayed-job service (gearbox.schedule and friends)',
    load: () => import('./scheduler.js'),
  },
  manager: {
    summary: 'run, restart, scale and gracefully stop worker processes',
    load: () => import('./manager.js'),
  },
  bench: {
    summary: 'benchmark gearbox server against Debian gearmand (from a source checkout)',
    load: loadBench,
    missing: BENCH_NEEDS_CHECKOUT,
  },
};

const MAIN_OPTIONS = [
  { name: 'help', short: 'h', help: 'print this help and exit' },
  { name: 'version', short: 'V', help: 'print the version and exit' },
] as const;

function usage(): string {
  const lines = [
    'usage: gearbox <command> [options]',
    '       gearbox help <command>',
    '       gearbox --version',
    '',
    'commands:',
  ];
  for (const [name, cmd] of Object.entries(SUBCOMMANDS))
    lines.push(`  ${name.padEnd(10)} ${cmd.summary}`);
  lines.push('', 'Run `gearbox <command> --help` for the options of one command.');
  return lines.join('\n');
}

async function version(): Promise<string> {
  const { gearboxVersion } = await import('../server/start-server.js');
  return `gearbox ${gearboxVersion()}`;
}

/** Runs one command line; resolves to the exit status. */
async function dispatch(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    console.log(usage());
    return 1;
  }
  if (first.startsWith('-')) {
    // Only the first argument, as before: `gearbox --help anything` is still the help.
    const options = parseOptions('', MAIN_OPTIONS, [first]);
    if (options.has('version')) console.log(await version());
    else console.log(usage());
    return 0;
  }
  let name = first;
  let args = rest;
  if (first === 'help') {
    if (rest.length === 0) {
      console.log(usage());
      return 0;
    }
    if (rest.length > 1)
      throw new UsageError('UNKNOWN_FLAG', `help takes one command name, not ${rest.length}`);
    name = rest[0] ?? '';
    args = ['--help'];
  }
  const cmd = SUBCOMMANDS[name];
  if (!cmd) throw new UsageError('UNKNOWN_FLAG', `unknown command '${name}'`);
  const module = await cmd.load();
  if (!module) {
    console.error(cmd.missing ?? `gearbox ${name} is not available here`);
    return 2;
  }
  try {
    return await module.run(args);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(usageLine(name, err.message));
      return 2;
    }
    throw err;
  }
}

/** Runs the CLI and exits the process with the subcommand's status. */
export async function main(argv: string[]): Promise<void> {
  try {
    process.exitCode = await dispatch(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(usageLine(undefined, err.message));
    process.exitCode = 2;
  }
}

// Run when this file is the entry point (`node dist/src/cli/main.js …`), as tests and benchmarks
// start it; `bin/gearbox.js` imports it and calls main() itself.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
