/**
 * `gearbox worker`: the `gearman -w` mode. For every job it runs COMMAND with the workload on
 * stdin and sends the command's stdout back as the result; a non-zero exit fails the job (the
 * output so far goes back as WORK_DATA, then the failure). Without a command the workload is
 * echoed. Stops after `-c COUNT` jobs, or gracefully on SIGINT / SIGTERM.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { serversFromHostsAndPort } from '../connection/server-address.js';
import { Worker } from '../worker/worker.js';
import type { WorkerJob } from '../worker/worker-job.js';

const USAGE = `usage: gearbox worker -f FUNCTION [options] [-- COMMAND [ARGS ...]]

Runs COMMAND for each job of FUNCTION with the workload on stdin; its stdout is the result and
a non-zero exit status fails the job, like \`gearman -w\`.

options:
  -f, --function NAME   function to register (repeatable)
  -h, --host HOST       job server host; repeat it or give host[:port],host2 for several
                        (default localhost)
  -p, --port PORT       port of hosts given without one (default 4730)
      --servers LIST    the same as -h: host[:port],host[:port],...
  -c, --count N         exit after N jobs
      --concurrency N   run up to N jobs at once (default 1)
  -t, --timeout MS      fail a job that runs longer than MS milliseconds
  -i, --id ID           client id shown by \`gearbox admin --workers\`
  -v, --verbose         log each job on stderr
      --help            this text`;

const OPTIONS = {
  function: { type: 'string', short: 'f', multiple: true },
  host: { type: 'string', short: 'h', multiple: true },
  port: { type: 'string', short: 'p' },
  servers: { type: 'string', multiple: true },
  count: { type: 'string', short: 'c' },
  concurrency: { type: 'string' },
  timeout: { type: 'string', short: 't' },
  id: { type: 'string', short: 'i' },
  verbose: { type: 'boolean', short: 'v' },
  help: { type: 'boolean' },
} as const;

function positiveInteger(text: string | undefined, what: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new TypeError(`${what} must be a positive integer`);
  return n;
}

/** Runs the command for one job and resolves with its stdout, or throws when it fails. */
async function runCommand(command: string, args: string[], job: WorkerJob): Promise<Buffer> {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'], signal: job.signal });
  const chunks: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
  // A command that does not read its stdin closes the pipe early; that is not a failure.
  child.stdin.on('error', () => undefined);
  child.stdin.end(job.workload);
  const spawnError = new Promise<never>((_, reject) => child.once('error', reject));
  const [code, signal] = (await Promise.race([once(child, 'close'), spawnError])) as [
    number | null,
    NodeJS.Signals | null,
  ];
  const output = Buffer.concat(chunks);
  if (code === 0) return output;
  if (output.length > 0) job.sendData(output);
  throw new Error(
    signal !== null
      ? `${command} was killed by ${signal}`
      : `${command} exited with status ${String(code)}`,
  );
}

/** Runs `gearbox worker`; resolves with the exit status once the worker has stopped. */
export async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true });
  } catch (err) {
    console.error(`gearbox worker: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const functions = values.function ?? [];
  if (functions.length === 0) {
    console.error(`gearbox worker: -f FUNCTION is required\n\n${USAGE}`);
    return 2;
  }
  const [command, ...args] = positionals;
  let worker: Worker;
  let count: number | undefined;
  try {
    count = positiveInteger(values.count, 'count');
    const concurrency = positiveInteger(values.concurrency, 'concurrency') ?? 1;
    const timeout = positiveInteger(values.timeout, 'timeout');
    worker = new Worker({
      servers: serversFromHostsAndPort(
        [...(values.host ?? []), ...(values.servers ?? [])],
        values.port,
      ),
      concurrency: count === undefined ? concurrency : Math.min(concurrency, count),
      clientId: values.id,
    });
    let started = 0;
    let done = 0;
    let finished: (() => void) | undefined;
    const allDone = new Promise<void>((resolve) => (finished = resolve));
    const handler = async (job: WorkerJob): Promise<Buffer> => {
      if (values.verbose) console.error(`job ${job.handle} (${job.functionName})`);
      started += 1;
      // The last allowed job has begun: take no more.
      if (count !== undefined && started >= count)
        for (const name of functions) worker.unregister(name);
      try {
        if (command === undefined) {
          process.stdout.write(job.workload);
          return job.workload;
        }
        return await runCommand(command, args, job);
      } finally {
        done += 1;
        // Leave once the last allowed job has answered (the result is sent right after this).
        if (count !== undefined && done >= count) setImmediate(() => finished?.());
      }
    };
    for (const name of functions) worker.register(name, handler, { timeout });
    worker.on('failed', (job, error) =>
      console.error(`gearbox worker: job ${job.handle} failed: ${error.message}`),
    );
    worker.on('disconnect', (server, error) =>
      console.error(`gearbox worker: ${error.message}; reconnecting to ${server}`),
    );
    worker.on('warning', (error) => console.error(`gearbox worker: ${error.message}`));
    const stopSignal = new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
    try {
      await worker.start();
    } catch (err) {
      // The worker keeps retrying; say so and carry on, like a daemon should.
      console.error(`gearbox worker: ${(err as Error).message}`);
    }
    await Promise.race([allDone, stopSignal]);
    await worker.stop({ timeout: 30_000 });
    return 0;
  } catch (err) {
    console.error(`gearbox worker: ${(err as Error).message}`);
    return 2;
  }
}
