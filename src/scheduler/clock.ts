/** A timer handle as `Clock.setTimer` returns it (never null). */
export type TimerHandle = unknown;

/** Time as the scheduler sees it; injected so tests run on fake time. */
export interface Clock {
  /** Unix ms. */
  now(): number;
  setTimer(callback: () => void, delayMs: number): TimerHandle;
  clearTimer(handle: TimerHandle): void;
}

/** The process's own clock and timers. Timers do not keep the process alive. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer: (callback, delayMs) => {
    const timer = setTimeout(callback, Math.max(0, delayMs));
    timer.unref();
    return timer;
  },
  clearTimer: (handle) => clearTimeout(handle as NodeJS.Timeout),
};
