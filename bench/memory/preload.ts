/**
 * Loaded into `gearbox server` by the memory benchmark (`node --import <this file>`): on SIGUSR2
 * it writes `process.memoryUsage()` to the answer file (probe.ts), as found and then, when the
 * request file says `gc` and node runs with `--expose-gc`, after a full garbage collection —
 * what is still referenced, whatever the collector's timing.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { probeFiles, type MemoryFigures, type ProbeAnswer } from './probe.js';

function figures(): MemoryFigures {
  const { rss, heapUsed, external, arrayBuffers } = process.memoryUsage();
  return { rss, heapUsed, external, arrayBuffers };
}

process.on('SIGUSR2', () => {
  const files = probeFiles(process.pid);
  let wantGc = false;
  try {
    wantGc = readFileSync(files.request, 'utf8').trim() === 'gc';
  } catch {
    // No request file: figures as found only.
  }
  const asFound = figures();
  const gc = (globalThis as { gc?: () => void }).gc;
  let afterGc: MemoryFigures | undefined;
  if (wantGc && gc !== undefined) {
    // Twice: the first pass may only run finalizers that free what the second one collects.
    gc();
    gc();
    afterGc = figures();
  }
  const answer: ProbeAnswer = afterGc === undefined ? { asFound } : { asFound, afterGc };
  writeFileSync(`${files.answer}.tmp`, JSON.stringify(answer));
  renameSync(`${files.answer}.tmp`, files.answer);
});
