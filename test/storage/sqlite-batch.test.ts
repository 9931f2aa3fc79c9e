import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Priority } from '../../src/protocol/packet-types.js';
import type { StoredJobKeyOperation } from '../../src/storage/store-backend.js';
import { packOperations, readOperations } from '../../src/storage/sqlite-batch.js';

describe('packed batches for the SQLite writer thread', () => {
  it('read back exactly what was packed, in order: names in UTF-8, reducers, empty and binary data, removes', () => {
    const binary = Buffer.from([0, 255, 10, 13, 0]);
    const operations: StoredJobKeyOperation[] = [
      {
        kind: 'add',
        job: {
          functionName: 'fn',
          uniqueKey: 'u1',
          generatedKey: false,
          priority: Priority.HIGH,
          data: binary,
          whenToRun: 0,
        },
      },
      {
        kind: 'add',
        job: {
          functionName: 'fn',
          uniqueKey: 'ünï-🎉',
          generatedKey: false,
          priority: Priority.LOW,
          data: Buffer.alloc(0),
          whenToRun: 2_000_000_000,
          reducer: 'sum✓',
        },
      },
      { kind: 'remove', key: { functionName: 'fn', uniqueKey: 'u1' } },
      {
        kind: 'add',
        job: {
          functionName: 'другой',
          uniqueKey: '',
          generatedKey: false,
          priority: Priority.NORMAL,
          data: Buffer.alloc(70_000, 7),
          whenToRun: 1.5,
          reducer: '',
        },
      },
    ];
    const packed = packOperations(operations);
    assert.equal(packed.count, 4);
    assert.ok(packed.bytes <= packed.buffer.byteLength);
    const read: unknown[] = [];
    readOperations(packed, (remove, functionName, uniqueKey, priority, whenToRun, reducer, data) =>
      read.push({ remove, functionName, uniqueKey, priority, whenToRun, reducer, data: [...data] }),
    );
    assert.deepEqual(read, [
      {
        remove: false,
        functionName: 'fn',
        uniqueKey: 'u1',
        priority: Priority.HIGH,
        whenToRun: 0,
        reducer: null,
        data: [...binary],
      },
      {
        remove: false,
        functionName: 'fn',
        uniqueKey: 'ünï-🎉',
        priority: Priority.LOW,
        whenToRun: 2_000_000_000,
        reducer: 'sum✓',
        data: [],
      },
      {
        remove: true,
        functionName: 'fn',
        uniqueKey: 'u1',
        priority: 0,
        whenToRun: 0,
        reducer: null,
        data: [],
      },
      {
        remove: false,
        functionName: 'другой',
        uniqueKey: '',
        priority: Priority.NORMAL,
        whenToRun: 1.5,
        reducer: '',
        data: [...Buffer.alloc(70_000, 7)],
      },
    ]);
  });

  it('packs into a buffer of its own, so it can be transferred without touching Node’s pool', () => {
    const packed = packOperations([{ kind: 'remove', key: { functionName: 'f', uniqueKey: 'k' } }]);
    const copy = structuredClone(packed, { transfer: [packed.buffer] });
    assert.equal(packed.buffer.byteLength, 0, 'the original is detached after the transfer');
    let seen = '';
    readOperations(copy, (_remove, fn, key) => (seen = `${fn}/${key}`));
    assert.equal(seen, 'f/k');
  });
});
