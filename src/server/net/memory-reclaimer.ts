import { getHeapStatistics } from 'node:v8';
import { collectGarbage } from '../../storage/collect-garbage.js';

/** A packet or a write of at least this many bytes counts as large. */
export const LARGE_BUFFER = 1024 * 1024;
/** Large bytes that must have passed since the last collection to make one worth its pause. */
const COLLECT_AFTER_BYTES = 16 * 1024 * 1024;
/** How long no large buffer must have passed: the collection comes once a burst is over. */
const QUIET_MS = 500;

let bytesSinceCollection = 0;
let timer: NodeJS.Timeout | undefined;

/**
 * Tells the reclaimer that a large buffer has passed: a large packet was handled, or a large
 * write reached the socket. Passing a 60 MB job through leaves ~3× that in garbage (the socket's
 * read chunks, the decoder's copy, the encoded JOB_ASSIGN and WORK_COMPLETE), none of it
 * referenced, but an idle server allocates nothing, so V8 would keep it resident for up to a
 * minute (gearmand frees it at once). Once at least 16 MB of large buffers have passed and then
 * none for half a second, one full collection returns it. Under a steady stream of large jobs
 * the timer keeps moving and V8's own collections, driven by the allocations, do the work.
 */
export function largeBufferPassed(bytes: number): void {
  bytesSinceCollection += bytes;
  if (bytesSinceCollection < COLLECT_AFTER_BYTES) return;
  if (timer !== undefined) {
    timer.refresh();
    return;
  }
  timer = setTimeout(collect, QUIET_MS);
  timer.unref();
}

/**
 * Above this much live heap a full collection pauses the server for too long (a million queued
 * jobs: hundreds of milliseconds), and the payloads' garbage is a small share of what it keeps
 * anyway: V8's own collections are left to find it.
 */
const MAX_HEAP_FOR_COLLECTION = 256 * 1024 * 1024;

function collect(): void {
  timer = undefined;
  bytesSinceCollection = 0;
  if (getHeapStatistics().used_heap_size > MAX_HEAP_FOR_COLLECTION) return;
  collectGarbage();
}
