/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`, e.g. `npm run bench -- --profile DIR`):
 * the functions with the most self time, and the files, so the hot spots of `gearbox server`
 * can be named precisely.
 *
 *   node dist/bench/profile-summary.js FILE.cpuprofile [TOP]
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

/** A function (or file) and its share of the sampled time. */
export interface HotSpot {
  readonly name: string;
  readonly selfMs: number;
  readonly share: number;
}

/** A compiled file's path from its project folder on (`src/server/core/…`), whatever the outDir. */
function shortUrl(url: string): string {
  const path = url.replace(/^file:\/\//, '');
  const match = /\/((?:src|bench|test)\/.*)$/.exec(path);
  return match?.[1] ?? path;
}

/** Self time per function and per file, biggest first. */
export function summarise(profile: Profile): { functions: HotSpot[]; files: HotSpot[] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    const id = samples[i] as number;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (deltas[i] ?? 0));
  }
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0) || 1;
  const functions = new Map<string, number>();
  const files = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const file = url === '' ? '(native/vm)' : shortUrl(url);
    const name = `${functionName || '(anonymous)'}  ${file}${url === '' ? '' : `:${lineNumber + 1}`}`;
    functions.set(name, (functions.get(name) ?? 0) + us);
    files.set(file, (files.get(file) ?? 0) + us);
  }
  const rank = (m: Map<string, number>): HotSpot[] =>
    [...m.entries()]
      .map(([name, us]) => ({ name, selfMs: us / 1000, share: us / total }))
      .sort((a, b) => b.selfMs - a.selfMs);
  return { functions: rank(functions), files: rank(files) };
}

function main(argv: string[]): number {
  const [file, topText] = argv;
  if (file === undefined) {
    console.error('usage: node dist/bench/profile-summary.js FILE.cpuprofile [TOP]');
    return 2;
  }
  const top = Number(topText ?? 25);
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const { functions, files } = summarise(profile);
  const line = (h: HotSpot): string =>
    `${(h.share * 100).toFixed(1).padStart(5)}%  ${h.selfMs.toFixed(0).padStart(7)} ms  ${h.name}`;
  console.log(`profile ${((profile.endTime - profile.startTime) / 1e6).toFixed(1)} s`);
  console.log('\nby function (self time):');
  for (const h of functions.slice(0, top)) console.log(line(h));
  console.log('\nby file (self time):');
  for (const h of files.slice(0, 15)) console.log(line(h));
  return 0;
}

if (process.argv[1] === fileURLToPath(import.meta.url))
  process.exitCode = main(process.argv.slice(2));
