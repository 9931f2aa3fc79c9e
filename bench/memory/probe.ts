/**
 * What the memory benchmark and the probe it preloads into `gearbox server` (preload.ts) share:
 * where a request and its answer go, and what an answer holds.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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
