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
    q.hold(7);
    q.write(Buffer.from('3'));
    assert.equal(drain(q), '1', 'what came before the hold is ready at once');
    assert.equal(q.fill(7, Buffer.from('2')), true);
    assert.equal(q.hasReady, false, 'nothing behind the hold leaves before it is released');
    assert.equal(q.pendingBytes, 2);
    q.release(7);
    assert.equal(drain(q), '23');
    assert.equal(q.holding, false);
  });

  it('releases holds out of order only up to the first unreleased one', () => {
    const q = new OutputQueue();
    q.hold(1);
    q.write(Buffer.from('b'));
    q.hold(2);
    q.write(Buffer.from('d'));
    q.fill(2, Buffer.from('c'));
    q.release(2);
    assert.equal(q.hasReady, false);
    q.fill(1, Buffer.from('a'));
    q.release(1);
    assert.equal(drain(q), 'abcd');
  });

  it('fills two holds of one commit in turn', () => {
    const q = new OutputQueue();
    q.hold(5);
    q.write(Buffer.from('x'));
    q.hold(5);
    q.fill(5, Buffer.from('A'));
    q.fill(5, Buffer.from('B'));
    q.release(5);
    assert.equal(drain(q), 'AxB');
  });

  it('refuses to fill a token it does not hold', () => {
    const q = new OutputQueue();
    q.hold(1);
    assert.equal(q.fill(2, Buffer.from('z')), false);
    q.release(99);
    assert.equal(q.holding, true);
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
