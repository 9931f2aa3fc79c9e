import { pathToFileURL } from 'node:url';
/**
 * The `gearbox` binary: picks the subcommand and hands the rest of argv to it. Each subcommand
 * module exports `run(argv): Promise<number>` (the exit status) and is loaded only when used.
 */
const SUBCOMMANDS: Record<
  string,
  { summary: string; load: () => Promise<{ run(argv: string[]): Promise<number> }> }
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
    // The benchmark is compiled next to src/ in a checkout, not shipped in the package.
    load: () => import('../../bench/run.js'),
  },
};

function usage(): string {
  const lines = ['usage: gearbox <command> [options]', '', 'commands:'];
  for (const [name, cmd] of Object.entries(SUBCOMMANDS))
    lines.push(`  ${name.padEnd(10)} ${cmd.summary}`);
  lines.push('', 'Run `gearbox <command> --help` for the options of one command.');
  return lines.join('\n');
}

/** Runs the CLI and exits the process with the subcommand's status. */
export async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    process.exitCode = name === undefined ? 1 : 0;
    return;
  }
  const cmd = SUBCOMMANDS[name];
  if (!cmd) {
    console.error(`gearbox: unknown command '${name}'\n\n${usage()}`);
    process.exitCode = 2;
    return;
  }
  const module = await cmd.load();
  process.exitCode = await module.run(rest);
}

// Run when this file is the entry point (`node dist/src/cli/main.js …`), as tests and benchmarks
// start it; `bin/gearbox.js` imports it and calls main() itself.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
