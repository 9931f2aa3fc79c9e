/**
 * `gearbox submit`: the `gearman` tool's client mode. Each argument is the workload of one job
 * (none: the workload is read from stdin); results are written to stdout as they arrive
 * (WORK_DATA chunks, then the final result). Exit status 0 when every job succeeded, 1 when a
 * job failed or no server could be reached, 2 for bad usage.
 */
import { parseArgs } from 'node:util';
import { Client } from '../client/client.js';
import type { PriorityName } from '../client/client.js';
import { serversFromHostsAndPort } from '../connection/server-address.js';

const USAGE = `usage: gearbox submit -f FUNCTION [options] [WORKLOAD ...]

Submits one job per WORKLOAD argument (or one job with stdin as the workload) and prints the
results on stdout, like \`gearman -f FUNCTION\`.

options:
  -f, --function NAME   function to call (required)
  -h, --host HOST       job server host; repeat it or give host[:port],host2 for several
                        (default localhost)
  -p, --port PORT       port of hosts given without one (default 4730)
      --servers LIST    the same as -h: host[:port],host[:port],...
  -b, --background      submit in the background; prints nothing (the handle with -v)
  -I, --high            high priority
  -L, --low             low priority
  -u, --unique ID       unique id of the job
  -s, --no-stdin        send an empty workload instead of reading stdin
  -t, --timeout MS      give up on a job after MS milliseconds
  -v, --verbose         print job handles on stderr
      --help            this text`;

const OPTIONS = {
  function: { type: 'string', short: 'f', multiple: true },
  host: { type: 'string', short: 'h', multiple: true },
  port: { type: 'string', short: 'p' },
  servers: { type: 'string', multiple: true },
  background: { type: 'boolean', short: 'b' },
  high: { type: 'boolean', short: 'I' },
  low: { type: 'boolean', short: 'L' },
  unique: { type: 'string', short: 'u' },
  'no-stdin': { type: 'boolean', short: 's' },
  timeout: { type: 'string', short: 't' },
  verbose: { type: 'boolean', short: 'v' },
  help: { type: 'boolean' },
} as const;

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

/** Runs `gearbox submit`; resolves with the exit status. */
export async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true });
  } catch (err) {
    console.error(`gearbox submit: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const functionName = values.function?.at(-1);
  if (functionName === undefined || functionName === '') {
    console.error(`gearbox submit: -f FUNCTION is required\n\n${USAGE}`);
    return 2;
  }
  if (values.high && values.low) {
    console.error('gearbox submit: -I and -L exclude each other');
    return 2;
  }
  const priority: PriorityName = values.high ? 'high' : values.low ? 'low' : 'normal';
  let client: Client;
  let timeout: number | undefined;
  try {
    const servers = serversFromHostsAndPort(
      [...(values.host ?? []), ...(values.servers ?? [])],
      values.port,
    );
    if (values.timeout !== undefined) {
      timeout = Number(values.timeout);
      if (!(timeout > 0)) throw new TypeError(`invalid timeout '${values.timeout}'`);
    }
    client = new Client({ servers, selection: 'round-robin' });
  } catch (err) {
    console.error(`gearbox submit: ${(err as Error).message}`);
    return 2;
  }
  const workloads: Buffer[] =
    positionals.length > 0
      ? positionals.map((p) => Buffer.from(p))
      : [values['no-stdin'] ? Buffer.alloc(0) : await readStdin()];
  let status = 0;
  try {
    for (const workload of workloads) {
      const options = { unique: values.unique, priority, timeout };
      if (values.background) {
        const handle = await client.submitBackground(functionName, workload, options);
        if (values.verbose) console.error(`Task created: ${handle}`);
        continue;
      }
      const job = client.submit(functionName, workload, options);
      if (values.verbose) job.on('created', (handle) => console.error(`Task created: ${handle}`));
      try {
        for await (const update of job) {
          if (update.type === 'data') await write(update.data);
          else if (update.type === 'warning') process.stderr.write(update.data);
          else if (values.verbose)
            console.error(`Status: ${update.numerator}/${update.denominator}`);
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
