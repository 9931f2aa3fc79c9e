import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PacketType } from '../../../src/protocol/index.js';
import { nextScheduledTime } from '../../../src/server/core/next-schedule.js';
import { brief, Harness } from './harness.js';

const C = 1;
const W = 2;
const W2 = 3;

function setup(options = {}): Harness {
  return Harness.withConnections([C, W, W2], options);
}

describe('SUBMIT_JOB_EPOCH', () => {
  it('is not runnable before its time and does not block other jobs', () => {
    const h = setup();
    const now = h.clock.ms / 1000;
    const submit = h.req(C, PacketType.SUBMIT_JOB_EPOCH, 'f', 'later', String(now + 60), 'late');
    assert.deepEqual(brief(submit), ['JOB_CREATED H:test:1']);
    assert.deepEqual(
      submit.filter((e) => e.type === 'timer'),
      [{ type: 'timer', key: 'epoch', at: (now + 60) * 1000 }],
    );
    h.submit(C, PacketType.SUBMIT_JOB_BG, 'f', '', 'now');
    h.req(W, PacketType.CAN_DO, 'f');
    assert.deepEqual(brief(h.req(W, PacketType.GRAB_JOB)), ['JOB_ASSIGN H:test:2 f now']);
    assert.deepEqual(brief(h.req(W, PacketType.GRAB_JOB)), ['NO_JOB']);
    // Counted as queued by status and prioritystatus.
    assert.equal(h.admin(C, 'status\n'), 'f\t2\t1\t1\n.\n');
    assert.equal(h.admin(C, 'prioritystatus\n'), 'f\t0\t1\t0\t1\n.\n');
    assert.deepEqual(brief(h.req(C, PacketType.GET_STATUS, 'H:test:1')), [
      'STATUS_RES H:test:1 1 0 0 0',
    ]);
    h.clock.ms += 60_000;
    assert.deepEqual(brief(h.req(W, PacketType.GRAB_JOB)), ['JOB_ASSIGN H:test:1 f late']);
  });

  it('wakes a sleeping worker at its time (the timer), unlike gearmand 1.1', () => {
    const h = setup();
    const now = h.clock.ms / 1000;
    h.req(W, PacketType.CAN_DO, 'f');
    h.req(W2, PacketType.CAN_DO, 'other');
    h.req(W, PacketType.PRE_SLEEP);
    h.req(W2, PacketType.PRE_SLEEP);
    const submit = h.req(C, PacketType.SUBMIT_JOB_EPOCH, 'f', '', String(now + 30), 'x');
    assert.deepEqual(brief(submit, W), [], 'no pointless NOOP at submit time');
    // An earlier job moves the timer forward; a later one leaves it.
    const earlier = h.req(C, PacketType.SUBMIT_JOB_EPOCH, 'f', '', String(now + 10), 'y');
    assert.deepEqual(
      earlier.filter((e) => e.type === 'timer'),
      [{ type: 'timer', key: 'epoch', at: (now + 10) * 1000 }],
    );
    const later = h.req(C, PacketType.SUBMIT_JOB_EPOCH, 'f', '', String(now + 50), 'z');
    assert.deepEqual(
      later.filter((e) => e.type === 'timer'),
      [],
    );
    h.clock.ms += 10_000;
    const fired = h.timerFired('epoch');
    assert.deepEqual(brief(fired, W), ['NOOP']);
    assert.deepEqual(brief(fired, W2), []);
    assert.deepEqual(
      fired.filter((e) => e.type === 'timer'),
      [{ type: 'timer', key: 'epoch', at: (now + 30) * 1000 }],
    );
    assert.deepEqual(brief(h.req(W, PacketType.GRAB_JOB)), ['JOB_ASSIGN H:test:2 f y']);
    h.clock.ms += 40_000;
    // Both remaining jobs are due; nothing is left to arm a timer for.
    const last = h.timerFired('epoch');
    assert.deepEqual(
      last.filter((e) => e.type === 'timer' || e.type === 'clear-timer'),
      [],
    );
    assert.deepEqual(brief(last, W), [], 'W is awake already: no second NOOP');
    assert.deepEqual(brief(h.req(W, PacketType.GRAB_JOB)), ['JOB_ASSIGN H:test:1 f x']);
    assert.deepEqual(brief(h.req(W, PacketType.GRAB_JOB)), ['JOB_ASSIGN H:test:3 f z']);
  });

  it('runs at once with a past or non-numeric epoch', () => {
    const h = setup();
    h.req(C, PacketType.SUBMIT_JOB_EPOCH, 'f', '', 'soon', 'a');
    h.req(C, PacketType.SUBMIT_JOB_EPOCH, 'f', '', '12', 'b');
    h.req(W, PacketType.CAN_DO, 'f');
    assert.deepEqual(brief(h.req(W, PacketType.GRAB_JOB)), ['JOB_ASSIGN H:test:1 f a']);
    assert.deepEqual(brief(h.req(W, PacketType.GRAB_JOB)), ['JOB_ASSIGN H:test:2 f b']);
  });

  it('frees a cancelled delayed job when its time comes', () => {
    const h = setup();
    const now = h.clock.ms / 1000;
    h.req(C, PacketType.SUBMIT_JOB_EPOCH, 'f', '', String(now + 5), 'a');
    assert.equal(h.admin(C, 'cancel job H:test:1\n'), 'OK\r\n');
    h.clock.ms += 5000;
    h.timerFired('epoch');
    assert.equal(h.admin(C, 'status\n'), 'f\t0\t0\t0\n.\n');
  });
});

describe('SUBMIT_JOB_SCHED', () => {
  it('computes the next matching minute in UTC (wday 0 = Monday)', () => {
    const now = Date.UTC(2026, 0, 1, 12, 0, 30); // Thursday 1 January 2026, 12:00:30
    const any = {
      minute: undefined,
      hour: undefined,
      dayOfMonth: undefined,
      month: undefined,
      weekday: undefined,
    };
    assert.equal(nextScheduledTime(now, any, 10), Date.UTC(2026, 0, 1, 12, 1));
    assert.equal(nextScheduledTime(now, { ...any, minute: 0 }, 10), Date.UTC(2026, 0, 1, 13, 0));
    assert.equal(
      nextScheduledTime(now, { ...any, hour: 6, minute: 30 }, 10),
      Date.UTC(2026, 0, 2, 6, 30),
    );
    // 0 = Monday: the first Monday after Thursday 1 January is the 5th.
    assert.equal(nextScheduledTime(now, { ...any, weekday: 0 }, 10), Date.UTC(2026, 0, 5, 0, 0));
    assert.equal(
      nextScheduledTime(now, { ...any, month: 3, dayOfMonth: 15 }, 400),
      Date.UTC(2026, 2, 15, 0, 0),
    );
    assert.equal(nextScheduledTime(now, { ...any, month: 2, dayOfMonth: 30 }, 2000), undefined);
    assert.equal(nextScheduledTime(now, { ...any, minute: 60 }, 10), undefined);
  });

  it('accepts the packet (gearmand refuses it) and runs the job at that time', () => {
    const h = setup();
    h.req(W, PacketType.CAN_DO, 'f');
    h.req(W, PacketType.PRE_SLEEP);
    // fields: minute hour mday month wday
    const out = h.req(C, PacketType.SUBMIT_JOB_SCHED, 'f', 'u', '30', '12', '', '', '', 'x');
    assert.deepEqual(brief(out), ['JOB_CREATED H:test:1']);
    const at = Date.UTC(2026, 0, 1, 12, 30);
    assert.deepEqual(
      out.filter((e) => e.type === 'timer'),
      [{ type: 'timer', key: 'epoch', at }],
    );
    h.clock.ms = at;
    assert.deepEqual(brief(h.timerFired('epoch'), W), ['NOOP']);
    assert.deepEqual(brief(h.req(W, PacketType.GRAB_JOB_UNIQ)), ['JOB_ASSIGN_UNIQ H:test:1 f u x']);
  });

  it('refuses a schedule that never matches or is not a number', () => {
    const h = setup();
    for (const fields of [
      ['', '', '30', '2', ''],
      ['x', '', '', '', ''],
      ['', '24', '', '', ''],
    ]) {
      assert.deepEqual(brief(h.req(C, PacketType.SUBMIT_JOB_SCHED, 'f', '', ...fields, 'x')), [
        'ERROR INVALID_ARGUMENT Schedule matches no time',
      ]);
    }
  });
});
