import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OutputQueue } from '../../../src/server/net/output-queue.js';

function drain(queue: OutputQueue): string {
  const { chunks, bytes } = queue.take();
  const text = Buffer.concat(chunks).toString();
  assert.equal(bytes, Buffer.byteLength(text));
  return text;
}

describe('OutputQueue', () => {
  it('passes writes straight through when nothing is held', () => {
    const q = new OutputQueue();
    q.write(Buffer.from('a'));
    q.write(Buffer.from('bc'));
    assert.equal(q.pendingBytes, 3);
    assert.equal(drain(q), 'abc');
    assert.equal(q.pendingBytes, 0);
    assert.equal(q.hasReady, false);
  });

  it('keeps replies in request order around a hold', () => {
    const q = new OutputQueue();
    q.write(Buffer.from('1'));
    const hold = q.hold();
    q.write(Buffer.from('3'));
    assert.equal(drain(q), '1', 'what came before the hold is ready at once');
    assert.equal(hold.filled, false);
    q.fill(hold, Buffer.from('2'));
    assert.equal(hold.filled, true);
    assert.equal(q.hasReady, false, 'nothing behind the hold leaves before it is released');
    assert.equal(q.pendingBytes, 2);
    q.release(hold);
    assert.equal(drain(q), '23');
    assert.equal(q.holding, false);
  });

  it('releases holds out of order only up to the first unreleased one', () => {
    const q = new OutputQueue();
    const first = q.hold();
    q.write(Buffer.from('b'));
    const second = q.hold();
    q.write(Buffer.from('d'));
    q.fill(second, Buffer.from('c'));
    q.release(second);
    assert.equal(q.hasReady, false);
    q.fill(first, Buffer.from('a'));
    q.release(first);
    assert.equal(drain(q), 'abcd');
  });

  it('keeps every reply put in one hold, in order', () => {
    const q = new OutputQueue();
    const hold = q.hold();
    q.write(Buffer.from('z'));
    q.fill(hold, Buffer.from('x'));
    q.fill(hold, Buffer.from('y'));
    q.release(hold);
    assert.equal(drain(q), 'xyz');
  });

  it('an unfilled hold released lets what waited behind it go', () => {
    const q = new OutputQueue();
    const hold = q.hold();
    q.write(Buffer.from('after'));
    assert.equal(q.holding, true);
    q.release(hold);
    assert.equal(q.holding, false);
    assert.equal(drain(q), 'after');
  });

  it('keeps order across small (batched) and large writes, and never rewrites taken bytes', () => {
    const q = new OutputQueue();
    const expected: Buffer[] = [];
    for (let i = 0; i < 3000; i++) {
      const part = i % 500 === 7 ? Buffer.alloc(5000, i % 256) : Buffer.from(`p${i};`);
      q.write(part);
      expected.push(part);
    }
    const first = q.take();
    const firstCopy = Buffer.concat(first.chunks);
    assert.deepEqual(firstCopy, Buffer.concat(expected));
    assert.equal(first.bytes, firstCopy.length);
    for (let i = 0; i < 100; i++) q.write(Buffer.from(`later${i};`));
    assert.deepEqual(Buffer.concat(first.chunks), firstCopy, 'handed-out bytes unchanged');
    assert.match(drain(q), /^later0;later1;.*later99;$/);
  });
});
