/**
 * Every process the benchmark starts (servers, load generators), so that an interrupted run
 * can stop them by PID instead of leaving them behind.
 */
import type { ChildProcess } from 'node:child_process';

const live = new Set<ChildProcess>();

/** Remembers a child until it exits. */
export function trackChild(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
}

/** Sends `signal` to every child still running, by PID. */
export function signalChildren(signal: NodeJS.Signals): void {
  for (const child of live) {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid, signal);
      } catch {
        // It exited between the check and the kill.
      }
    }
  }
}

/** How many tracked children are still running. */
export function liveChildren(): number {
  return live.size;
}

/** On Ctrl-C or a kill, stops the servers and load generators by PID before leaving. */
export function stopChildrenOnSignals(program: string): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.error(`${program}: ${signal}, stopping the servers and load generators`);
      signalChildren('SIGTERM');
      const started = Date.now();
      const timer = setInterval(() => {
        if (liveChildren() === 0 || Date.now() - started > 5000) {
          signalChildren('SIGKILL');
          clearInterval(timer);
          process.exit(signal === 'SIGINT' ? 130 : 143);
        }
      }, 50);
    });
  }
}
