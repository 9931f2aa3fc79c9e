/**
 * The SQLite store's writer thread. SQLite calls block, and a durable commit waits for an fsync;
 * here that wait overlaps with the server's work on the main thread instead of stopping it.
 *
 * Messages in: `{ id, packed?, endsTurn }` (a batch from `packOperations`, transferred), or
 * `{ id, close: true }`. Out, once the batch's transaction has committed: `{ id, transactions,
 * failures? }` — `failures` holds `[index, error]` for rows SQLite refused — or `{ id, error }`
 * when its transaction was lost; first `{ ready: true }` or `{ error }` after opening; at any
 * time after that `{ warning }`, a problem that loses nothing, for the log.
 *
 * After a commit that deleted rows, free space is given back to the file system between
 * batches, a bounded step at a time (sqlite-space.ts).
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
import { collectGarbage } from './collect-garbage.js';
import type { PackedOperations } from './sqlite-batch.js';
import { openSqliteQueue, type SqliteQueue } from './sqlite-queue.js';

interface Request {
  readonly id: number;
  /** Cleared once applied, so that a large batch can be collected before it is answered. */
  packed?: PackedOperations | undefined;
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
/**
 * Batches of at least this many bytes (a large payload) are collected before they are answered:
 * this thread allocates little, so V8 would otherwise keep a dropped batch for a long time.
 */
const COLLECT_AFTER_BYTES = 1024 * 1024;

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
  /** Whether a large batch was applied since the last commit. */
  #collect = false;
  #reclaimScheduled = false;
  /** Set after a failed reclaim step, so a lasting cause is reported once. */
  #reclaimFailing = false;

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
    const packed = request.packed;
    if (!packed) {
      this.#members.push({ id: request.id, failures: [] });
      return;
    }
    request.packed = undefined;
    if (packed.bytes >= COLLECT_AFTER_BYTES) this.#collect = true;
    try {
      const failures = queue.apply(packed);
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
    if (this.#collect) {
      // SQLite copied the rows' bytes; the batch is garbage now (~1 ms on this small heap).
      this.#collect = false;
      collectGarbage();
    }
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
    if (queue.reclaimDue) this.#scheduleReclaim();
  }

  /**
   * Gives free space back (SqliteSpace) in bounded steps, each after the messages already waiting
   * have been handled (setImmediate runs after the poll phase), so batches are not held up.
   */
  #scheduleReclaim(): void {
    if (this.#reclaimScheduled) return;
    this.#reclaimScheduled = true;
    setImmediate(() => {
      this.#reclaimScheduled = false;
      const queue = this.#queue;
      if (!queue) return;
      try {
        const more = queue.reclaim();
        this.#reclaimFailing = false;
        if (more) this.#scheduleReclaim();
      } catch (err) {
        if (!this.#reclaimFailing)
          warn(this.port, `cannot give free space back: ${errorOf(err).message}`);
        this.#reclaimFailing = true;
      }
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

/** A problem that loses nothing, for the store's log. */
function warn(port: MessagePort, message: string): void {
  port.postMessage({ warning: message });
}

const port = parentPort;
if (port) {
  const { file, table } = workerData as { file: string; table: string };
  try {
    // Warnings wait for `ready`: the store takes the first message as the outcome of the open.
    const openWarnings: string[] = [];
    const writer = new Writer(
      port,
      openSqliteQueue(file, table, (message) => openWarnings.push(message)),
    );
    port.on('message', (request: Request) => writer.receive(request));
    port.postMessage({ ready: true });
    for (const message of openWarnings) warn(port, message);
  } catch (err) {
    port.postMessage({ error: errorOf(err) });
  }
}
