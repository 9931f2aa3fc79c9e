import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** This thread's collector once looked up: a function, or null when none can be had. */
let collector: (() => void) | null | undefined;

/**
 * Runs full garbage collections of the calling thread's heap, and says whether it could.
 *
 * V8 frees a Buffer's bytes only when it collects the Buffer object, and it collects when
 * JavaScript allocates. A thread that has just let go of a large payload and then sits idle — a
 * server between jobs, the SQLite writer thread between batches — keeps those bytes resident
 * until something else happens to allocate, up to a minute later. Where the code knows it has
 * just dropped many megabytes, one collection returns them at once.
 *
 * The collector is node's `gc` when it runs with `--expose-gc`; otherwise it is taken, once per
 * thread, from a fresh context created while the flag is briefly on (so no other context gets
 * a `gc` global).
 */
export function collectGarbage(): boolean {
  if (collector === undefined) collector = lookUp();
  if (collector === null) return false;
  // Twice: some memory (the socket's read chunks) is only given back by the weak callbacks of
  // the first pass, and measured to stay until a second one.
  collector();
  collector();
  return true;
}

function lookUp(): (() => void) | null {
  const exposed = (globalThis as { gc?: unknown }).gc;
  if (typeof exposed === 'function') return exposed as () => void;
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as () => void) : null;
  } catch {
    return null;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}
