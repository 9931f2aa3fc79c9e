import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PacketType } from '../../../src/protocol/index.js';
import { brief, Harness } from './harness.js';

const C = 1;
const W = 2;
const W2 = 3;
const C2 = 4;

function setup(options = {}): Harness {
  return Harness.withConnections([C, W, W2, C2], options);
}

describe('coalescing by (function, unique)', () => {
  it('gives two foreground submitters the same handle and both the results', () => {
    const h = setup();
    const a = h.submit(C, PacketType.SUBMIT_JOB, 'f', 'same', 'x');
    const b = h.submit(C2, PacketType.SUBMIT_JOB, 'f', 'same', 'other payload');
    assert.equal(a, b);
    h.req(W, PacketType.CAN_DO, 'f');
    assert.deepEqual(brief(h.req(W, PacketType.GRAB_JOB)), [`JOB_ASSIGN ${a} f x`]);
    assert.deepEqual(brief(h.req(W, PacketType.WORK_STATUS, a, '1', '2')), [
      `WORK_STATUS ${a} 1 2`,
      `WORK_STATUS ${a} 1 2`,
    ]);
    const done = h.req(W, PacketType.WORK_COMPLETE, a, 'r');
    assert.deepEqual(brief(done, C), [`WORK_COMPLETE ${a} r`]);
    assert.deepEqual(brief(done, C2), [`WORK_COMPLETE ${a} r`]);
    // The job is gone: the same unique now makes a new job.
    assert.notEqual(h.submit(C, PacketType.SUBMIT_JOB, 'f', 'same', 'x'), a);
  });

  it('sends a late foreground joiner only the packets from then on', () => {
    const h = setup();
    const a = h.submit(C, PacketType.SUBMIT_JOB, 'f', 'u', 'x');
    h.req(W, PacketType.CAN_DO, 'f');
    h.req(W, PacketType.GRAB_JOB);
    assert.deepEqual(brief(h.req(W, PacketType.WORK_DATA, a, 'early')), [`WORK_DATA ${a} early`]);
    assert.equal(h.submit(C2, PacketType.SUBMIT_JOB, 'f', 'u', 'x'), a);
    const late = h.req(W, PacketType.WORK_DATA, a, 'late');
    assert.deepEqual(brief(late, C), [`WORK_DATA ${a} late`]);
    assert.deepEqual(brief(late, C2), [`WORK_DATA ${a} late`]);
  });

  it('coalesces a background submission onto a live job, running or not', () => {
    const h = setup();
    const a = h.submit(C, PacketType.SUBMIT_JOB_BG, 'f', 'k', 'x');
    assert.equal(h.submit(C2, PacketType.SUBMIT_JOB_HIGH_BG, 'f', 'k', 'y'), a);
    h.req(W, PacketType.CAN_DO, 'f');
    h.req(W, PacketType.GRAB_JOB);
    assert.equal(h.submit(C2, PacketType.SUBMIT_JOB_BG, 'f', 'k', 'z'), a);
    assert.deepEqual(brief(h.req(W, PacketType.GRAB_JOB)), ['NO_JOB']);
    assert.equal(h.core.view.totals().counters.coalesced, 2);
  });

  it('keys unique "-" on the payload and never coalesces an empty unique', () => {
    const h = setup();
    const a = h.submit(C, PacketType.SUBMIT_JOB_BG, 'f', '-', 'p1');
    assert.equal(h.submit(C, PacketType.SUBMIT_JOB_BG, 'f', '-', 'p1'), a);
    assert.notEqual(h.submit(C, PacketType.SUBMIT_JOB_BG, 'f', '-', 'p2'), a);
    const e1 = h.submit(C, PacketType.SUBMIT_JOB_BG, 'f', '', 'p1');
    const e2 = h.submit(C, PacketType.SUBMIT_JOB_BG, 'f', '', 'p1');
    assert.notEqual(e1, e2);
    // gearmand sends the unique '-' as it is, and does not find it by payload or by '-'.
    h.req(W, PacketType.CAN_DO, 'f');
    assert.deepEqual(brief(h.req(W, PacketType.GRAB_JOB_UNIQ)), [`JOB_ASSIGN_UNIQ ${a} f - p1`]);
    assert.deepEqual(brief(h.req(C, PacketType.GET_STATUS_UNIQUE, 'p2')), [
      'STATUS_RES_UNIQUE p2 0 0 0 0 0',
    ]);
    assert.equal(h.admin(C2, 'show unique jobs\n'), '-\n-\n\n\n.\n');
  });

  it('treats the same unique under another function as another job', () => {
    const h = setup();
    assert.notEqual(
      h.submit(C, PacketType.SUBMIT_JOB_BG, 'f', 'k', 'x'),
      h.submit(C, PacketType.SUBMIT_JOB_BG, 'g', 'k', 'x'),
    );
  });

  it('refuses a unique over 64 bytes and accepts 64', () => {
    const h = setup();
    assert.deepEqual(brief(h.req(C, PacketType.SUBMIT_JOB, 'f', 'u'.repeat(65), 'x')), [
      'ERROR ARGUMENT_TOO_LARGE Unique value too large',
    ]);
    const handle = h.submit(C, PacketType.SUBMIT_JOB, 'f', 'u'.repeat(64), 'x');
    assert.equal(handle, 'H:test:1');
  });
});

describe('dispatch order', () => {
  it('serves HIGH, then NORMAL, then LOW within a function, FIFO within a priority', () => {
    const h = setup();
    h.submit(C, PacketType.SUBMIT_JOB_LOW_BG, 'f', '', 'low');
    h.submit(C, PacketType.SUBMIT_JOB_BG, 'f', '', 'n1');
    h.submit(C, PacketType.SUBMIT_JOB_HIGH_BG, 'f', '', 'high');
    h.submit(C, PacketType.SUBMIT_JOB, 'f', '', 'n2');
    h.submit(C, PacketType.SUBMIT_JOB_HIGH, 'f', '', 'high2');
    h.submit(C, PacketType.SUBMIT_JOB_LOW, 'f', '', 'low2');
    h.req(W, PacketType.CAN_DO, 'f');
    const order: string[] = [];
    for (let i = 0; i < 7; i++) {
      const [reply] = brief(h.req(W, PacketType.GRAB_JOB));
      order.push((reply ?? '').split(' ').pop() ?? '');
    }
    assert.deepEqual(order, ['high', 'high2', 'n1', 'n2', 'low', 'low2', 'NO_JOB']);
  });

  it("looks at the worker's newest ability first: its LOW job beats another function's HIGH", () => {
    const h = setup();
    h.submit(C, PacketType.SUBMIT_JOB_HIGH_BG, 'first', '', 'high-of-first');
    h.submit(C, PacketType.SUBMIT_JOB_LOW_BG, 'second', '', 'low-of-second');
    h.req(W, PacketType.CAN_DO, 'first');
    h.req(W, PacketType.CAN_DO, 'second');
    assert.match(brief(h.req(W, PacketType.GRAB_JOB))[0] ?? '', /low-of-second$/);
    assert.match(brief(h.req(W, PacketType.GRAB_JOB))[0] ?? '', /high-of-first$/);
  });

  it('with -R moves the function just served to the end of the worker list', () => {
    const h = setup({ roundRobin: true });
    for (const fn of ['a', 'a', 'b', 'b']) h.submit(C, PacketType.SUBMIT_JOB_BG, fn, '', fn);
    h.req(W, PacketType.CAN_DO, 'a');
    h.req(W, PacketType.CAN_DO, 'b');
    const served = [0, 1, 2, 3].map(() => brief(h.req(W, PacketType.GRAB_JOB))[0]?.split(' ')[2]);
    assert.deepEqual(served, ['b', 'a', 'b', 'a']);
    const plain = setup();
    for (const fn of ['a', 'a', 'b', 'b']) plain.submit(C, PacketType.SUBMIT_JOB_BG, fn, '', fn);
    plain.req(W, PacketType.CAN_DO, 'a');
    plain.req(W, PacketType.CAN_DO, 'b');
    const fixed = [0, 1, 2, 3].map(
      () => brief(plain.req(W, PacketType.GRAB_JOB))[0]?.split(' ')[2],
    );
    assert.deepEqual(fixed, ['b', 'b', 'a', 'a']);
  });

  it('takes the 4-field SUBMIT_REDUCE_JOB; GRAB_JOB_ALL gives JOB_ASSIGN_ALL only to reduce jobs', () => {
    const h2 = setup();
    const out = h2.req(C, PacketType.SUBMIT_REDUCE_JOB, 'f', 'u1', 'reducer', '', 'data');
    assert.deepEqual(brief(out), ['JOB_CREATED H:test:1']);
    h2.req(C, PacketType.SUBMIT_REDUCE_JOB_BACKGROUND, 'f', 'u2', 'reducer2', 'agg', 'data2');
    h2.submit(C, PacketType.SUBMIT_JOB_BG, 'f', 'u3', 'plain');
    h2.req(W, PacketType.CAN_DO, 'f');
    assert.deepEqual(brief(h2.req(W, PacketType.GRAB_JOB_ALL)), [
      'JOB_ASSIGN_ALL H:test:1 f u1 reducer data',
    ]);
    assert.deepEqual(brief(h2.req(W, PacketType.GRAB_JOB_ALL)), [
      'JOB_ASSIGN_ALL H:test:2 f u2 reducer2 data2',
    ]);
    assert.deepEqual(brief(h2.req(W, PacketType.GRAB_JOB_ALL)), [
      'JOB_ASSIGN_UNIQ H:test:3 f u3 plain',
    ]);
  });

  it('refuses new jobs over maxqueue, counting all priorities and running jobs', () => {
    const h = setup();
    h.req(W, PacketType.CAN_DO, 'f');
    assert.equal(h.admin(C2, 'maxqueue f 2\n'), 'OK\r\n');
    h.submit(C, PacketType.SUBMIT_JOB_LOW_BG, 'f', '', 'a');
    h.req(W, PacketType.GRAB_JOB);
    h.submit(C, PacketType.SUBMIT_JOB_HIGH_BG, 'f', 'k', 'b');
    assert.deepEqual(brief(h.req(C, PacketType.SUBMIT_JOB_BG, 'f', '', 'c')), [
      'ERROR QUEUE_ERROR Job queue is full',
    ]);
    // Coalescing onto an existing job is not a new job.
    assert.deepEqual(brief(h.req(C, PacketType.SUBMIT_JOB_BG, 'f', 'k', 'c')), [
      'JOB_CREATED H:test:2',
    ]);
    // Three numbers: high normal low.
    assert.equal(h.admin(C2, 'maxqueue f 10 2 1\n'), 'OK\r\n');
    assert.deepEqual(brief(h.req(C, PacketType.SUBMIT_JOB_LOW_BG, 'f', '', 'c')), [
      'ERROR QUEUE_ERROR Job queue is full',
    ]);
    assert.deepEqual(brief(h.req(C, PacketType.SUBMIT_JOB_HIGH_BG, 'f', '', 'c')), [
      'JOB_CREATED H:test:3',
    ]);
    // No number: unlimited again; unknown function: ignored, still OK.
    assert.equal(h.admin(C2, 'maxqueue f\n'), 'OK\r\n');
    assert.deepEqual(brief(h.req(C, PacketType.SUBMIT_JOB_LOW_BG, 'f', '', 'c')), [
      'JOB_CREATED H:test:4',
    ]);
    assert.equal(h.admin(C2, 'maxqueue nosuch 1\n'), 'OK\r\n');
    assert.doesNotMatch(h.admin(C2, 'status\n'), /nosuch/);
  });
});
