/**
 * The SQLite store's writer thread. SQLite calls block, and a durable commit waits for an fsync;
 * here that wait overlaps with the server's work on the main thread instead of stopping it.
 * Messages in: `{ id, upserts, deletes }`, or `{ id, close: true }`. Out: `{ id }` on success,
 * `{ id, error: { message, code } }` on failure; first `{ ready: true }` or `{ error }` after
 * opening.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openSqliteQueue, type SqliteKey, type SqliteRowIn } from './sqlite-queue.js';

interface CommitRequest {
  readonly id: number;
  readonly upserts?: readonly SqliteRowIn[];
  readonly deletes?: readonly SqliteKey[];
  readonly close?: boolean;
}

function errorOf(err: unknown): { message: string; code?: string } {
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  return typeof code === 'string' ? { message, code } : { message };
}

const port = parentPort;
if (port) {
  const { file, table } = workerData as { file: string; table: string };
  let queue: ReturnType<typeof openSqliteQueue> | undefined;
  try {
    queue = openSqliteQueue(file, table);
    port.postMessage({ ready: true });
  } catch (err) {
    port.postMessage({ error: errorOf(err) });
  }
  port.on('message', (request: CommitRequest) => {
    if (!queue) return;
    if (request.close) {
      queue.close();
      queue = undefined;
      port.postMessage({ id: request.id });
      port.close();
      return;
    }
    try {
      queue.commit(request.upserts ?? [], request.deletes ?? []);
      port.postMessage({ id: request.id });
    } catch (err) {
      port.postMessage({ id: request.id, error: errorOf(err) });
    }
  });
}
