/**
 * The SQLite store's writer thread. SQLite calls block, and a durable commit waits for an fsync;
 * here that wait overlaps with the server's work on the main thread instead of stopping it.
 *
 * Messages in: `{ id, packed?, endsTurn }` (a batch from `packOperations`, transferred), or
 * `{ id, close: true }`. Out, once the batch's transaction has committed: `{ id, transactions,
 * failures? }` — `failures` holds `[index, error]` for rows SQLite refused — or `{ id, error }`
 * when its transaction was lost; first `{ ready: true }` or `{ error }` after opening.
 *
 * Batches are applied strictly in the order they arrive, into one open transaction, which a
 * turn-ending batch commits. The server sends eager batches while its event-loop turn is still
 * reading submissions, so the rows are in before the turn ends. When whole turns are already
 * waiting at a turn's end, they join the same transaction first (group commit across turns).
 */
import {
  parentPort,
  receiveMessageOnPort,
  workerData,
  type MessagePort,
} from 'node:worker_threads';
import { errorMessage } from '../protocol/errors.js';
import type { PackedOperations } from './sqlite-batch.js';
import { openSqliteQueue, type SqliteQueue } from './sqlite-queue.js';

interface Request {
  readonly id: number;
  readonly packed?: PackedOperations;
  readonly endsTurn?: boolean;
  readonly close?: boolean;
}

interface ThreadError {
  readonly message: string;
  readonly code?: string;
}

/** A batch applied in the open transaction, waiting for its commit. */
interface Member {
  readonly id: number;
  readonly failures: [number, ThreadError][];
}

/** The most batches one transaction takes, so a busy server's answers never wait for too many. */
const MAX_BATCHES_PER_TRANSACTION = 64;

function errorOf(err: unknown): ThreadError {
  const code = (err as { code?: unknown }).code;
  const message = errorMessage(err);
  return typeof code === 'string' ? { message, code } : { message };
}

class Writer {
  #members: Member[] = [];
  #queue: SqliteQueue | undefined;
  /** Whether the last batch applied ended a turn (so the open transaction may commit). */
  #turnEnded = true;

  constructor(
    private readonly port: MessagePort,
    queue: SqliteQueue,
  ) {
    this.#queue = queue;
  }

  /** Handles one message and, at a turn's end, whatever else is already waiting. */
  receive(first: Request): void {
    let request: Request | undefined = first;
    while (request && this.#queue) {
      if (request.close) {
        if (this.#turnEnded) this.#commit(this.#queue);
        this.#close(request.id);
        return;
      }
      // A turn's transaction commits before the next turn's first batch goes in: that turn may
      // still be being read, and must not hold back the answers to a finished one.
      if (!request.endsTurn && this.#turnEnded) this.#commit(this.#queue);
      this.#apply(this.#queue, request);
      this.#turnEnded = request.endsTurn === true;
      if (!this.#turnEnded) return;
      request =
        this.#members.length < MAX_BATCHES_PER_TRANSACTION
          ? (receiveMessageOnPort(this.port)?.message as Request | undefined)
          : undefined;
    }
    if (this.#queue) this.#commit(this.#queue);
  }

  #apply(queue: SqliteQueue, request: Request): void {
    if (!request.packed) {
      this.#members.push({ id: request.id, failures: [] });
      return;
    }
    try {
      const failures = queue.apply(request.packed);
      this.#members.push({
        id: request.id,
        failures: failures.map(([index, err]) => [index, errorOf(err)]),
      });
    } catch (err) {
      // The transaction is gone, and with it every batch applied since the last commit.
      queue.rollback();
      this.#members.push({ id: request.id, failures: [] });
      this.#failAll(err);
    }
  }

  #commit(queue: SqliteQueue): void {
    if (this.#members.length === 0) return;
    try {
      queue.commit();
    } catch (err) {
      this.#failAll(err);
      return;
    }
    const members = this.#members;
    this.#members = [];
    members.forEach((member, i) => {
      // The transaction is counted once, on the first answer.
      const transactions = i === 0 ? 1 : 0;
      this.port.postMessage(
        member.failures.length > 0
          ? { id: member.id, transactions, failures: member.failures }
          : { id: member.id, transactions },
      );
    });
  }

  #failAll(err: unknown): void {
    const error = errorOf(err);
    for (const member of this.#members.splice(0)) this.port.postMessage({ id: member.id, error });
  }

  #close(id: number): void {
    const queue = this.#queue;
    this.#queue = undefined;
    if (queue) {
      // The server ends its turns before closing; anything still open was never acknowledged.
      queue.rollback();
      this.#failAll(new Error('SQLite store closed before the batch was committed'));
      queue.close();
    }
    this.port.postMessage({ id });
    this.port.close();
  }
}

const port = parentPort;
if (port) {
  const { file, table } = workerData as { file: string; table: string };
  try {
    const writer = new Writer(port, openSqliteQueue(file, table));
    port.on('message', (request: Request) => writer.receive(request));
    port.postMessage({ ready: true });
  } catch (err) {
    port.postMessage({ error: errorOf(err) });
  }
}
