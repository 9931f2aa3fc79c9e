/**
 * Limits on open files, for the scaling figures: 10,000 connections need 10,000 descriptors in
 * the load generator and as many in the server, each a process of its own with its own limit.
 * Node cannot call setrlimit, so a child that needs more than the soft limit is started through
 * `sh -c 'ulimit -S -n N && exec …'` (same PID after the exec, IPC channel inherited).
 */
import { readFileSync } from 'node:fs';

/** The soft and hard limits on open files (RLIMIT_NOFILE); Infinity for "unlimited". */
export interface FdLimits {
  readonly soft: number;
  readonly hard: number;
}

function limitValue(text: string | undefined): number {
  if (text === undefined || text === 'unlimited') return Infinity;
  const n = Number(text);
  return Number.isFinite(n) ? n : Infinity;
}

/** Reads this process's limits from /proc/self/limits (children inherit them). */
export function readFdLimits(path = '/proc/self/limits'): FdLimits {
  const line = readFileSync(path, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'));
  const fields = line?.slice('Max open files'.length).trim().split(/\s+/) ?? [];
  return { soft: limitValue(fields[0]), hard: limitValue(fields[1]) };
}

/** Descriptors a process uses besides its connections: stdio, listeners, epoll, threads' pipes. */
export const FD_MARGIN = 100;

/** What a child needing `connections` sockets gets: a raised soft limit, as is, or nothing. */
export type FdPlan =
  { readonly ok: true; readonly raiseTo?: number } | { readonly ok: false; readonly note: string };

/** Decides how a child that holds `connections` sockets can be started under `limits`. */
export function planFds(connections: number, limits: FdLimits, who: string): FdPlan {
  const need = connections + FD_MARGIN;
  if (need <= limits.soft) return { ok: true };
  if (need <= limits.hard)
    return { ok: true, raiseTo: Number.isFinite(limits.hard) ? limits.hard : need };
  return {
    ok: false,
    note: `skipped: ${connections} connections need ${need} open files in the ${who}, over the hard limit (ulimit -Hn) of ${limits.hard}`,
  };
}

/** The command that runs `file args` with its soft limit on open files set to `limit`. */
export function withFdLimit(
  limit: number,
  file: string,
  args: readonly string[],
): { file: string; args: string[] } {
  // $0 is the limit and "$@" the command: nothing of either is parsed by the shell.
  return {
    file: '/bin/sh',
    args: ['-c', 'ulimit -S -n "$0" && exec "$@"', String(limit), file, ...args],
  };
}
