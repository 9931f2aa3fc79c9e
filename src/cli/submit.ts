/**
 * `gearbox submit`: the `gearman` tool's client mode. Each argument is the workload of one job
 * (none: the workload is read from stdin); results are written to stdout as they arrive
 * (WORK_DATA chunks, then the final result). Exit status 0 when every job succeeded, 1 when a
 * job failed or no server could be reached, 2 for bad usage.
 */
import { Client } from '../client/client.js';
import type { PriorityName } from '../client/client.js';
import { HELP_OPTION, serverListOptions, serversFromOptions } from './common-options.js';
import { formatHelp, parseOptions } from './options.js';
import { positiveInteger } from './option-values.js';
import { UsageError } from './usage-error.js';


/** Every option of `gearbox submit`, in the order `--help` lists them. */
export const SUBMIT_OPTIONS = [
  {
    name: 'function',
    short: 'f',
    value: 'NAME',
    repeat: 'once',
    help: 'function to call (required)',
  },
  ...serverListOptions(),
  {
    name: 'background',
    short: 'b',
    help: 'submit in the background; prints nothing (the handle with -v)',
  },
  { name: 'high', short: 'I', help: 'high priority' },
  { name: 'low', short: 'L', help: 'low priority' },
  { name: 'unique', short: 'u', value: 'ID', help: 'unique id of the job', default: 'none' },
  { name: 'no-stdin', short: 's', help: 'send an empty workload instead of reading stdin' },
  {
    name: 'timeout',
    short: 't',
    value: 'MS',
    help: 'give up on a job after MS milliseconds',
    default: 'none',
  },
  { name: 'verbose', short: 'v', help: 'print job handles on stderr' },
  HELP_OPTION,
] as const;

const HELP = formatHelp(
  {
    usage: 'usage: gearbox submit -f FUNCTION [options] [WORKLOAD ...]',
    about:
      'Submits one job per WORKLOAD argument (or one job with stdin as the workload) and prints the ' +
      'results on stdout, like `gearman -f FUNCTION`.',
  },
  SUBMIT_OPTIONS,
);

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function write(bytes: Uint8Array): Promise<void> {
  return new Promise((resolve) => {
    if (process.stdout.write(bytes)) resolve();
    else process.stdout.once('drain', () => resolve());
  });
}

/**
 * Runs `gearbox submit`; resolves with the exit status. A bad command line throws a
 * `UsageError`, which `main` prints.
 */
export async function run(argv: string[]): Promise<number> {
  const options = parseOptions('submit', SUBMIT_OPTIONS, argv, { positionals: true });
  if (options.has('help')) {
    console.log(HELP);
    return 0;
  }
  const functionName = options.value('function');
  if (functionName === undefined || functionName === '')
    throw new UsageError('MISSING_VALUE', '-f FUNCTION is required');
  if (options.has('high') && options.has('low'))
    throw new UsageError('BAD_VALUE', '-I and -L exclude each other');
  const priority: PriorityName = options.has('high')
    ? 'high'
    : options.has('low')
      ? 'low'
      : 'normal';
  const timeoutText = options.value('timeout');
  const timeout =
    timeoutText === undefined ? undefined : positiveInteger(options.shown('timeout'), timeoutText);
  const client = new Client({
    servers: serversFromOptions(options),
    selection: 'round-robin',
  });
  const unique = options.value('unique');
  const background = options.has('background');
  const verbose = options.has('verbose');
  const positionals = options.positionals;
  const workloads: Buffer[] =
    positionals.length > 0
      ? positionals.map((p) => Buffer.from(p))
      : [options.has('no-stdin') ? Buffer.alloc(0) : await readStdin()];
  let status = 0;
  try {
    for (const workload of workloads) {
      const submitOptions = { unique, priority, timeout };
      if (background) {
        const handle = await client.submitBackground(functionName, workload, submitOptions);
        if (verbose) console.error(`Task created: ${handle}`);
        continue;
      }
      const job = client.submit(functionName, workload, submitOptions);
      if (verbose) job.on('created', (handle) => console.error(`Task created: ${handle}`));
      try {
        for await (const update of job) {
          if (update.type === 'data') await write(update.data);
          else if (update.type === 'warning') process.stderr.write(update.data);
          else if (verbose) console.error(`Status: ${update.numerator}/${update.denominator}`);
        }
        await write((await job.result()).data);
      } catch (err) {
        console.error(`gearbox submit: ${(err as Error).message}`);
        status = 1;
        if ((err as { code?: string }).code === 'NO_SERVER_AVAILABLE') break;
      }
    }
  } catch (err) {
    console.error(`gearbox submit: ${(err as Error).message}`);
    status = 1;
  } finally {
    await client.close();
  }
  return status;
}
