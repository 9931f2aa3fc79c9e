/**
 * What one function costs a server: `--functions` admin `create function NAME` lines (names
 * `fn-0`, `fn-1`, …) on one connection, and the server's resident size — and for Gearbox its
 * V8 heap after a full GC — before and after, divided by the count. Debian's gearmand runs the
 * same lines. See bench/README.md ("Memory per function").
 */
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { BenchError } from '../lib/bench-error.js';
import { readRss, type ServerKind } from '../lib/servers.js';
import { probeAfterGc, runBenchmark, serverList, startProbedServer } from './probe.js';

const USAGE = `usage: node dist/bench/memory/functions.js [options]

  --functions N     functions to create (default 200000)
  --servers LIST    gearmand,gearbox (default both)
  -h, --help        this text`;

/** Lines written per batch; the next batch waits for this one's replies. */
const BATCH = 2000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Sends `count` create-function lines and waits for as many `OK` replies. */
async function createFunctions(port: number, count: number): Promise<void> {
  const socket: Socket = connect({ host: '127.0.0.1', port });
  await once(socket, 'connect');
  let replies = 0;
  let text = '';
  let wake: (() => void) | undefined;
  socket.on('data', (chunk: Buffer) => {
    text += chunk.toString('latin1');
    const lines = text.split('\n');
    text = lines.pop() ?? '';
    for (const line of lines) {
      if (line.replace(/\r$/, '') !== 'OK') throw new BenchError('SERVER_ERROR', `got '${line}'`);
      replies++;
    }
    wake?.();
  });
  try {
    for (let sent = 0; sent < count;) {
      const n = Math.min(BATCH, count - sent);
      let lines = '';
      // \r\n: gearmand cuts the last character of a name that ends a bare-\n line.
      for (let i = 0; i < n; i++) lines += `create function fn-${sent + i}\r\n`;
      socket.write(lines);
      sent += n;
      const deadline = Date.now() + 30_000;
      while (replies < sent) {
        if (Date.now() > deadline) throw new BenchError('TIMEOUT', `${replies} of ${sent} replies`);
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 1000).unref();
        });
      }
    }
  } finally {
    socket.destroy();
  }
}

async function measure(kind: ServerKind, count: number): Promise<string> {
  const server = await startProbedServer(kind);
  try {
    await sleep(500);
    const gearbox = kind === 'gearbox';
    const heapBefore = gearbox ? (await probeAfterGc(server)).heapUsed : undefined;
    const rssBefore = await readRss(server.pid);
    await createFunctions(server.port, count);
    await sleep(500);
    const heapAfter = gearbox ? (await probeAfterGc(server)).heapUsed : undefined;
    const rssAfter = await readRss(server.pid);
    const perFunction = (before: number | undefined, after: number | undefined): string =>
      before === undefined || after === undefined ? '—' : ((after - before) / count).toFixed(0);
    const mb = (bytes: number): string => ((bytes - rssBefore) / 1_000_000).toFixed(1);
    return `| ${kind} | ${mb(rssAfter)} | ${perFunction(rssBefore, rssAfter)} | ${perFunction(heapBefore, heapAfter)} |`;
  } finally {
    await server.stop();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      functions: { type: 'string' },
      servers: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const count = Number(values.functions ?? '200000');
  if (!Number.isInteger(count) || count < 1 || count > 10_000_000)
    throw new BenchError('BAD_OPTION', `--functions wants a count, got '${values.functions}'`);
  const rows: string[] = [];
  for (const kind of serverList(values.servers)) {
    console.error(`${kind}: creating ${count} functions…`);
    rows.push(await measure(kind, count));
  }
  console.log(`${count} functions created with \`create function\`\n`);
  console.log(
    '| server | RSS growth, MB | RSS per function, B | heapUsed per function (after GC), B |',
  );
  console.log('|---|---|---|---|');
  for (const row of rows) console.log(row);
}

runBenchmark(main);
