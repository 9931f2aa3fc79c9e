import { AbortError, TimeoutError } from '../connection/errors.js';
import type { CallOptions } from './client-options.js';
import { toError } from './client-arguments.js';

/** Arms the timeout and abort signal; returns the function that disarms both. */
export function armDeadline(
  options: CallOptions,
  what: string,
  expire: (error: Error) => void,
): () => void {
  const { timeout, signal } = options;
  let timer: NodeJS.Timeout | undefined;
  const onAbort = (): void =>
    expire(new AbortError(`${what} was aborted`, { cause: signal?.reason }));
  if (signal?.aborted) {
    queueMicrotask(onAbort);
    return () => undefined;
  }
  if (timeout !== undefined)
    timer = setTimeout(
      () => expire(new TimeoutError(`${what} did not finish within ${timeout} ms`)),
      timeout,
    );
  signal?.addEventListener('abort', onAbort, { once: true });
  return () => {
    if (timer !== undefined) clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  };
}

/** Runs `work`, rejecting early when the timeout passes or the signal aborts. */
export function withDeadline<T>(
  options: CallOptions,
  what: string,
  work: () => Promise<T>,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const dispose = armDeadline(options, what, reject);
    work().then(
      (value) => {
        dispose();
        resolve(value);
      },
      (error: unknown) => {
        dispose();
        reject(toError(error));
      },
    );
  });
}
