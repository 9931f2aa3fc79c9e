import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Priority } from '../../../src/protocol/index.js';
import { DelayHeap } from '../../../src/server/core/delay-heap.js';
import { FunctionQueue } from '../../../src/server/core/function-queue.js';
import { Job, JobState } from '../../../src/server/core/job.js';
import { JobTable } from '../../../src/server/core/job-table.js';

const fn = new FunctionQueue('f');

function job(id: number, when = 0, priority: Priority = Priority.NORMAL): Job {
  return new Job(id, fn, '', Buffer.from('x'), priority, true, when, JobState.QUEUED);
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
    const popped: Job[] = [];
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

  it('packs job flags without them leaking into each other', () => {
    const j = new Job(1, fn, 'u', Buffer.from('d'), Priority.LOW, false, 0, JobState.PENDING);
    j.state = JobState.RUNNING;
    j.ignored = true;
    j.timerArmed = true;
    assert.deepEqual(
      [j.state, j.priority, j.background, j.ignored, j.timerArmed],
      [JobState.RUNNING, Priority.LOW, false, true, true],
    );
    j.ignored = false;
    j.state = JobState.DONE;
    assert.deepEqual(
      [j.state, j.priority, j.background, j.ignored, j.timerArmed],
      [JobState.DONE, Priority.LOW, false, false, true],
    );
    const big = new Job(2, fn, '-', Buffer.alloc(1000, 7), Priority.HIGH, true, 0, JobState.QUEUED);
    assert.deepEqual(big.data, Buffer.alloc(1000, 7));
    assert.equal(big.coalesceKey, Buffer.alloc(1000, 7).toString('latin1'));
  });
});
