import type { ServerClock } from '../core/effects.js';

/** Node's timers overflow above this many milliseconds (about 24.8 days). */
const MAX_TIMER_DELAY = 2 ** 31 - 1;

/**
 * The core's timers, by key: each fires once when the core's clock reaches its time. The delay
 * is measured on the same clock the core used to compute that time, so a core on an injected
 * clock (tests, a clock that is not the wall) gets its timers when it expects them.
 */
export class Timers {
  private readonly armed = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly clock: ServerClock,
    /** Called when the timer `key` is due (it is disarmed first). */
    private readonly fire: (key: string) => void,
  ) {}

  /** Arms (or re-arms) the timer `key` for clock time `at`, in ms. */
  arm(key: string, at: number): void {
    const existing = this.armed.get(key);
    if (existing) clearTimeout(existing);
    const delay = Math.max(0, at - this.clock.now());
    const timer = setTimeout(
      () => {
        this.armed.delete(key);
        // A far-off time is reached in steps of Node's largest delay; a clock that went back
        // (or was held back) is waited for too.
        if (this.clock.now() < at) this.arm(key, at);
        else this.fire(key);
      },
      Math.min(delay, MAX_TIMER_DELAY),
    );
    timer.unref();
    this.armed.set(key, timer);
  }

  /** Disarms the timer `key`, if armed. */
  clear(key: string): void {
    const timer = this.armed.get(key);
    if (timer) {
      clearTimeout(timer);
      this.armed.delete(key);
    }
  }

  /** Disarms every timer. */
  clearAll(): void {
    for (const timer of this.armed.values()) clearTimeout(timer);
    this.armed.clear();
  }
}
