/**
 * The control socket's protocol: one JSON object per line each way, a request and its answer.
 * `gearbox manager status`, `scale` and `reload` speak it; so can any script (`socat`, `nc -U`).
 */
import type { ProcessRow } from './entry.js';

export type ControlRequest =
  | { readonly command: 'status' }
  | { readonly command: 'scale'; readonly name: string; readonly count: number }
  | { readonly command: 'reload' };

/** One entry in a status report. */
export interface EntryReport {
  readonly name: string;
  readonly kind: 'command' | 'module' | 'exec';
  readonly desired: number;
  readonly processes: number;
  readonly jobs_done: number | null;
  readonly restarts: number;
  readonly autoscale: {
    readonly min: number;
    readonly max: number;
    readonly queued: number | null;
    readonly running: number | null;
  } | null;
}

/** What `status` answers. */
export interface StatusReport {
  readonly pid: number;
  readonly config: string;
  readonly servers: readonly string[];
  readonly uptime_seconds: number;
  readonly state: 'running' | 'stopping';
  readonly entries: readonly EntryReport[];
  readonly processes: readonly ProcessRow[];
}

export type ControlResponse =
  | ({ readonly ok: true } & Partial<StatusReport> & { readonly message?: string })
  | { readonly ok: false; readonly error: string };
