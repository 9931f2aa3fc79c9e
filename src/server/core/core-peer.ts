import type { ConnectionId, ConnectionInfo } from './effects.js';
import type { FunctionQueue } from './function-queue.js';
import type { ServerJob } from './server-job.js';

/**
 * What a connection is, decided by what it did; it only moves up: a connection that sent
 * CAN_DO is a worker whatever else it does, one that submitted or asked a job's status is a
 * client unless it is a worker, and one that sent an admin line is an admin unless it is either.
 */
export const PeerKind = { NONE: 0, ADMIN: 1, CLIENT: 2, WORKER: 3 } as const;
/** One of {@link PeerKind}. */
export type PeerKind = (typeof PeerKind)[keyof typeof PeerKind];

/** One ability of a worker connection. */
export interface Ability {
  readonly fn: FunctionQueue;
  /** CAN_DO_TIMEOUT in milliseconds; 0 = none. */
  readonly timeout: number;
}

/** What the core keeps per connection (its sleep states: see sleep-machine.ts). */
export class CorePeer {
  /** The SET_CLIENT_ID label (a byte string), `-` when none was set. */
  clientId = '-';
  /** Newest CAN_DO first: the order a grab looks at them. */
  abilities: Ability[] = [];
  sleeping = false;
  noopSent = false;
  exceptions: boolean;
  kind: PeerKind = PeerKind.NONE;
  /** Jobs assigned to this connection. */
  readonly running = new Set<ServerJob>();
  /** Foreground jobs this connection submitted and is waiting for. */
  readonly attached = new Set<ServerJob>();

  constructor(
    readonly info: ConnectionInfo,
    exceptions: boolean,
    /** When it connected (clock ms). */
    readonly connectedAt: number,
  ) {
    this.exceptions = exceptions;
  }

  get id(): ConnectionId {
    return this.info.id;
  }
}
