/**
 * How a batch of queue operations crosses to the SQLite writer thread: packed into one
 * ArrayBuffer that is transferred, not cloned. Structured cloning thousands of small objects per
 * batch cost the server's thread about a microsecond per job, and the objects themselves
 * garbage-collection time; one buffer costs a few writes per job and nothing on the way.
 *
 * Per operation: kind (u8: 0 add, 1 remove), priority (u8), when_to_run (f64), and the byte
 * lengths of function name, unique key, reducer (i32, -1 for none) and data (u32), then those
 * bytes (names as UTF-8). A remove leaves priority, time, reducer and data empty.
 */
import type { StoredJobKeyOperation } from './store-backend.js';

const ADD = 0;
const REMOVE = 1;
const HEADER_BYTES = 1 + 1 + 8 + 4 + 4 + 4 + 4;
/** The most bytes UTF-8 needs per UTF-16 code unit. */
const UTF8_PER_UNIT = 3;

/** A packed batch of `count` operations in the first `bytes` of `buffer`. */
export interface PackedOperations {
  readonly buffer: ArrayBuffer;
  readonly bytes: number;
  readonly count: number;
}

/**
 * Receives the operations of a packed batch one by one (arguments rather than an object per
 * operation: the writer thread handles hundreds of thousands a second). `data` is a view into
 * the batch; a remove has priority 0, time 0, no reducer and empty data.
 */
export type OperationVisitor = (
  remove: boolean,
  functionName: string,
  uniqueKey: string,
  priority: number,
  whenToRun: number,
  reducer: string | null,
  data: Buffer,
) => void;

/** Packs the operations, in order, into a buffer of their own (so it can be transferred). */
export function packOperations(operations: readonly StoredJobKeyOperation[]): PackedOperations {
  let capacity = 0;
  for (const op of operations) {
    const key = op.kind === 'add' ? op.job : op.key;
    capacity += HEADER_BYTES + UTF8_PER_UNIT * (key.functionName.length + key.uniqueKey.length);
    if (op.kind === 'add')
      capacity += UTF8_PER_UNIT * (op.job.reducer?.length ?? 0) + op.job.data.length;
  }
  // Not Buffer.allocUnsafe: a small one may share Node's pool, which must not be transferred.
  const buffer = new ArrayBuffer(capacity);
  const out = Buffer.from(buffer);
  let at = 0;
  for (const op of operations) {
    const key = op.kind === 'add' ? op.job : op.key;
    let next = at + HEADER_BYTES;
    const functionBytes = out.write(key.functionName, next, 'utf8');
    next += functionBytes;
    const uniqueBytes = out.write(key.uniqueKey, next, 'utf8');
    next += uniqueBytes;
    let reducerBytes = -1;
    let dataBytes = 0;
    if (op.kind === 'add') {
      const { reducer, data } = op.job;
      if (reducer !== undefined) {
        reducerBytes = out.write(reducer, next, 'utf8');
        next += reducerBytes;
      }
      dataBytes = data.copy(out, next);
      next += dataBytes;
    }
    out[at] = op.kind === 'add' ? ADD : REMOVE;
    out[at + 1] = op.kind === 'add' ? op.job.priority : 0;
    out.writeDoubleLE(op.kind === 'add' ? op.job.whenToRun : 0, at + 2);
    out.writeUInt32LE(functionBytes, at + 10);
    out.writeUInt32LE(uniqueBytes, at + 14);
    out.writeInt32LE(reducerBytes, at + 18);
    out.writeUInt32LE(dataBytes, at + 22);
    at = next;
  }
  return { buffer, bytes: at, count: operations.length };
}

/** Reads a packed batch back, in order. */
export function readOperations(packed: PackedOperations, visit: OperationVisitor): void {
  const input = Buffer.from(packed.buffer, 0, packed.bytes);
  // Most operations of a batch name the same function: decode its name once.
  let functionName = '';
  let functionAt = -1;
  let functionBytes = -1;
  let at = 0;
  while (at < input.length) {
    const nameBytes = input.readUInt32LE(at + 10);
    const uniqueBytes = input.readUInt32LE(at + 14);
    const reducerBytes = input.readInt32LE(at + 18);
    const dataBytes = input.readUInt32LE(at + 22);
    let next = at + HEADER_BYTES;
    if (!sameBytes(input, functionAt, functionBytes, next, nameBytes)) {
      functionName = input.toString('utf8', next, next + nameBytes);
      functionAt = next;
      functionBytes = nameBytes;
    }
    next += nameBytes;
    const uniqueKey = input.toString('utf8', next, next + uniqueBytes);
    next += uniqueBytes;
    let reducer: string | null = null;
    if (reducerBytes >= 0) {
      reducer = input.toString('utf8', next, next + reducerBytes);
      next += reducerBytes;
    }
    visit(
      input[at] === REMOVE,
      functionName,
      uniqueKey,
      input[at + 1] as number,
      input.readDoubleLE(at + 2),
      reducer,
      input.subarray(next, next + dataBytes),
    );
    at = next + dataBytes;
  }
}

/** Whether two ranges of one buffer hold the same bytes (names are short: no call into C++). */
function sameBytes(
  buffer: Buffer,
  a: number,
  aLength: number,
  b: number,
  bLength: number,
): boolean {
  if (a < 0 || aLength !== bLength) return false;
  for (let i = 0; i < aLength; i++) if (buffer[a + i] !== buffer[b + i]) return false;
  return true;
}
