import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodePacket, Magic, PacketType, Priority } from '../../../src/protocol/index.js';
import { ServerCore, type Effect } from '../../../src/server/core/index.js';
import { GENERATED_KEY_PREFIX } from '../../../src/protocol/stored-job.js';
import { brief, DEFAULT_OPTIONS, Harness, kinds, TEST_RUN_ID } from './harness.js';

const C = 1;
const W = 2;
const C2 = 3;

function setup(options = {}): Harness {
  return Harness.withConnections([C, W, C2], { durable: true, ...options });
}

function persistOf(effects: readonly Effect[]): Extract<Effect, { type: 'persist' }> {
  const found = effects.find((e) => e.type === 'persist');
  assert.ok(found !== undefined && found.type === 'persist', 'a persist effect');
  return found;
}

function unpersists(effects: readonly Effect[]): string[] {
  return effects.flatMap((e) =>
    e.type === 'unpersist' ? [`${e.key.functionName}/${e.key.uniqueKey}`] : [],
  );
}

describe('durable background jobs', () => {
  it('persists, holds, and acknowledges and runs only after persistDone', () => {
    const h = setup();
    h.req(W, PacketType.CAN_DO, 'f');
    h.req(W, PacketType.PRE_SLEEP);
    const submit = h.req(C, PacketType.SUBMIT_JOB_HIGH_BG, 'f', 'u1', 'data');
    assert.deepEqual(kinds(submit), ['persist', 'hold']);
    const persist = persistOf(submit);
    assert.deepEqual(persist.job, {
      functionName: 'f',
      uniqueKey: 'u1',
      generatedKey: false,
      priority: Priority.HIGH,
      data: Buffer.from('data'),
      whenToRun: 0,
      reducer: undefined,
    });
    assert.deepEqual(submit[1], { type: 'hold', conn: C, token: persist.token });
    // Not runnable yet, not counted in status.
    assert.deepEqual(brief(h.req(W, PacketType.GRAB_JOB)), ['NO_JOB']);
    h.req(W, PacketType.PRE_SLEEP);
    assert.equal(h.admin(C2, 'status\n'), 'f\t0\t0\t1\n.\n');
    const done = h.persistDone(persist.token);
    assert.deepEqual(brief(done, C), ['JOB_CREATED H:test:1']);
    assert.deepEqual(brief(done, W), ['NOOP']);
    assert.deepEqual(brief(h.req(W, PacketType.GRAB_JOB)), ['JOB_ASSIGN H:test:1 f data']);
    const complete = h.req(W, PacketType.WORK_COMPLETE, 'H:test:1', 'r');
    assert.deepEqual(unpersists(complete), ['f/u1']);
  });

  it('keeps request order: a pipelined request after the submission comes after the hold', () => {
    const h = setup();
    const out = h.raw(
      C,
      Buffer.concat([
        encodePacket(Magic.REQ, PacketType.SUBMIT_JOB_BG, ['f', '', 'x']),
        encodePacket(Magic.REQ, PacketType.ECHO_REQ, ['after']),
      ]),
    );
    assert.deepEqual(kinds(out), ['persist', 'hold', 'send:1']);
    assert.deepEqual(brief(out), ['ECHO_RES after']);
  });

  it('holds a second submitter on the same pending token', () => {
    const h = setup();
    const first = h.req(C, PacketType.SUBMIT_JOB_BG, 'f', 'u1', 'a');
    const token = persistOf(first).token;
    const second = h.req(C2, PacketType.SUBMIT_JOB_BG, 'f', 'u1', 'b');
    assert.deepEqual(second, [{ type: 'hold', conn: C2, token }]);
    const done = h.persistDone(token);
    assert.deepEqual(brief(done), ['JOB_CREATED H:test:1', 'JOB_CREATED H:test:1']);
    assert.deepEqual(
      done.filter((e) => e.type === 'send').map((e) => (e.type === 'send' ? e.conn : 0)),
      [C, C2],
    );
  });

  it('answers QUEUE_ERROR with the store text and drops the job when the commit fails', () => {
    const h = setup();
    const token = persistOf(h.req(C, PacketType.SUBMIT_JOB_BG, 'f', 'u1', 'a')).token;
    h.req(C2, PacketType.SUBMIT_JOB_BG, 'f', 'u1', 'a');
    const failed = h.persistDone(token, 'disk on fire');
    assert.deepEqual(brief(failed), [
      'ERROR QUEUE_ERROR disk on fire',
      'ERROR QUEUE_ERROR disk on fire',
    ]);
    assert.equal(h.admin(C2, 'status\n'), 'f\t0\t0\t0\n.\n');
    // The key is free: a new submission persists again.
    assert.deepEqual(kinds(h.req(C, PacketType.SUBMIT_JOB_BG, 'f', 'u1', 'a')), [
      'persist',
      'hold',
    ]);
    assert.deepEqual(h.persistDone(token), [], 'a settled token is ignored');
  });

  it('logs a store outage once and then a count every 5 s, not a line per refused job (bug: 255,132 lines in 4.5 s)', () => {
    const h = setup();
    const logs = (effects: readonly Effect[]): string[] =>
      effects.flatMap((e) => (e.type === 'log' ? [`${e.level} ${e.message}`] : []));
    const refuse = (i: number): Effect[] =>
      h.persistDone(
        persistOf(h.req(C, PacketType.SUBMIT_JOB_BG, 'f', `u${i}`, 'a')).token,
        'database unreachable',
      );
    const first = refuse(0);
    assert.deepEqual(logs(first), ['ERROR store: cannot add job f/u0: database unreachable']);
    const timer = first.find((e) => e.type === 'timer' && e.key === 'store-refusals');
    assert.ok(timer?.type === 'timer' && timer.at === h.clock.ms + 5000);
    let later: string[] = [];
    for (let i = 1; i <= 1000; i++) later = later.concat(logs(refuse(i)));
    assert.deepEqual(later, [], 'the rest are counted');
    h.clock.ms += 5000;
    const summary = h.timerFired('store-refusals');
    assert.deepEqual(logs(summary), [
      'ERROR store: 1000 more background job(s) refused in the last 5 s (last: database unreachable)',
    ]);
    assert.ok(summary.some((e) => e.type === 'timer' && e.key === 'store-refusals'));
    refuse(1001);
    const token = persistOf(h.req(C, PacketType.SUBMIT_JOB_BG, 'f', 'ok', 'a')).token;
    assert.deepEqual(logs(h.persistDone(token)), [
      'NOTICE store: accepting background jobs again after 1002 refused',
    ]);
    h.clock.ms += 5000;
    assert.deepEqual(logs(h.timerFired('store-refusals')), []);
    // A new outage is news again.
    assert.deepEqual(logs(refuse(2000)), [
      'ERROR store: cannot add job f/u2000: database unreachable',
    ]);
  });

  it('persists every background kind, never foreground ones', () => {
    const h = setup();
    for (const type of [
      PacketType.SUBMIT_JOB_BG,
      PacketType.SUBMIT_JOB_HIGH_BG,
      PacketType.SUBMIT_JOB_LOW_BG,
    ]) {
      assert.deepEqual(kinds(h.req(C, type, 'f', '', 'x')), ['persist', 'hold']);
    }
    assert.deepEqual(kinds(h.req(C, PacketType.SUBMIT_JOB_EPOCH, 'f', '', '0', 'x')), [
      'persist',
      'hold',
    ]);
    const reduce = h.req(C, PacketType.SUBMIT_REDUCE_JOB_BACKGROUND, 'f', 'r', 'red', '', 'x');
    assert.equal(persistOf(reduce).job.reducer, 'red');
    const sched = h.req(C, PacketType.SUBMIT_JOB_SCHED, 'f', '', '', '', '', '', '', 'x');
    assert.deepEqual(kinds(sched), ['persist', 'hold']);
    for (const type of [
      PacketType.SUBMIT_JOB,
      PacketType.SUBMIT_JOB_HIGH,
      PacketType.SUBMIT_JOB_LOW,
    ]) {
      assert.deepEqual(kinds(h.req(C, type, 'f', '', 'x')), ['send:1']);
    }
  });

  it('generates distinct store keys for empty uniques and restores them with an empty unique', () => {
    const h = setup();
    const a = persistOf(h.req(C, PacketType.SUBMIT_JOB_BG, 'f', '', 'x')).job;
    const b = persistOf(h.req(C, PacketType.SUBMIT_JOB_BG, 'f', '', 'x')).job;
    const dash = persistOf(h.req(C, PacketType.SUBMIT_JOB_BG, 'f', '-', 'payload')).job;
    assert.equal(a.generatedKey, true);
    assert.ok(a.uniqueKey.startsWith(GENERATED_KEY_PREFIX));
    assert.notEqual(a.uniqueKey, b.uniqueKey);
    assert.ok(a.uniqueKey.length <= 64);
    assert.equal(dash.generatedKey, true);

    // A new server (a restart) replays them: fresh handles, empty unique again, '-' kept.
    const next = setup();
    next.core.restore(a);
    next.core.restore(dash);
    next.core.restore({ ...a, uniqueKey: 'named', generatedKey: false, priority: Priority.LOW });
    next.req(W, PacketType.CAN_DO, 'f');
    assert.deepEqual(brief(next.req(W, PacketType.GRAB_JOB_UNIQ)), [
      'JOB_ASSIGN_UNIQ H:test:1 f  x',
    ]);
    assert.deepEqual(brief(next.req(W, PacketType.GRAB_JOB_UNIQ)), [
      'JOB_ASSIGN_UNIQ H:test:2 f - payload',
    ]);
    // Restored jobs coalesce again: by unique, and '-' by payload.
    assert.deepEqual(brief(next.req(C, PacketType.SUBMIT_JOB_BG, 'f', 'named', 'y')), [
      'JOB_CREATED H:test:3',
    ]);
    assert.deepEqual(brief(next.req(C, PacketType.SUBMIT_JOB_BG, 'f', '-', 'payload')), [
      'JOB_CREATED H:test:2',
    ]);
    // Completing a restored job deletes the row it came from.
    assert.deepEqual(unpersists(next.req(W, PacketType.WORK_COMPLETE, 'H:test:1', '')), [
      `f/${a.uniqueKey}`,
    ]);
  });

  it('makes generated keys from the start time, the injected run id and a counter', () => {
    const h = setup();
    const run = `${h.clock.ms.toString(36)}.${TEST_RUN_ID}.`;
    const a = persistOf(h.req(C, PacketType.SUBMIT_JOB_BG, 'f', '', 'x')).job;
    const dash = persistOf(h.req(C, PacketType.SUBMIT_JOB_BG, 'f', '-', 'y')).job;
    assert.equal(a.uniqueKey, `${GENERATED_KEY_PREFIX}${run}1`);
    assert.equal(dash.uniqueKey, `${GENERATED_KEY_PREFIX}-:${run}2`);
    for (const bad of ['', 'UPPER', 'with space', 'x'.repeat(17)]) {
      assert.throws(() => new ServerCore(DEFAULT_OPTIONS, h.clock, () => bad), TypeError, bad);
    }
  });

  it('recognises its own generated keys on replay even from a store that does not flag them', () => {
    const h = setup();
    const dash = persistOf(h.req(C, PacketType.SUBMIT_JOB_BG, 'f', '-', 'payload')).job;
    const next = setup();
    next.core.restore({ ...dash, generatedKey: false });
    next.req(W, PacketType.CAN_DO, 'f');
    assert.deepEqual(brief(next.req(W, PacketType.GRAB_JOB_UNIQ)), [
      'JOB_ASSIGN_UNIQ H:test:1 f - payload',
    ]);
  });

  it('unpersists on fail, exception, cancel and retry exhaustion', () => {
    const h = setup({ jobRetries: 1 });
    const handles: string[] = [];
    for (const u of ['fail', 'exc', 'cancel', 'retry']) {
      const token = persistOf(h.req(C, PacketType.SUBMIT_JOB_BG, 'f', u, u)).token;
      handles.push(brief(h.persistDone(token), C)[0]?.split(' ')[1] ?? '');
    }
    h.req(W, PacketType.CAN_DO, 'f');
    h.req(W, PacketType.GRAB_JOB);
    assert.deepEqual(unpersists(h.req(W, PacketType.WORK_FAIL, handles[0] ?? '')), ['f/fail']);
    h.req(W, PacketType.GRAB_JOB);
    assert.deepEqual(unpersists(h.req(W, PacketType.WORK_EXCEPTION, handles[1] ?? '', 'e')), [
      'f/exc',
    ]);
    const cancel = h.raw(C2, Buffer.from(`cancel job ${handles[2] ?? ''}\n`));
    assert.deepEqual(unpersists(cancel), ['f/cancel']);
    // The cancelled job is skipped; the next one runs and its worker vanishes (-j 1).
    assert.deepEqual(brief(h.req(W, PacketType.GRAB_JOB)), [`JOB_ASSIGN ${handles[3]} f retry`]);
    assert.deepEqual(unpersists(h.disconnect(W)), ['f/retry']);
  });

  it('replays epoch jobs as delayed and arms the epoch timer on the next call', () => {
    const h = setup();
    const when = h.clock.ms / 1000 + 3600;
    h.core.restore({
      functionName: 'f',
      uniqueKey: 'later',
      generatedKey: false,
      priority: Priority.NORMAL,
      data: Buffer.from('x'),
      whenToRun: when,
    });
    const out = h.connect(9);
    assert.deepEqual(out, [{ type: 'timer', key: 'epoch', at: when * 1000 }]);
    assert.equal(h.admin(9, 'prioritystatus\n'), 'f\t0\t1\t0\t0\n.\n');
  });
});
