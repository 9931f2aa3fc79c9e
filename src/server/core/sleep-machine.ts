import { Frames } from '../../protocol/encoder.js';
import type { CorePeer } from './core-peer.js';
import type { CoreState } from './core-state.js';
import type { FunctionQueue } from './function-queue.js';

/** Wakes more sleepers of the functions whose jobs still wait after a capped (`-w`) wake-up. */
export const REWAKE_TIMER = 'rewake';
/**
 * How long a job waits for the workers a capped wake-up chose before more are woken (the Perl
 * Gearman::Server waits 0.1 s too). A worker may be busy with another server's job or hung.
 */
export const REWAKE_DELAY_MS = 100;

/*
 * A worker connection's sleep states (any connection may become a worker by sending CAN_DO):
 *
 *   AWAKE     grabbing; GRAB_* with nothing to do answers NO_JOB and stays AWAKE
 *     └─ PRE_SLEEP ─┬─ a job is queued for one of its functions → NOOP at once, NOOP_SENT
 *                   └─ otherwise → SLEEPING (listed in `sleeping` of each of its functions)
 *   SLEEPING  a new runnable job of one of its functions → NOOP → NOOP_SENT: every sleeper of
 *             the function (as gearmand), or with -w N the N asleep longest, and N more each
 *             REWAKE_DELAY_MS while the function's jobs still wait
 *   NOOP_SENT out of every `sleeping` set, never NOOPed twice; GRAB_* → AWAKE
 *
 * A draining core (graceful shutdown) wakes nobody.
 */
export class SleepMachine {
  /** Functions with sleepers a capped wake-up left asleep, looked at when `rewake` fires. */
  private readonly rewakeDue = new Set<FunctionQueue>();
  private rewakeArmed = false;

  constructor(private readonly state: CoreState) {}

  /** PRE_SLEEP (after due delayed jobs were queued): NOOP at once if there is work, else sleep. */
  preSleep(peer: CorePeer): void {
    peer.noopSent = false;
    for (const ability of this.state.draining ? [] : peer.abilities) {
      if (ability.fn.hasQueued) {
        this.noop(peer);
        return;
      }
    }
    peer.sleeping = true;
    for (const ability of peer.abilities) ability.fn.sleeping.add(peer.id);
  }

  /** A GRAB_*: the worker is awake, and may be NOOPed again after its next PRE_SLEEP. */
  grabbing(peer: CorePeer): void {
    peer.noopSent = false;
    this.awake(peer);
  }

  /**
   * Wakes the sleeping workers of `fn` for `count` new runnable jobs: all of them, or with `-w N`
   * up to N per job, longest asleep first. Each NOOP takes its worker out of every sleeping set,
   * so the cost is the number woken. When a cap leaves sleepers, the `rewake` timer looks again.
   */
  wake(fn: FunctionQueue, count: number): void {
    const state = this.state;
    if (fn.sleeping.size === 0 || state.draining) return;
    const cap = state.options.wakeWorkers;
    let left = cap > 0 ? cap * count : Infinity;
    for (const id of fn.sleeping) {
      if (left <= 0) break;
      const worker = state.peers.get(id);
      if (worker === undefined) {
        fn.sleeping.delete(id);
        continue;
      }
      this.noop(worker);
      left--;
    }
    if (fn.sleeping.size > 0) this.armRewake(fn);
  }

  /** The `rewake` timer: one more capped wake-up for each function whose jobs still wait. */
  rewake(): void {
    this.rewakeArmed = false;
    const due = [...this.rewakeDue];
    this.rewakeDue.clear();
    for (const fn of due) {
      if (this.state.functions.get(fn.name) === fn && fn.hasQueued) this.wake(fn, 1);
    }
  }

  /** Sends NOOP (once per sleep) and takes the worker out of the sleeping sets. */
  noop(peer: CorePeer): void {
    if (peer.noopSent) return;
    peer.noopSent = true;
    this.awake(peer);
    this.state.send(peer.id, Frames.NOOP);
  }

  private awake(peer: CorePeer): void {
    if (!peer.sleeping) return;
    peer.sleeping = false;
    for (const ability of peer.abilities) ability.fn.sleeping.delete(peer.id);
  }

  private armRewake(fn: FunctionQueue): void {
    this.rewakeDue.add(fn);
    if (this.rewakeArmed) return;
    this.rewakeArmed = true;
    this.state.armTimer(REWAKE_TIMER, REWAKE_DELAY_MS);
  }
}
