/**
 * What a server keeps after one large payload has passed through it: a client submits a job of
 * `--mb` megabytes, a worker takes it and completes it (echoing the payload back, or with a short
 * result), and the server's resident size is read before, at its peak and for `--idle` seconds
 * afterwards, with the client and the worker still connected as in production. Gearbox runs
 * with `--expose-gc` and a probe (probe.ts) that also reports the V8 heap, external memory and
 * ArrayBuffers, as found and after a forced full GC. Debian's gearmand runs the same load. See
 * bench/README.md ("Memory after a large payload").
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Frames, Magic, PacketType, encodePacket, request } from '../../src/protocol/index.js';
import { BenchError, unexpectedPacket } from '../lib/bench-error.js';
import { RawConnection } from '../lib/raw-connection.js';
import { readRss, type ServerKind } from '../lib/servers.js';
import {
  probe,
  probeAfterGc,
  runBenchmark,
  serverList,
  startProbedServer,
  type MemoryFigures,
  type ProbeAnswer,
} from './probe.js';

const USAGE = `usage: node dist/bench/memory/large-payload.js [options]

  --mb N            payload size in MB of 10^6 bytes, at most 63 (default 60)
  --servers LIST    gearmand,gearbox (default both)
  --background      SUBMIT_JOB_BG instead of SUBMIT_JOB (no client waits for the result)
  --small-result    the worker answers "ok" instead of echoing the payload
  --sqlite          keep jobs in a fresh SQLite file (-q libsqlite3), not in memory
  --idle SECONDS    how long to watch after the job (default 10)
  -h, --help        this text`;

const FUNCTION = 'memory-probe';
/** RSS is sampled this often, to catch the peak. */
const SAMPLE_MS = 25;

interface Options {
  readonly bytes: number;
  readonly servers: readonly ServerKind[];
  readonly background: boolean;
  readonly echo: boolean;
  readonly sqlite: boolean;
  readonly idleSeconds: number;
}

/** One server's figures. */
interface Measurement {
  readonly kind: ServerKind;
  readonly rssBefore: number;
  readonly rssPeak: number;
  /** RSS at the moments after the job ended, by seconds. */
  readonly rssAfter: ReadonlyMap<number, number>;
  /** Gearbox only: the probe's answers. */
  readonly heapBefore?: MemoryFigures;
  readonly heapAtEnd?: MemoryFigures;
  readonly heapIdle?: ProbeAnswer;
}

function parseOptions(argv: string[]): Options | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      mb: { type: 'string' },
      servers: { type: 'string' },
      background: { type: 'boolean' },
      'small-result': { type: 'boolean' },
      sqlite: { type: 'boolean' },
      idle: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return undefined;
  const mb = Number(values.mb ?? '60');
  if (!Number.isInteger(mb) || mb < 1 || mb > 63)
    throw new BenchError(
      'BAD_OPTION',
      `--mb wants a whole number from 1 to 63, got '${values.mb}'`,
    );
  const idle = Number(values.idle ?? '10');
  if (!Number.isInteger(idle) || idle < 1 || idle > 600)
    throw new BenchError('BAD_OPTION', `--idle wants seconds from 1 to 600, got '${values.idle}'`);
  return {
    bytes: mb * 1_000_000,
    servers: serverList(values.servers),
    background: values.background === true,
    echo: values['small-result'] !== true,
    sqlite: values.sqlite === true,
    idleSeconds: idle,
  };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The client and the worker, connected; `run()` passes one job through and resolves at its end. */
async function connectPeers(
  port: number,
  options: Options,
): Promise<{ run(): Promise<void>; close(): void }> {
  let ended: (() => void) | undefined;
  let failed: ((err: Error) => void) | undefined;
  const fail = (err: Error): void => failed?.(err);
  let jobDone = false;
  let workerAsleep: (() => void) | undefined;
  const asleep = new Promise<void>((resolve) => (workerAsleep = resolve));

  const worker: RawConnection = await RawConnection.open(port, (packet) => {
    switch (packet.type) {
      case PacketType.NO_JOB:
        worker.send(Frames.PRE_SLEEP);
        workerAsleep?.();
        // A background job is over for the server once the worker's next grab finds nothing.
        if (jobDone && options.background) ended?.();
        return;
      case PacketType.NOOP:
        worker.send(Frames.GRAB_JOB);
        return;
      case PacketType.JOB_ASSIGN: {
        const handle = packet.args[0] as Buffer;
        const result = options.echo ? (packet.args[2] as Buffer) : Buffer.from('ok');
        worker.send(encodePacket(Magic.REQ, PacketType.WORK_COMPLETE, [handle, result]));
        worker.send(Frames.GRAB_JOB);
        jobDone = true;
        return;
      }
      default:
        fail(unexpectedPacket('worker', packet));
    }
  });
  worker.onFailure(fail);
  worker.send(Buffer.concat([request(PacketType.CAN_DO, FUNCTION), Frames.GRAB_JOB]));

  const client = await RawConnection.open(port, (packet) => {
    if (packet.type === PacketType.JOB_CREATED) return;
    if (packet.type === PacketType.WORK_COMPLETE && !options.background) ended?.();
    else fail(unexpectedPacket('client', packet));
  });
  client.onFailure(fail);
  await asleep;

  return {
    run() {
      const payload = Buffer.alloc(options.bytes, 0x61);
      const type = options.background ? PacketType.SUBMIT_JOB_BG : PacketType.SUBMIT_JOB;
      return new Promise<void>((resolve, reject) => {
        ended = resolve;
        failed = reject;
        client.send(request(type, FUNCTION, '', payload));
      });
    },
    close() {
      client.close();
      worker.close();
    },
  };
}

async function measure(kind: ServerKind, options: Options): Promise<Measurement> {
  const dir = mkdtempSync(join(tmpdir(), 'gearbox-memory-'));
  const server = await startProbedServer(
    kind,
    options.sqlite ? ['-q', 'libsqlite3', '--libsqlite3-db', join(dir, 'queue.sqlite')] : undefined,
  );
  const gearbox = kind === 'gearbox';
  try {
    const peers = await connectPeers(server.port, options);
    try {
      await sleep(1000);
      const heapBefore = gearbox ? await probeAfterGc(server) : undefined;
      const rssBefore = await readRss(server.pid);
      let rssPeak = rssBefore;
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          rssPeak = Math.max(rssPeak, await readRss(server.pid));
          await sleep(SAMPLE_MS);
        }
      })();
      await peers.run();
      const endedAt = Date.now();
      const heapAtEnd = gearbox ? (await probe(server, false)).asFound : undefined;
      const rssAfter = new Map<number, number>();
      for (const second of [1, 5, options.idleSeconds]) {
        if (second > options.idleSeconds || rssAfter.has(second)) continue;
        await sleep(Math.max(0, endedAt + second * 1000 - Date.now()));
        rssAfter.set(second, await readRss(server.pid));
      }
      sampling = false;
      await sampler;
      const heapIdle = gearbox ? await probe(server, true) : undefined;
      return { kind, rssBefore, rssPeak, rssAfter, heapBefore, heapAtEnd, heapIdle };
    } finally {
      peers.close();
    }
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const mb = (bytes: number | undefined): string =>
  bytes === undefined ? '—' : (bytes / 1_000_000).toFixed(1);

function report(options: Options, results: readonly Measurement[]): string {
  const seconds = [...(results[0]?.rssAfter.keys() ?? [])];
  const lines = [
    `${options.bytes / 1_000_000} MB ${options.background ? 'background' : 'foreground'} job, ` +
      `${options.echo ? 'payload echoed back' : 'short result'}, ` +
      `${options.sqlite ? 'SQLite queue' : 'in memory'}; figures in MB`,
    '',
    `| server | RSS before | RSS peak | ${seconds.map((s) => `RSS +${s} s`).join(' | ')} |`,
    `|---|---|---|${seconds.map(() => '---|').join('')}`,
  ];
  for (const r of results) {
    const after = seconds.map((s) => mb(r.rssAfter.get(s))).join(' | ');
    lines.push(`| ${r.kind} | ${mb(r.rssBefore)} | ${mb(r.rssPeak)} | ${after} |`);
  }
  const gearbox = results.find((r) => r.kind === 'gearbox');
  if (gearbox?.heapIdle) {
    const rows: [string, MemoryFigures | undefined][] = [
      ['before (after GC)', gearbox.heapBefore],
      ['job ended (as found)', gearbox.heapAtEnd],
      [`+${options.idleSeconds} s (as found)`, gearbox.heapIdle.asFound],
      [`+${options.idleSeconds} s (after GC)`, gearbox.heapIdle.afterGc],
    ];
    lines.push(
      '',
      '| gearbox | rss | heapUsed | external | arrayBuffers |',
      '|---|---|---|---|---|',
    );
    for (const [label, f] of rows) {
      lines.push(
        `| ${label} | ${mb(f?.rss)} | ${mb(f?.heapUsed)} | ${mb(f?.external)} | ${mb(f?.arrayBuffers)} |`,
      );
    }
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  if (options === undefined) {
    console.log(USAGE);
    return;
  }
  const results: Measurement[] = [];
  for (const kind of options.servers) {
    console.error(`${kind}: passing one ${options.bytes / 1_000_000} MB job through…`);
    results.push(await measure(kind, options));
  }
  console.log(report(options, results));
}

runBenchmark(main);
