/**
 * The memory benchmarks' side of the probe they preload into `gearbox server` (preload.ts):
 * starting a server with it, asking it for figures, and what an answer holds.
 */
import { existsSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { BenchError } from '../lib/bench-error.js';
import { signalChildren } from '../lib/children.js';
import {
  defaultServerPaths,
  startServer,
  type ServerKind,
  type ServerProcess,
} from '../lib/servers.js';

/** Where the probe of process `pid` reads its request and writes its answer. */
export function probeFiles(pid: number): { request: string; answer: string } {
  const base = join(tmpdir(), `gearbox-memory-${pid}`);
  return { request: `${base}.req`, answer: `${base}.json` };
}

/** process.memoryUsage() in bytes. */
export interface MemoryFigures {
  readonly rss: number;
  readonly heapUsed: number;
  readonly external: number;
  readonly arrayBuffers: number;
}

/** What the probe writes: the figures as found, and after a forced GC when one was asked for. */
export interface ProbeAnswer {
  readonly asFound: MemoryFigures;
  readonly afterGc?: MemoryFigures;
}

/**
 * Starts a server on a free port; `gearbox server` runs with `--expose-gc` and the probe, so
 * {@link probe} can read its heap. `queueArgs` default to `-q builtin`.
 */
export function startProbedServer(
  kind: ServerKind,
  queueArgs: readonly string[] = ['-q', 'builtin'],
): Promise<ServerProcess> {
  const preload = pathToFileURL(fileURLToPath(new URL('./preload.js', import.meta.url))).href;
  return startServer(kind, defaultServerPaths, [], {
    nodeArgs: ['--expose-gc', '--import', preload],
    queueArgs,
  });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Asks the probe inside a gearbox server for its figures (also after a full GC when `gc`). */
export async function probe(server: ServerProcess, gc: boolean): Promise<ProbeAnswer> {
  const files = probeFiles(server.pid);
  if (existsSync(files.answer)) unlinkSync(files.answer);
  writeFileSync(files.request, gc ? 'gc' : 'plain');
  process.kill(server.pid, 'SIGUSR2');
  for (let i = 0; i < 400; i++) {
    await sleep(25);
    if (existsSync(files.answer)) {
      const answer = JSON.parse(readFileSync(files.answer, 'utf8')) as ProbeAnswer;
      unlinkSync(files.answer);
      unlinkSync(files.request);
      return answer;
    }
  }
  throw new BenchError('TIMEOUT', `the memory probe in pid ${server.pid} did not answer`);
}

/** Figures after a full GC; throws when the server runs without --expose-gc. */
export async function probeAfterGc(server: ServerProcess): Promise<MemoryFigures> {
  const answer = await probe(server, true);
  if (answer.afterGc === undefined)
    throw new BenchError('SERVER_ERROR', `pid ${server.pid} has no gc (not run with --expose-gc)`);
  return answer.afterGc;
}

/** The `--servers` list of a memory benchmark: gearmand and gearbox, both by default. */
export function serverList(text: string | undefined): ServerKind[] {
  const servers = (text ?? 'gearmand,gearbox').split(',').map((s) => s.trim());
  for (const s of servers) {
    if (s !== 'gearmand' && s !== 'gearbox')
      throw new BenchError('BAD_OPTION', `--servers takes gearmand and gearbox, not '${s}'`);
  }
  return servers as ServerKind[];
}

/** Runs a benchmark's main, stopping every server it started on ^C or on failure. */
export function runBenchmark(main: () => Promise<void>): void {
  process.once('SIGINT', () => {
    signalChildren('SIGTERM');
    process.exit(130);
  });
  main().catch((err: unknown) => {
    signalChildren('SIGTERM');
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
