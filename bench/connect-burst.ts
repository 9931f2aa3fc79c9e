/**
 * A burst of connections at once, as when every worker of a fleet reconnects after a restart:
 * N sockets opened together, each sends ECHO_REQ and waits for ECHO_RES. Reports the time until
 * all have answered and the connects that stalled for a second or more (a SYN dropped on a
 * full listen backlog is retried after 1 s, then 3 s, …). Gearbox (default backlog), Gearbox
 * with gearmand's backlog of 32, and gearmand, alternating, median of `--repeat` runs.
 *
 *   node dist/bench/connect-burst.js [--connections 5000] [--repeat 3]
 */
import { connect, type Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { encodePacket, Magic, PacketType } from '../src/protocol/index.js';
import { defaultServerPaths, startServer, type ServerKind } from './lib/servers.js';

interface Variant {
  readonly label: string;
  readonly kind: ServerKind;
  readonly args: readonly string[];
}

const VARIANTS: readonly Variant[] = [
  { label: 'gearbox (default backlog 4096)', kind: 'gearbox', args: [] },
  { label: 'gearbox -b 32', kind: 'gearbox', args: ['-b', '32'] },
  { label: 'gearmand (backlog 32)', kind: 'gearmand', args: [] },
];

const ECHO = encodePacket(Magic.REQ, PacketType.ECHO_REQ, ['hi']);
/** ECHO_RES with `hi`: 12 bytes of header and 2 of payload. */
const REPLY_BYTES = 14;

interface Burst {
  readonly totalMs: number;
  readonly stalled: number;
  readonly failed: number;
  readonly p99ConnectMs: number;
}

function oneConnection(port: number, timeoutMs: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const started = performance.now();
    let received = 0;
    const socket: Socket = connect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    const finish = (connectMs: number | undefined): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(connectMs);
    };
    let connectMs = 0;
    socket.once('connect', () => {
      connectMs = performance.now() - started;
      socket.write(ECHO);
    });
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received >= REPLY_BYTES) finish(connectMs);
    });
    socket.once('error', () => finish(undefined));
  });
}

async function burst(port: number, connections: number): Promise<Burst> {
  const started = performance.now();
  const results = await Promise.all(
    Array.from({ length: connections }, () => oneConnection(port, 60_000)),
  );
  const totalMs = performance.now() - started;
  const times = results.filter((t): t is number => t !== undefined).sort((a, b) => a - b);
  return {
    totalMs,
    stalled: times.filter((t) => t >= 900).length,
    failed: connections - times.length,
    p99ConnectMs: times[Math.min(times.length - 1, Math.floor(times.length * 0.99))] ?? NaN,
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { connections: { type: 'string' }, repeat: { type: 'string' } },
  });
  const connections = Number(values.connections ?? 5000);
  const repeat = Number(values.repeat ?? 3);
  const runs = new Map<string, Burst[]>(VARIANTS.map((v) => [v.label, []]));
  for (let round = 0; round < repeat; round++) {
    for (const variant of VARIANTS) {
      const server = await startServer(variant.kind, defaultServerPaths, variant.args);
      try {
        runs.get(variant.label)?.push(await burst(server.port, connections));
      } finally {
        await server.stop();
      }
    }
  }
  console.log(`${connections} connections at once, median of ${repeat} (alternating)`);
  console.log(
    '| server | all answered (ms) | connects stalled ≥ 0.9 s | failed | p99 connect (ms) |',
  );
  console.log('|---|---:|---:|---:|---:|');
  for (const variant of VARIANTS) {
    const r = runs.get(variant.label) ?? [];
    console.log(
      `| ${variant.label} | ${median(r.map((b) => b.totalMs)).toFixed(0)} | ${median(r.map((b) => b.stalled))} | ${median(r.map((b) => b.failed))} | ${median(r.map((b) => b.p99ConnectMs)).toFixed(1)} |`,
    );
  }
}

await main();
