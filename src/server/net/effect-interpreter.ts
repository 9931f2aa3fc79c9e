import type { JobStore } from '../../storage/job-store.js';
import type { ConnectionId, Effect, LogLevel } from '../core/effects.js';
import type { CommitHolds } from './commit-holds.js';
import { errorMessage } from '../../protocol/errors.js';
import type { NetCounters } from './net-figures.js';
import type { OutputFlusher } from './output-flusher.js';
import type { PeerConnection } from './peer-connection.js';
import type { Timers } from './timers.js';

/** What the interpreter acts on: the shell's parts. */
export interface EffectTargets {
  readonly connections: ReadonlyMap<ConnectionId, PeerConnection>;
  readonly flusher: OutputFlusher;
  readonly holds: CommitHolds;
  readonly timers: Timers;
  readonly store: JobStore | undefined;
  readonly counters: NetCounters;
  log(level: LogLevel, message: string): void;
  /** The core asked the server to stop. */
  shutdown(graceful: boolean): void;
}

/**
 * Applies the core's effects, in the order the core returned them: writes go to connections'
 * output queues (or into the places a pending commit holds), closes wait for the output before
 * them, commits and deletes go to the store, timers to the timer table.
 */
export class EffectInterpreter {
  // The parts every reply touches, held directly: `send` runs once per reply.
  private readonly connections: ReadonlyMap<ConnectionId, PeerConnection>;
  private readonly holds: CommitHolds;
  private readonly flusher: OutputFlusher;
  private readonly counters: NetCounters;

  constructor(private readonly to: EffectTargets) {
    this.connections = to.connections;
    this.holds = to.holds;
    this.flusher = to.flusher;
    this.counters = to.counters;
  }

  apply(effects: readonly Effect[]): void {
    const to = this.to;
    for (const effect of effects) {
      switch (effect.type) {
        case 'send':
          this.send(effect.conn, effect.data);
          break;
        case 'close': {
          const conn = to.connections.get(effect.conn);
          if (conn) {
            to.log('INFO', `${conn.peer}: closing: ${effect.reason}`);
            to.flusher.closeAfterFlush(conn);
          }
          break;
        }
        case 'persist':
          to.holds.persist(effect.token, effect.job);
          break;
        case 'hold': {
          const conn = to.connections.get(effect.conn);
          if (conn && !conn.dead) to.holds.hold(effect.token, conn);
          break;
        }
        case 'unpersist':
          if (to.store) {
            const store = to.store;
            settle(() => store.remove(effect.key)).catch((err: unknown) => {
              to.log(
                'ERROR',
                `store: cannot delete job ${effect.key.functionName}/${effect.key.uniqueKey}: ${errorMessage(err)}`,
              );
            });
          }
          break;
        case 'timer':
          to.timers.arm(effect.key, effect.at);
          break;
        case 'clear-timer':
          to.timers.clear(effect.key);
          break;
        case 'shutdown':
          to.log('NOTICE', `shutdown requested (${effect.graceful ? 'graceful' : 'now'})`);
          to.shutdown(effect.graceful);
          break;
        case 'log':
          to.log(effect.level, effect.message);
          break;
      }
    }
  }

  private send(id: ConnectionId, data: Buffer): void {
    const conn = this.connections.get(id);
    if (!conn || conn.dead) return;
    this.counters.countOut(data);
    if (!this.holds.fill(conn, data)) conn.output.write(data);
    this.flusher.queued(conn);
  }
}

/** Runs a store call so that a synchronous throw becomes a rejection like any other failure. */
function settle(call: () => Promise<void>): Promise<void> {
  try {
    return call();
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}
