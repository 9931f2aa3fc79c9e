import type { Packet } from '../protocol/decoder.js';

/** A job's state as the server reports it (STATUS_RES). */
export interface JobStatus {
  readonly handle: string;
  /** Whether the server knows the job (false once it has finished). */
  readonly known: boolean;
  /** Whether a worker is running it. */
  readonly running: boolean;
  readonly numerator: number;
  readonly denominator: number;
}

/** A job's state looked up by unique id (STATUS_RES_UNIQUE). */
export interface UniqueJobStatus {
  readonly unique: string;
  readonly known: boolean;
  readonly running: boolean;
  readonly numerator: number;
  readonly denominator: number;
  /** How many foreground clients wait for the job. */
  readonly waitingClients: number;
}

/** The job handle a JOB_CREATED packet carries. */
export function handleOf(reply: Packet): string {
  return reply.args[0]?.toString('latin1') ?? '';
}

/** Reads a STATUS_RES packet. */
export function parseStatus(packet: Packet): JobStatus {
  const [handle, known, running, numerator, denominator] = packet.args.map((a) =>
    a.toString('latin1'),
  );
  return {
    handle: handle ?? '',
    known: known === '1',
    running: running === '1',
    numerator: Number(numerator ?? 0),
    denominator: Number(denominator ?? 0),
  };
}

/** Reads a STATUS_RES_UNIQUE packet; `asked` is the unique the request named. */
export function parseUniqueStatus(packet: Packet, asked: string): UniqueJobStatus {
  const [unique, known, running, numerator, denominator, waiting] = packet.args.map((a) =>
    a.toString('utf8'),
  );
  return {
    unique: unique ?? asked,
    known: known === '1',
    running: running === '1',
    numerator: Number(numerator ?? 0),
    denominator: Number(denominator ?? 0),
    waitingClients: Number(waiting ?? 0),
  };
}

/** What a server that does not know the job would answer. */
export function unknownStatus(handle: string): JobStatus {
  return { handle, known: false, running: false, numerator: 0, denominator: 0 };
}

/** What a server that does not know the unique would answer. */
export function unknownUniqueStatus(unique: string): UniqueJobStatus {
  return { unique, known: false, running: false, numerator: 0, denominator: 0, waitingClients: 0 };
}
