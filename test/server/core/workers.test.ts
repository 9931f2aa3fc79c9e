import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PacketType } from '../../../src/protocol/index.js';
import { brief, Harness, kinds } from './harness.js';

const C = 1;
const W = 2;
const W2 = 3;
const C2 = 4;
const W3 = 5;

function setup(options = {}): Harness {
  return Harness.withConnections([C, W, W2, C2, W3], options);
}

function sleepOn(h: Harness, worker: number, fn: string): void {
  h.req(worker, PacketType.CAN_DO, fn);
  assert.deepEqual(brief(h.req(worker, PacketType.PRE_SLEEP)), []);
}

describe('sleeping workers', () => {
  it('wakes every sleeping worker of the function on a new job, as gearmand does (bug: only the longest asleep was woken, stranding the job behind a busy or hung worker)', () => {
    const h = setup();
    sleepOn(h, W, 'f');
    sleepOn(h, W2, 'f');
    sleepOn(h, W3, 'g');
    const first = h.req(C, PacketType.SUBMIT_JOB_BG, 'f', '', 'a');
    assert.deepEqual(brief(first, C), ['JOB_CREATED H:test:1']);
    assert.deepEqual(brief(first, W), ['NOOP']);
    assert.deepEqual(brief(first, W2), ['NOOP']);
    assert.deepEqual(brief(first, W3), [], 'a worker of another function sleeps on');
    // Each is woken at most once per sleep: a second job wakes nobody.
    assert.deepEqual(kinds(h.req(C, PacketType.SUBMIT_JOB_BG, 'f', '', 'b')), ['send:1']);
    // W takes a job and goes back to sleep while b still waits: woken at once by PRE_SLEEP.
    assert.deepEqual(brief(h.req(W, PacketType.GRAB_JOB)), ['JOB_ASSIGN H:test:1 f a']);
    assert.deepEqual(brief(h.req(W, PacketType.PRE_SLEEP)), ['NOOP']);
  });

  it('a worker that never answers its NOOP does not strand the job: the others were woken too', () => {
    const h = setup();
    sleepOn(h, W, 'f'); // asleep longest; it will never answer
    sleepOn(h, W2, 'f');
    const out = h.req(C, PacketType.SUBMIT_JOB_BG, 'f', '', 'a');
    assert.deepEqual(brief(out, W2), ['NOOP']);
    assert.deepEqual(brief(h.req(W2, PacketType.GRAB_JOB)), ['JOB_ASSIGN H:test:1 f a']);
  });

  it('with -w 1 wakes one worker per job, and more after a short delay while the job still waits', () => {
    const h = setup({ wakeWorkers: 1 });
    sleepOn(h, W, 'f');
    sleepOn(h, W2, 'f');
    sleepOn(h, W3, 'f');
    const out = h.req(C, PacketType.SUBMIT_JOB_BG, 'f', '', 'a');
    assert.deepEqual(brief(out, W), ['NOOP'], 'the longest asleep first');
    assert.deepEqual(brief(out, W2), []);
    const rewake = out.find((e) => e.type === 'timer' && e.key === 'rewake');
    assert.ok(rewake?.type === 'timer', 'a re-wake timer is armed while sleepers remain');
    assert.equal(rewake.at, h.clock.ms + 100);
    // W does not answer; when the timer fires the job still waits, so the next sleeper is woken.
    h.clock.ms += 100;
    const later = h.timerFired('rewake');
    assert.deepEqual(brief(later, W2), ['NOOP']);
    assert.deepEqual(brief(later, W3), []);
    assert.deepEqual(brief(h.req(W2, PacketType.GRAB_JOB)), ['JOB_ASSIGN H:test:1 f a']);
    // Nothing waits any more: the next firing wakes nobody and arms nothing.
    h.clock.ms += 100;
    const idle = h.timerFired('rewake');
    assert.deepEqual(brief(idle), []);
    assert.equal(
      idle.some((e) => e.type === 'timer' && e.key === 'rewake'),
      false,
    );
  });

  it('caps the number woken by -w when several jobs become runnable at once', () => {
    const h = setup({ wakeWorkers: 1 });
    h.req(C, PacketType.SUBMIT_JOB_EPOCH, 'f', '', String(h.clock.ms / 1000 + 60), 'a');
    h.req(C, PacketType.SUBMIT_JOB_EPOCH, 'f', '', String(h.clock.ms / 1000 + 60), 'b');
    sleepOn(h, W, 'f');
    sleepOn(h, W2, 'f');
    sleepOn(h, W3, 'f');
    h.clock.ms += 61_000;
    // Each due job wakes at most one worker; two due jobs wake two of the three sleepers.
    const out = h.timerFired('epoch');
    assert.deepEqual(brief(out, W), ['NOOP']);
    assert.deepEqual(brief(out, W2), ['NOOP']);
    assert.deepEqual(brief(out, W3), []);
  });

  it('answers PRE_SLEEP with an immediate NOOP when work is already waiting', () => {
    const h = setup();
    h.submit(C, PacketType.SUBMIT_JOB_BG, 'f', '', 'a');
    h.req(W, PacketType.CAN_DO, 'f');
    assert.deepEqual(brief(h.req(W, PacketType.PRE_SLEEP)), ['NOOP']);
    assert.deepEqual(brief(h.req(W, PacketType.GRAB_JOB)), ['JOB_ASSIGN H:test:1 f a']);
    assert.deepEqual(brief(h.req(W, PacketType.PRE_SLEEP)), []);
  });

  it('does not wake a worker for a function it cannot do', () => {
    const h = setup();
    sleepOn(h, W, 'f');
    assert.deepEqual(brief(h.req(C, PacketType.SUBMIT_JOB_BG, 'g', '', 'a'), W), []);
  });

  it('wakes a sleeping worker that registers a function with waiting work', () => {
    const h = setup();
    sleepOn(h, W, 'f');
    h.submit(C, PacketType.SUBMIT_JOB_BG, 'g', '', 'a');
    assert.deepEqual(brief(h.req(W, PacketType.CAN_DO, 'g')), ['NOOP']);
  });
});

describe('work results', () => {
  it('forwards WORK_FAIL and ends the job', () => {
    const h = setup();
    h.req(W, PacketType.CAN_DO, 'f');
    const handle = h.submit(C, PacketType.SUBMIT_JOB, 'f', '', 'a');
    h.req(W, PacketType.GRAB_JOB);
    assert.deepEqual(brief(h.req(W, PacketType.WORK_FAIL, handle)), [`WORK_FAIL ${handle}`]);
    assert.deepEqual(brief(h.req(C, PacketType.GET_STATUS, handle)), [
      `STATUS_RES ${handle} 0 0 0 0`,
    ]);
  });

  it('sends WORK_EXCEPTION to clients that opted in and WORK_FAIL to the others', () => {
    const h = setup();
    assert.deepEqual(brief(h.req(C, PacketType.OPTION_REQ, 'Exceptions')), [
      'OPTION_RES Exceptions',
    ]);
    assert.deepEqual(brief(h.req(C, PacketType.OPTION_REQ, 'nope')), [
      'ERROR UNKNOWN_OPTION Server does not recognize given option',
    ]);
    h.req(W, PacketType.CAN_DO, 'f');
    const handle = h.submit(C, PacketType.SUBMIT_JOB, 'f', 'u', 'a');
    h.submit(C2, PacketType.SUBMIT_JOB, 'f', 'u', 'a');
    h.req(W, PacketType.GRAB_JOB);
    const out = h.req(W, PacketType.WORK_EXCEPTION, handle, 'boom');
    assert.deepEqual(brief(out, C), [`WORK_EXCEPTION ${handle} boom`]);
    assert.deepEqual(brief(out, C2), [`WORK_FAIL ${handle}`]);
    assert.deepEqual(brief(h.req(W, PacketType.WORK_COMPLETE, handle, 'late')), [
      'ERROR JOB_NOT_FOUND Job given in work result not found',
    ]);
  });

  it('with --exceptions forwards WORK_EXCEPTION to every client', () => {
    const h = setup({ exceptions: true });
    h.req(W, PacketType.CAN_DO, 'f');
    const handle = h.submit(C, PacketType.SUBMIT_JOB, 'f', '', 'a');
    h.req(W, PacketType.GRAB_JOB);
    assert.deepEqual(brief(h.req(W, PacketType.WORK_EXCEPTION, handle, 'e')), [
      `WORK_EXCEPTION ${handle} e`,
    ]);
  });

  it("answers WORK_* on a handle the connection does not own with gearmand's texts", () => {
    const h = setup();
    h.req(W, PacketType.CAN_DO, 'f');
    const handle = h.submit(C, PacketType.SUBMIT_JOB, 'f', '', 'a');
    h.req(W, PacketType.GRAB_JOB);
    const notFound = 'ERROR JOB_NOT_FOUND Job given in work result not found';
    const noData = 'ERROR JOB_NOT_FOUND Job does not exist on server';
    const noException =
      'ERROR JOB_NOT_FOUND An exception was received for a job that does not exist';
    for (const [worker, h2] of [
      [W2, handle],
      [W, 'H:test:99'],
      [W, 'H:test:01'],
      [W, 'garbage'],
    ] as const) {
      assert.deepEqual(brief(h.req(worker, PacketType.WORK_STATUS, h2, '1', '2')), [notFound]);
      assert.deepEqual(brief(h.req(worker, PacketType.WORK_COMPLETE, h2, 'r')), [notFound]);
      assert.deepEqual(brief(h.req(worker, PacketType.WORK_FAIL, h2)), [notFound]);
      assert.deepEqual(brief(h.req(worker, PacketType.WORK_DATA, h2, 'd')), [noData]);
      assert.deepEqual(brief(h.req(worker, PacketType.WORK_WARNING, h2, 'd')), [noData]);
      assert.deepEqual(brief(h.req(worker, PacketType.WORK_EXCEPTION, h2, 'd')), [noException]);
    }
    assert.deepEqual(brief(h.req(W, PacketType.WORK_FAIL, 'x'.repeat(64))), [
      'ERROR ARGUMENT_TOO_LARGE Unique value too large',
    ]);
    // The real owner is still fine.
    assert.deepEqual(brief(h.req(W, PacketType.WORK_COMPLETE, handle, 'r')), [
      `WORK_COMPLETE ${handle} r`,
    ]);
  });

  it('answers GET_STATUS_UNIQUE with the unique first and the waiting clients last', () => {
    const h = setup();
    assert.deepEqual(brief(h.req(C, PacketType.GET_STATUS_UNIQUE, 'u')), [
      'STATUS_RES_UNIQUE u 0 0 0 0 0',
    ]);
    h.req(W, PacketType.CAN_DO, 'f');
    const handle = h.submit(C, PacketType.SUBMIT_JOB, 'f', 'u', 'a');
    h.submit(C2, PacketType.SUBMIT_JOB, 'f', 'u', 'a');
    assert.deepEqual(brief(h.req(C, PacketType.GET_STATUS_UNIQUE, 'u')), [
      'STATUS_RES_UNIQUE u 1 0 0 0 2',
    ]);
    h.req(W, PacketType.GRAB_JOB);
    h.req(W, PacketType.WORK_STATUS, handle, '5', '9');
    assert.deepEqual(brief(h.req(W3, PacketType.GET_STATUS_UNIQUE, 'u')), [
      'STATUS_RES_UNIQUE u 1 1 5 9 2',
    ]);
  });
});

describe('requeue and retries', () => {
  it('requeues a running job at the tail when its worker disconnects, status reset', () => {
    const h = setup();
    h.req(W, PacketType.CAN_DO, 'f');
    const a = h.submit(C, PacketType.SUBMIT_JOB, 'f', '', 'a');
    h.req(W, PacketType.GRAB_JOB);
    h.req(W, PacketType.WORK_STATUS, a, '1', '2');
    h.req(W2, PacketType.CAN_DO, 'f');
    h.req(C, PacketType.SUBMIT_JOB, 'f', '', 'b');
    const out = h.disconnect(W);
    assert.deepEqual(brief(out, C), [], 'the client is not told');
    assert.deepEqual(brief(h.req(C, PacketType.GET_STATUS, a)), [`STATUS_RES ${a} 1 0 0 0`]);
    assert.deepEqual(brief(h.req(W2, PacketType.GRAB_JOB)), ['JOB_ASSIGN H:test:2 f b']);
    assert.deepEqual(brief(h.req(W2, PacketType.GRAB_JOB)), [`JOB_ASSIGN ${a} f a`]);
    assert.equal(h.admin(C2, 'show jobs\n'), `H:test:1\t1\t0\t0\nH:test:2\t0\t0\t0\n.\n`);
  });

  it('wakes a sleeping worker for a requeued job', () => {
    const h = setup();
    h.req(W, PacketType.CAN_DO, 'f');
    h.submit(C, PacketType.SUBMIT_JOB, 'f', '', 'a');
    h.req(W, PacketType.GRAB_JOB);
    sleepOn(h, W2, 'f');
    assert.deepEqual(brief(h.disconnect(W), W2), ['NOOP']);
  });

  it('with -j 2 drops the job after two attempts and sends WORK_FAIL', () => {
    const h = setup({ jobRetries: 2 });
    h.req(W, PacketType.CAN_DO, 'f');
    h.req(W2, PacketType.CAN_DO, 'f');
    const a = h.submit(C, PacketType.SUBMIT_JOB, 'f', '', 'a');
    assert.deepEqual(brief(h.req(W, PacketType.GRAB_JOB)), [`JOB_ASSIGN ${a} f a`]);
    assert.deepEqual(brief(h.disconnect(W), C), []);
    assert.deepEqual(brief(h.req(W2, PacketType.GRAB_JOB)), [`JOB_ASSIGN ${a} f a`]);
    assert.deepEqual(brief(h.disconnect(W2), C), [`WORK_FAIL ${a}`]);
    assert.equal(h.admin(C2, 'status\n'), 'f\t0\t0\t0\n.\n');
  });

  it('requeues on CANT_DO and RESET_ABILITIES', () => {
    const h = setup();
    h.req(W, PacketType.CAN_DO, 'f');
    h.req(W, PacketType.CAN_DO, 'g');
    const a = h.submit(C, PacketType.SUBMIT_JOB_BG, 'f', '', 'a');
    const b = h.submit(C, PacketType.SUBMIT_JOB_BG, 'g', '', 'b');
    h.req(W, PacketType.GRAB_JOB);
    h.req(W, PacketType.GRAB_JOB);
    assert.equal(h.core.runningJobs, 2);
    // Regression: CANT_DO of a function nobody ever named must not drop every ability.
    h.req(W, PacketType.CANT_DO, 'never-registered');
    assert.equal(h.core.runningJobs, 2);
    h.req(W, PacketType.CANT_DO, 'g');
    assert.equal(h.core.runningJobs, 1);
    assert.equal(h.admin(C2, 'status\n'), 'f\t1\t1\t1\ng\t1\t0\t0\n.\n');
    h.req(W, PacketType.RESET_ABILITIES);
    assert.equal(h.core.runningJobs, 0);
    assert.equal(h.admin(C2, 'workers\n').split('\n')[1], '32 127.0.0.1 - :');
    h.req(W2, PacketType.CAN_DO, 'f');
    h.req(W2, PacketType.CAN_DO, 'g');
    assert.deepEqual(brief(h.req(W2, PacketType.GRAB_JOB)), [`JOB_ASSIGN ${b} g b`]);
    assert.deepEqual(brief(h.req(W2, PacketType.GRAB_JOB)), [`JOB_ASSIGN ${a} f a`]);
  });

  it('arms CAN_DO_TIMEOUT (decimal ms, floor 1000) at assignment and requeues on expiry', () => {
    const h = setup();
    h.req(W, PacketType.CAN_DO_TIMEOUT, 'f', '250');
    h.req(W2, PacketType.CAN_DO_TIMEOUT, 'f', '5000');
    const a = h.submit(C, PacketType.SUBMIT_JOB, 'f', '', 'a');
    const grab = h.req(W, PacketType.GRAB_JOB);
    const timer = grab.find((e) => e.type === 'timer');
    assert.deepEqual(timer, { type: 'timer', key: 'timeout:1', at: h.clock.ms + 1000 });
    h.clock.ms += 1000;
    const expired = h.timerFired('timeout:1');
    assert.deepEqual(brief(expired), [], 'no WORK_FAIL to the client');
    assert.deepEqual(brief(h.req(W, PacketType.WORK_COMPLETE, a, 'late')), [
      'ERROR JOB_NOT_FOUND Job given in work result not found',
    ]);
    const again = h.req(W2, PacketType.GRAB_JOB);
    assert.deepEqual(brief(again), [`JOB_ASSIGN ${a} f a`]);
    assert.deepEqual(
      again.find((e) => e.type === 'timer'),
      { type: 'timer', key: 'timeout:1', at: h.clock.ms + 5000 },
    );
    assert.equal(h.admin(C2, 'show jobs\n'), `${a}\t1\t0\t0\n.\n`);
    const done = h.req(W2, PacketType.WORK_COMPLETE, a, 'r');
    assert.deepEqual(kinds(done), ['send:1', 'clear-timer']);
    // A stale timer after completion does nothing.
    assert.deepEqual(h.timerFired('timeout:1'), []);
  });
});

describe('timeouts that fail, and draining', () => {
  it('with failOnTimeout ends a timed-out job with WORK_FAIL instead of requeueing it', () => {
    const h = setup({ failOnTimeout: true });
    h.req(W, PacketType.CAN_DO_TIMEOUT, 'f', '2000');
    const a = h.submit(C, PacketType.SUBMIT_JOB, 'f', '', 'a');
    h.req(W, PacketType.GRAB_JOB);
    h.clock.ms += 2000;
    assert.deepEqual(brief(h.timerFired('timeout:1')), [`WORK_FAIL ${a}`]);
    assert.equal(h.core.runningJobs, 0);
    assert.equal(h.admin(C2, 'status\n'), 'f\t0\t0\t1\n.\n');
    assert.deepEqual(brief(h.req(W, PacketType.WORK_COMPLETE, a, 'late')), [
      'ERROR JOB_NOT_FOUND Job given in work result not found',
    ]);
  });

  it('drain() stops handing out jobs but lets running ones finish', () => {
    const h = setup();
    h.req(W, PacketType.CAN_DO, 'f');
    h.req(W2, PacketType.CAN_DO, 'f');
    const a = h.submit(C, PacketType.SUBMIT_JOB, 'f', '', 'a');
    h.submit(C, PacketType.SUBMIT_JOB, 'f', '', 'b');
    h.req(W, PacketType.GRAB_JOB);
    assert.deepEqual(h.core.drain(), []);
    assert.deepEqual(brief(h.req(W2, PacketType.GRAB_JOB)), ['NO_JOB']);
    assert.deepEqual(brief(h.req(W2, PacketType.PRE_SLEEP)), [], 'no NOOP although b waits');
    assert.deepEqual(brief(h.req(C, PacketType.SUBMIT_JOB, 'f', '', 'c')), [
      'JOB_CREATED H:test:3',
    ]);
    assert.equal(h.core.runningJobs, 1);
    assert.deepEqual(brief(h.req(W, PacketType.WORK_COMPLETE, a, 'r')), [`WORK_COMPLETE ${a} r`]);
    assert.equal(h.core.runningJobs, 0);
  });

  it('drains on an admin shutdown graceful', () => {
    const h = setup();
    h.req(W, PacketType.CAN_DO, 'f');
    h.submit(C, PacketType.SUBMIT_JOB_BG, 'f', '', 'a');
    h.admin(C2, 'shutdown graceful\n');
    assert.deepEqual(brief(h.req(W, PacketType.GRAB_JOB)), ['NO_JOB']);
  });
});

describe('abandoned and cancelled jobs', () => {
  it('never runs a queued foreground job whose clients all left; status counts it until skipped', () => {
    const h = setup();
    h.submit(C, PacketType.SUBMIT_JOB, 'f', 'u', 'a');
    h.submit(C2, PacketType.SUBMIT_JOB, 'f', 'u', 'a');
    h.submit(C2, PacketType.SUBMIT_JOB, 'f', '', 'b');
    h.disconnect(C);
    assert.equal(h.admin(W3, 'show jobs\n'), 'H:test:1\t0\t0\t0\nH:test:2\t0\t0\t0\n.\n');
    h.disconnect(C2);
    assert.equal(h.admin(W3, 'show jobs\n'), 'H:test:1\t0\t1\t0\nH:test:2\t0\t1\t0\n.\n');
    assert.equal(h.admin(W3, 'status\n'), 'f\t2\t0\t0\n.\n');
    h.req(W, PacketType.CAN_DO, 'f');
    assert.deepEqual(brief(h.req(W, PacketType.GRAB_JOB)), ['NO_JOB']);
    assert.equal(h.admin(W3, 'status\n'), 'f\t0\t0\t1\n.\n');
    // The unique is free again.
    h.connect(9);
    assert.equal(h.submit(9, PacketType.SUBMIT_JOB, 'f', 'u', 'a'), 'H:test:3');
  });

  it('drops the result of a running job whose client left, and never requeues it', () => {
    const h = setup();
    h.req(W, PacketType.CAN_DO, 'f');
    const a = h.submit(C, PacketType.SUBMIT_JOB, 'f', '', 'a');
    h.req(W, PacketType.GRAB_JOB);
    h.disconnect(C);
    assert.deepEqual(brief(h.req(W, PacketType.WORK_DATA, a, 'x')), []);
    h.disconnect(W);
    assert.equal(h.admin(C2, 'status\n'), 'f\t0\t0\t0\n.\n');
  });

  it('admin cancel job fails the clients, and a grab skips the job', () => {
    const h = setup();
    const a = h.submit(C, PacketType.SUBMIT_JOB, 'f', 'u', 'a');
    const out = h.raw(C2, Buffer.from(`cancel job ${a}\n`));
    assert.deepEqual(brief(out, C), [`WORK_FAIL ${a}`]);
    assert.equal(
      Buffer.concat(
        out.flatMap((e) => (e.type === 'send' && e.conn === C2 ? [e.data] : [])),
      ).toString(),
      'OK\r\n',
    );
    assert.equal(h.admin(C2, `cancel job ${a}\n`), 'ERR UNKNOWN_JOB\r\n');
    assert.equal(h.admin(C2, 'show jobs\n'), `${a}\t0\t1\t0\n.\n`);
    h.req(W, PacketType.CAN_DO, 'f');
    assert.deepEqual(brief(h.req(W, PacketType.GRAB_JOB)), ['NO_JOB']);
    assert.equal(h.admin(C2, 'show jobs\n'), '.\n');
  });
});
