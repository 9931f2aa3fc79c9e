import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Priority } from '../../../src/protocol/index.js';
import { DelayHeap } from '../../../src/server/core/delay-heap.js';
import { FunctionQueue } from '../../../src/server/core/function-queue.js';
import { ServerJob, ServerJobState } from '../../../src/server/core/server-job.js';
import { JobTable } from '../../../src/server/core/job-table.js';
import { LazyMap, LazySet } from '../../../src/server/core/lazy-collections.js';

const fn = new FunctionQueue('f');

function job(id: number, when = 0, priority: Priority = Priority.NORMAL): ServerJob {
  return new ServerJob(
    id,
    fn,
    '',
    Buffer.from('x'),
    priority,
    true,
    when,
    ServerJobState.QUEUED,
    0,
  );
}

/** A small deterministic generator, so a failure can be replayed. */
function lcg(seed: number): () => number {
  let x = seed;
  return () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x;
  };
}

describe('DelayHeap', () => {
  it('pops jobs by time, then by handle number, whatever the push order', () => {
    const heap = new DelayHeap();
    const next = lcg(42);
    const jobs = Array.from({ length: 2000 }, (_, i) => job(i + 1, next() % 50));
    for (const j of jobs) heap.push(j);
    const popped: ServerJob[] = [];
    for (let j = heap.pop(); j !== undefined; j = heap.pop()) popped.push(j);
    const expected = [...jobs].sort((a, b) => a.when - b.when || a.id - b.id);
    assert.deepEqual(
      popped.map((j) => j.id),
      expected.map((j) => j.id),
    );
    assert.equal(heap.size, 0);
    assert.equal(heap.peek(), undefined);
  });
});

describe('JobTable', () => {
  it('finds jobs by number, lists them in order and frees emptied pages', () => {
    const table = new JobTable();
    const jobs = Array.from({ length: 5000 }, (_, i) => job(i + 1));
    for (const j of jobs) table.set(j);
    assert.equal(table.size, 5000);
    assert.equal(table.get(4321), jobs[4320]);
    assert.equal(table.get(0), undefined);
    assert.equal(table.get(999_999), undefined);
    for (let id = 1; id <= 4999; id++) table.delete(id);
    table.delete(1); // twice is harmless
    assert.equal(table.size, 1);
    assert.deepEqual(
      [...table.values()].map((j) => j.id),
      [5000],
    );
    assert.equal(table.get(10), undefined);
  });
});

describe('FunctionQueue', () => {
  it('is FIFO per priority and serves HIGH before NORMAL before LOW', () => {
    const q = new FunctionQueue('g');
    const order = [Priority.LOW, Priority.NORMAL, Priority.HIGH, Priority.NORMAL, Priority.LOW];
    order.forEach((p, i) => q.push(job(i + 1, 0, p)));
    assert.deepEqual(q.queued, [1, 2, 2]);
    const ids: number[] = [];
    for (let j = q.shift(); j !== undefined; j = q.shift()) ids.push(j.id);
    assert.deepEqual(ids, [3, 2, 4, 1, 5]);
    assert.deepEqual(q.queued, [0, 0, 0]);
    assert.equal(q.hasQueued, false);
    // Reusable after draining (tails were reset).
    q.push(job(9));
    assert.equal(q.shift()?.id, 9);
  });

  it('knows its name as bytes and as text, and serves nothing before its first push', () => {
    const q = new FunctionQueue(Buffer.from('résumé', 'utf8').toString('latin1'));
    assert.equal(q.textName, 'résumé');
    assert.deepEqual(q.nameBytes, Buffer.from('résumé', 'utf8'));
    assert.equal(q.nameBytes, q.nameBytes, 'made once');
    assert.equal(new FunctionQueue('plain').textName, 'plain');
    assert.equal(q.shift(), undefined);
    assert.equal(q.hasQueued, false);
  });

  it('keeps job payloads without copying large ones and drops an abandoned one', () => {
    const large = Buffer.alloc(4096, 1);
    const kept = new ServerJob(
      3,
      fn,
      '',
      large,
      Priority.NORMAL,
      false,
      0,
      ServerJobState.QUEUED,
      0,
    );
    assert.equal(kept.data, large, 'a payload filling its own buffer is not copied');
    const chunk = Buffer.alloc(65536, 2);
    const part = chunk.subarray(100, 1100);
    const copied = new ServerJob(
      4,
      fn,
      '',
      part,
      Priority.NORMAL,
      false,
      0,
      ServerJobState.QUEUED,
      0,
    );
    assert.notEqual(copied.data.buffer, chunk.buffer, 'a small part of a chunk is copied');
    assert.deepEqual(copied.data, part);
    copied.releasePayload();
    assert.equal(copied.data.length, 0);
  });

  it('packs job flags without them leaking into each other', () => {
    const j = new ServerJob(
      1,
      fn,
      'u',
      Buffer.from('d'),
      Priority.LOW,
      false,
      0,
      ServerJobState.PENDING,
      0,
    );
    j.state = ServerJobState.RUNNING;
    j.ignored = true;
    j.timerArmed = true;
    assert.deepEqual(
      [j.state, j.priority, j.background, j.ignored, j.timerArmed],
      [ServerJobState.RUNNING, Priority.LOW, false, true, true],
    );
    j.ignored = false;
    j.state = ServerJobState.DONE;
    assert.deepEqual(
      [j.state, j.priority, j.background, j.ignored, j.timerArmed],
      [ServerJobState.DONE, Priority.LOW, false, false, true],
    );
    const big = new ServerJob(
      2,
      fn,
      '-',
      Buffer.alloc(1000, 7),
      Priority.HIGH,
      true,
      0,
      ServerJobState.QUEUED,
      0,
    );
    assert.deepEqual(big.data, Buffer.alloc(1000, 7));
    assert.equal(big.coalesceKey, Buffer.alloc(1000, 7).toString('latin1'));
  });
});

describe('LazySet and LazyMap', () => {
  it('behave as a Set in insertion order, deletions during iteration included', () => {
    const set = new LazySet<number>();
    assert.equal(set.size, 0);
    assert.equal(set.has(1), false);
    assert.equal(set.delete(1), false);
    assert.deepEqual([...set], []);
    set.add(3).add(1).add(2).add(1);
    assert.equal(set.size, 3);
    assert.equal(set.has(1), true);
    const seen: number[] = [];
    for (const v of set) {
      seen.push(v);
      if (v === 3) set.delete(1);
    }
    assert.deepEqual(seen, [3, 2], 'a value deleted before it is reached is not seen');
    assert.deepEqual([...set.values()], [3, 2]);
  });

  it('behave as a Map', () => {
    const map = new LazyMap<string, number>();
    assert.equal(map.get('a'), undefined);
    assert.equal(map.has('a'), false);
    assert.equal(map.delete('a'), false);
    assert.equal(map.size, 0);
    assert.deepEqual([...map], []);
    map.set('a', 1).set('b', 2).set('a', 3);
    assert.equal(map.get('a'), 3);
    assert.equal(map.size, 2);
    assert.equal(map.delete('b'), true);
    assert.deepEqual([...map], [['a', 3]]);
    assert.deepEqual([...map.values()], [3]);
  });
});
