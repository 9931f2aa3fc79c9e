import { GearboxError } from '../../src/protocol/errors.js';

/** What can go wrong while benchmarking. */
export type BenchErrorCode =
  'BAD_OPTION' | 'SERVER_START' | 'SERVER_ERROR' | 'CONNECTION_LOST' | 'AGENT_FAILED' | 'TIMEOUT';

/** A benchmark run that cannot go on: bad options, a server that would not start, a lost peer. */
export class BenchError extends GearboxError<BenchErrorCode> {}
