/**
 * What the library tests (client, worker, admin, CLIs) share: the two kinds of job server they
 * run against — Debian's gearmand and `gearbox server` — and running the CLI with stdin.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { pathToFileURL } from 'node:url';
import { startGearboxServer } from './gearbox-cli.js';
import { gearboxMain, startGearmand, startGearmandAt, type RunningServer } from './processes.js';
import { skipUnless, type ServiceName } from './services.js';

/** A kind of job server the library is tested against. */
export interface ServerKind {
  readonly name: 'gearmand' | 'gearbox';
  /** Services it needs (for skipUnless). */
  readonly needs: ServiceName[];
  start(args?: string[]): Promise<RunningServer>;
}

/** gearmand first: it is the reference; then our own server. */
export const SERVER_KINDS: readonly ServerKind[] = [
  { name: 'gearmand', needs: ['gearmand'], start: (args) => startGearmand(args) },
  {
    name: 'gearbox',
    needs: [],
    start: (args) => startGearboxServer(['-q', 'builtin', ...(args ?? [])]),
  },
];

/** Resolves to a skip reason when the server kind's tools are missing. */
export function skipKind(kind: ServerKind, ...more: ServiceName[]): Promise<false | string> {
  return skipUnless(`library against ${kind.name}`, ...kind.needs, ...more);
}

/** Starts gearmand on a given port (to restart a server where clients expect it). */
export function startGearmandOn(port: number): Promise<RunningServer> {
  return startGearmandAt(port);
}

/** What a CLI run produced, with stdout as bytes. */
export interface CliRun {
  readonly code: number | null;
  readonly stdout: Buffer;
  readonly stderr: string;
}

const ENTRY = `import { main } from ${JSON.stringify(pathToFileURL(gearboxMain).href)};
await main(process.argv.slice(1));`;

/** Runs `gearbox <args>` with `input` on stdin; kills it by PID after `timeoutMs`. */
export async function runGearboxWithInput(
  args: readonly string[],
  input: Buffer | string | undefined,
  timeoutMs = 20_000,
): Promise<CliRun> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', ENTRY, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => out.push(d));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.on('error', () => undefined);
  child.stdin.end(input);
  const timer = setTimeout(() => {
    if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
  }, timeoutMs);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  return { code, stdout: Buffer.concat(out), stderr };
}

/** Polls `check` every 20 ms until it returns true; throws after `timeoutMs`. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 10_000; i++) {
    if (await check()) return;
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`${what} not reached within ${timeoutMs} ms`);
}
