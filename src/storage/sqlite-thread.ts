/**
 * The SQLite store's writer thread. SQLite calls block, and a durable commit waits for an fsync;
 * here that wait overlaps with the server's work on the main thread instead of stopping it.
 *
 * Messages in: `{ id, packed }` (a batch from `packOperations`, transferred), or
 * `{ id, close: true }`. Out: `{ id, transactions, failures? }` once the batch is committed —
 * `failures` holds `[index, error]` for operations that could not be applied — or
 * `{ id, error }` when the batch could not be handled at all; first `{ ready: true }` or
 * `{ error }` after opening.
 *
 * Batches are applied strictly in the order they arrive. The server does not wait for one batch
 * before sending the next, so while a commit is in progress the next batches queue up here; they
 * are then taken together, in one transaction (group commit across batches).
 */
import {
  parentPort,
  receiveMessageOnPort,
  workerData,
  type MessagePort,
} from 'node:worker_threads';
import type { PackedOperations } from './sqlite-batch.js';
import { openSqliteQueue, type SqliteQueue } from './sqlite-queue.js';

interface Request {
  readonly id: number;
  readonly packed?: PackedOperations;
  readonly close?: boolean;
}

/** The most batches taken into one transaction, so one reply never waits for too many. */
const MAX_BATCHES_PER_TRANSACTION = 64;

function errorOf(err: unknown): { message: string; code?: string } {
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  return typeof code === 'string' ? { message, code } : { message };
}

/** Applies the batches in one transaction (or one by one on failure) and answers each. */
function commitBatches(port: MessagePort, queue: SqliteQueue, batches: readonly Request[]): void {
  let outcome: ReturnType<SqliteQueue['applyInOrder']>;
  try {
    outcome = queue.applyInOrder(batches.flatMap((b) => (b.packed ? [b.packed] : [])));
  } catch (err) {
    for (const batch of batches) port.postMessage({ id: batch.id, error: errorOf(err) });
    return;
  }
  let offset = 0;
  batches.forEach((batch, i) => {
    const count = batch.packed?.count ?? 0;
    const failures: [number, { message: string; code?: string }][] = [];
    for (let j = 0; j < count; j++) {
      const err = outcome.failures?.[offset + j];
      if (err !== undefined) failures.push([j, errorOf(err)]);
    }
    offset += count;
    // The transactions are counted once, on the first answer of the group.
    const transactions = i === 0 ? outcome.transactions : 0;
    port.postMessage(
      failures.length > 0
        ? { id: batch.id, transactions, failures }
        : { id: batch.id, transactions },
    );
  });
}

const port = parentPort;
if (port) {
  const { file, table } = workerData as { file: string; table: string };
  let queue: SqliteQueue | undefined;
  try {
    queue = openSqliteQueue(file, table);
    port.postMessage({ ready: true });
  } catch (err) {
    port.postMessage({ error: errorOf(err) });
  }
  port.on('message', (first: Request) => {
    const batches: Request[] = [first];
    let closing: Request | undefined = first.close ? first : undefined;
    if (closing) batches.pop();
    while (!closing && batches.length < MAX_BATCHES_PER_TRANSACTION) {
      const next = receiveMessageOnPort(port)?.message as Request | undefined;
      if (next === undefined) break;
      if (next.close) closing = next;
      else batches.push(next);
    }
    if (!queue) return;
    if (batches.length > 0) commitBatches(port, queue, batches);
    if (closing) {
      queue.close();
      queue = undefined;
      port.postMessage({ id: closing.id });
      port.close();
    }
  });
}
