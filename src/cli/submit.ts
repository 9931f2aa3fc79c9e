/**
 * `gearbox submit`: the `gearman` tool's client mode. Each argument is the workload of one job
 * (none: the workload is read from stdin); results are written to stdout as they arrive
 * (WORK_DATA chunks, then the final result), WORK_STATUS progress on stderr in gearman's words
 * (`33% Complete`). Exit status 0 when every job succeeded, 1 when a job failed or no server
 * could be reached, 2 for bad usage.
 */
import { AdminClient } from '../admin/admin-client.js';
import { Client } from '../client/client.js';
import type { PriorityName } from '../client/client.js';
import { formatAddress, type ServerAddress } from '../connection/server-address.js';
import { HELP_OPTION, serverListOptions, serversFromOptions } from './common-options.js';
import { formatHelp, parseOptions } from './options.js';
import { positiveInteger, seconds } from './option-values.js';
import { UsageError } from './usage-error.js';

const DEFAULT_WARN_AFTER_S = 3;

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
  {
    name: 'warn-after',
    value: 'SECONDS',
    help: 'when a job has not finished by then, ask the servers (admin status) whether any worker has the function, and say so on stderr if none has; 0: never',
    default: String(DEFAULT_WARN_AFTER_S),
  },
  { name: 'verbose', short: 'v', help: 'print job handles on stderr' },
  HELP_OPTION,
] as const;

const HELP = formatHelp(
  {
    usage: 'usage: gearbox submit -f FUNCTION [options] [WORKLOAD ...]',
    about:
      'Submits one job per WORKLOAD argument (or one job with stdin as the workload) and prints the ' +
      'results on stdout, like `gearman -f FUNCTION`. Progress (WORK_STATUS) is printed on stderr as ' +
      'gearman prints it, `33% Complete`, so that stdout holds only the results; warnings (WORK_WARNING) ' +
      'go to stderr as they are.',
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
 * A WORK_STATUS as the `gearman` tool prints it: `numerator * 100 / denominator` rounded down,
 * then `% Complete`. A 0 denominator (progress unknown) prints nothing; gearman divides by it.
 */
export function progressLine(numerator: number, denominator: number): string | undefined {
  if (denominator === 0) return undefined;
  return `${Math.floor((numerator * 100) / denominator)}% Complete`;
}

/**
 * After `afterSeconds`, asks every server (admin `status`) how many workers have the function,
 * and warns on stderr when the answering servers have none: a job for a function nobody serves
 * waits silently otherwise. `cancel()` (the job is over) stops the timer and any question.
 */
function noWorkerWarning(
  servers: readonly ServerAddress[],
  functionName: string,
  afterSeconds: number,
): { cancel(): Promise<void> } {
  const admins: AdminClient[] = [];
  let cancelled = false;
  const check = async (): Promise<void> => {
    const answers = await Promise.all(
      servers.map(async (server) => {
        const admin = new AdminClient({ server: formatAddress(server) });
        admins.push(admin);
        try {
          const row = (await admin.status()).find((s) => s.name === functionName);
          return { server: admin.server, workers: row?.workers ?? 0 };
        } catch {
          return undefined; // no admin answer: nothing to say about that server
        } finally {
          await admin.close();
        }
      }),
    );
    const asked = answers.filter((a) => a !== undefined);
    if (cancelled || asked.length === 0 || asked.some((a) => a.workers > 0)) return;
    console.error(
      `gearbox submit: no worker has registered ${functionName} on ${asked.map((a) => a.server).join(', ')} ` +
        `(admin status, after ${afterSeconds} s); the job waits until one does`,
    );
  };
  let checking: Promise<void> | undefined;
  const timer = setTimeout(() => {
    // Only a hint: nothing it meets may fail the submission.
    checking = check().catch(() => undefined);
  }, afterSeconds * 1000);
  return {
    async cancel() {
      cancelled = true;
      clearTimeout(timer);
      await Promise.all(admins.map((a) => a.close()));
      await checking;
    },
  };
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
  const warnText = options.value('warn-after');
  const warnAfter =
    warnText === undefined ? DEFAULT_WARN_AFTER_S : seconds(options.shown('warn-after'), warnText);
  const servers = serversFromOptions(options);
  const client = new Client({ servers, selection: 'round-robin' });
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
      // Updates are written in arrival order; a slow stdout holds the next chunk back.
      let output = Promise.resolve();
      job.on('data', (data) => {
        output = output.then(() => write(data));
      });
      job.on('warning', (data) => process.stderr.write(data));
      job.on('status', (numerator, denominator) => {
        const line = progressLine(numerator, denominator);
        if (line !== undefined) console.error(line);
      });
      const warning = warnAfter > 0 ? noWorkerWarning(servers, functionName, warnAfter) : undefined;
      try {
        const result = await job.result();
        await output;
        await write(result.data);
      } catch (err) {
        await output;
        console.error(`gearbox submit: ${(err as Error).message}`);
        status = 1;
        if ((err as { code?: string }).code === 'NO_SERVER_AVAILABLE') break;
      } finally {
        await warning?.cancel();
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
