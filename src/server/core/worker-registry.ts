import { ErrorFrames } from '../../protocol/error-frames.js';
import { PeerKind, type CorePeer } from './core-peer.js';
import type { CoreState } from './core-state.js';
import type { FunctionQueue } from './function-queue.js';
import type { RunQueue } from './run-queue.js';
import type { ServerJob } from './server-job.js';
import type { SleepMachine } from './sleep-machine.js';

/** The least CAN_DO_TIMEOUT accepted, in ms. */
export const MIN_CAN_DO_TIMEOUT = 1000;

/**
 * Worker abilities: CAN_DO / CAN_DO_TIMEOUT register one (the newest is looked at first),
 * CANT_DO and RESET_ABILITIES drop them, PRE_SLEEP puts the worker to sleep on all of them.
 */
export class WorkerRegistry {
  constructor(
    private readonly state: CoreState,
    private readonly sleep: SleepMachine,
    private readonly queue: RunQueue,
  ) {}

  /** CAN_DO (`timeout` 0) or CAN_DO_TIMEOUT (ms) for the function `name` (a byte string). */
  canDo(peer: CorePeer, name: string, timeout: number): void {
    const state = this.state;
    const fn = state.functionNamed(name);
    if (fn === undefined) {
      state.send(peer.id, ErrorFrames.badFunctionName);
      return;
    }
    state.becomes(peer, PeerKind.WORKER);
    peer.abilities.unshift({ fn, timeout });
    fn.workers++;
    if (peer.sleeping) {
      fn.sleeping.add(peer.id);
      this.queue.promoteDue();
      if (fn.hasQueued && !peer.noopSent && !state.draining) this.sleep.noop(peer);
    }
  }

  /**
   * Drops the abilities for `fn` (all of them when undefined: RESET_ABILITIES, or the worker
   * left) and returns the running jobs that lost their worker by it, to be requeued.
   */
  dropAbilities(peer: CorePeer, fn: FunctionQueue | undefined): ServerJob[] {
    if (fn === undefined) {
      for (const ability of peer.abilities) {
        ability.fn.workers--;
        ability.fn.sleeping.delete(peer.id);
      }
      peer.abilities = [];
    } else {
      const before = peer.abilities.length;
      peer.abilities = peer.abilities.filter((a) => a.fn !== fn);
      fn.workers -= before - peer.abilities.length;
      fn.sleeping.delete(peer.id);
    }
    const lost: ServerJob[] = [];
    for (const job of peer.running) if (fn === undefined || job.fn === fn) lost.push(job);
    return lost;
  }

  /** PRE_SLEEP: due delayed jobs are queued first, so a worker never sleeps past one. */
  preSleep(peer: CorePeer): void {
    this.queue.promoteDue();
    this.sleep.preSleep(peer);
  }
}
