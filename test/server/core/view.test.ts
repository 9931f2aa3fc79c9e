import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PacketType } from '../../../src/protocol/index.js';
import {
  TIME_BUCKETS_MS,
  ViewQueryError,
  type Distribution,
  type JobCounters,
} from '../../../src/server/core/index.js';
import { brief, Harness } from './harness.js';

const C = 1;
const W = 2;
const A = 3;
const IDLE = 4;
const W2 = 5;

function setup(options = {}): Harness {
  return Harness.withConnections([C, W, A, IDLE, W2], options);
}

const NO_COUNTS: JobCounters = {
  created: 0,
  completed: 0,
  failed: 0,
  exceptions: 0,
  cancelled: 0,
  requeuedWorkerLost: 0,
  requeuedTimeout: 0,
  coalesced: 0,
  retriesExhausted: 0,
};

/** The count of the bucket whose upper bound is `bound` (not cumulative). */
function inBucket(d: Distribution, bound: number): number {
  const i = d.bounds.indexOf(bound);
  assert.ok(i >= 0, `bucket ${bound}`);
  return (d.cumulative[i] ?? 0) - (i > 0 ? (d.cumulative[i - 1] ?? 0) : 0);
}

function fn(h: Harness, name: string) {
  const found = h.core.view.function(name);
  assert.ok(found, `function ${name}`);
  return found;
}

describe('the core view: functions', () => {
  it('shows queued and delayed jobs by priority, pending, running, workers and sleepers', () => {
    const h = setup({ durable: true });
    h.req(W, PacketType.CAN_DO, 'f');
    h.req(W2, PacketType.CAN_DO, 'f');
    h.req(W2, PacketType.PRE_SLEEP);
    h.req(C, PacketType.SUBMIT_JOB_HIGH, 'f', '', 'a');
    h.req(C, PacketType.SUBMIT_JOB_LOW, 'f', '', 'b');
    h.req(C, PacketType.SUBMIT_JOB, 'f', '', 'c');
    h.req(C, PacketType.SUBMIT_JOB_BG, 'f', '', 'pending');
    h.req(C, PacketType.SUBMIT_JOB_EPOCH, 'f', '', String(h.clock.ms / 1000 + 60), 'later');
    h.req(W, PacketType.GRAB_JOB);
    const f = fn(h, 'f');
    assert.equal(f.name, 'f');
    assert.deepEqual(f.queued, { high: 0, normal: 1, low: 1 });
    assert.deepEqual(f.delayed, { high: 0, normal: 0, low: 0 }, 'the epoch job is pending too');
    assert.equal(f.pending, 2);
    assert.equal(f.running, 1);
    assert.equal(f.workers, 2);
    assert.equal(f.sleepingWorkers, 0, 'W2 was woken by the new jobs');
    const epoch = h.log.find((e) => e.type === 'persist' && e.job.data.toString() === 'later');
    assert.ok(epoch?.type === 'persist');
    h.persistDone(epoch.token);
    assert.deepEqual(fn(h, 'f').delayed, { high: 0, normal: 1, low: 0 });
    assert.equal(fn(h, 'f').pending, 1);
    h.admin(A, 'maxqueue f 10 20 30\n');
    assert.deepEqual(fn(h, 'f').maxQueue, { high: 10, normal: 20, low: 30 });
    assert.equal(h.core.view.function('nope'), undefined);
  });

  it('tells the age of the oldest queued job, across priorities and after a requeue', () => {
    const h = setup();
    assert.equal(h.core.view.function('f'), undefined);
    h.admin(A, 'create function f\n');
    assert.equal(fn(h, 'f').oldestQueuedAge, undefined);
    h.submit(C, PacketType.SUBMIT_JOB_LOW_BG, 'f', '', 'old');
    h.clock.ms += 500;
    h.submit(C, PacketType.SUBMIT_JOB_HIGH_BG, 'f', '', 'new');
    h.clock.ms += 250;
    assert.equal(fn(h, 'f').oldestQueuedAge, 750);
    h.req(W, PacketType.CAN_DO, 'f');
    h.req(W, PacketType.GRAB_JOB); // takes `new` (HIGH)
    h.req(W, PacketType.GRAB_JOB); // takes `old`
    assert.equal(fn(h, 'f').oldestQueuedAge, undefined);
    h.clock.ms += 100;
    h.disconnect(W); // both requeued now, `new` first (it was assigned first)
    h.clock.ms += 40;
    assert.equal(fn(h, 'f').oldestQueuedAge, 40, 'a requeued job waits from its requeue');
  });

  it('counts created, completed, failed, exceptions, cancelled, coalesced and requeues by cause', () => {
    const h = setup({ jobRetries: 2 });
    h.req(W, PacketType.CAN_DO_TIMEOUT, 'f', '1000');
    const handles = ['ok', 'fail', 'exc', 'cancel', 'lost', 'timeout'].map((u) =>
      h.submit(C, PacketType.SUBMIT_JOB_BG, 'f', u, u),
    );
    h.submit(C, PacketType.SUBMIT_JOB_BG, 'f', 'ok', 'again'); // coalesced
    const [ok, fail, exc, cancel] = handles;
    h.req(W, PacketType.GRAB_JOB);
    h.req(W, PacketType.WORK_COMPLETE, ok ?? '', 'r');
    h.req(W, PacketType.GRAB_JOB);
    h.req(W, PacketType.WORK_FAIL, fail ?? '');
    h.req(W, PacketType.GRAB_JOB);
    h.req(W, PacketType.WORK_EXCEPTION, exc ?? '', 'boom');
    assert.equal(h.admin(A, `cancel job ${cancel}\n`), 'OK\r\n');
    // `lost`: its worker goes away twice; with -j 2 the second time ends it.
    h.req(W, PacketType.GRAB_JOB); // skips the cancelled job, takes `lost`
    h.disconnect(W);
    h.req(W2, PacketType.CAN_DO_TIMEOUT, 'f', '1000');
    h.req(W2, PacketType.GRAB_JOB); // `timeout` (queued before the requeued `lost`)
    h.timerFired('timeout:6');
    h.req(W2, PacketType.GRAB_JOB); // `lost` again
    h.disconnect(W2);
    const expected: JobCounters = {
      ...NO_COUNTS,
      created: 6,
      completed: 1,
      failed: 1,
      exceptions: 1,
      cancelled: 1,
      requeuedWorkerLost: 1,
      requeuedTimeout: 1,
      coalesced: 1,
      retriesExhausted: 1,
    };
    assert.deepEqual(fn(h, 'f').counters, expected);
    h.submit(C, PacketType.SUBMIT_JOB_BG, 'g', '', 'x');
    assert.deepEqual(fn(h, 'g').counters, { ...NO_COUNTS, created: 1 });
    assert.deepEqual(h.core.view.totals().counters, { ...expected, created: 7 });
  });

  it('counts the time jobs waited in the queue and ran, in cumulative buckets', () => {
    const h = setup();
    h.req(W, PacketType.CAN_DO, 'f');
    const a = h.submit(C, PacketType.SUBMIT_JOB_BG, 'f', '', 'a');
    const b = h.submit(C, PacketType.SUBMIT_JOB_BG, 'f', '', 'b');
    h.clock.ms += 30;
    h.req(W, PacketType.GRAB_JOB);
    h.clock.ms += 200;
    h.req(W, PacketType.WORK_COMPLETE, a, '');
    h.clock.ms += 2;
    h.req(W, PacketType.GRAB_JOB);
    h.req(W, PacketType.WORK_FAIL, b);
    const { waitTimes, runTimes } = fn(h, 'f');
    assert.deepEqual(waitTimes.bounds, TIME_BUCKETS_MS);
    assert.equal(waitTimes.cumulative.length, TIME_BUCKETS_MS.length + 1);
    assert.equal(inBucket(waitTimes, 50), 1, 'a waited 30 ms');
    assert.equal(inBucket(waitTimes, 250), 1, 'b waited 232 ms');
    assert.equal(waitTimes.count, 2);
    assert.equal(waitTimes.sum, 262);
    assert.equal(waitTimes.cumulative.at(-1), 2, '+Inf counts them all');
    assert.equal(inBucket(runTimes, 250), 1, 'a ran 200 ms');
    assert.equal(inBucket(runTimes, 1), 1, 'b ran 0 ms');
    assert.equal(runTimes.count, 2);
    // A job whose worker vanished did not run to an answer: no run time.
    h.submit(C, PacketType.SUBMIT_JOB_BG, 'f', '', 'c');
    h.req(W, PacketType.GRAB_JOB);
    h.clock.ms += 5;
    h.disconnect(W);
    assert.equal(fn(h, 'f').runTimes.count, 2);
    assert.equal(fn(h, 'f').waitTimes.count, 3);
  });
});

describe('the core view: connections', () => {
  it('tells each connection its kind from what it did, and counts them by kind', () => {
    const h = setup();
    h.req(C, PacketType.SUBMIT_JOB_BG, 'f', '', 'x');
    h.req(W, PacketType.CAN_DO, 'f');
    h.req(W, PacketType.SUBMIT_JOB_BG, 'f', '', 'y'); // still a worker
    h.admin(A, 'status\n');
    h.req(W2, PacketType.GET_STATUS, 'H:test:1');
    h.admin(W2, 'workers\n'); // a client that asked an admin question stays a client
    const kinds = Object.fromEntries([...h.core.view.peers()].map((p) => [p.id, p.kind]));
    assert.deepEqual(kinds, {
      [C]: 'client',
      [W]: 'worker',
      [A]: 'admin',
      [IDLE]: 'none',
      [W2]: 'client',
    });
    assert.deepEqual(h.core.view.totals().connectionsByKind, {
      none: 1,
      admin: 1,
      client: 2,
      worker: 1,
    });
    h.disconnect(W);
    h.disconnect(IDLE);
    assert.deepEqual(h.core.view.totals().connectionsByKind, {
      none: 0,
      admin: 1,
      client: 2,
      worker: 0,
    });
    assert.equal(h.core.view.totals().connections, 3);
  });

  it('shows a worker: address, client id as text, functions in grab order, sleep, its jobs and since when', () => {
    const h = new Harness();
    h.connect(C);
    const connectedAt = h.clock.ms;
    h.connect(W, { fd: 77, address: '10.1.2.3', loopback: false });
    h.req(W, PacketType.SET_CLIENT_ID, Buffer.from('wörker', 'utf8'));
    h.req(W, PacketType.CAN_DO, 'f');
    h.req(W, PacketType.CAN_DO, 'g');
    h.req(W, PacketType.PRE_SLEEP);
    const asleep = h.core.view.peer(W);
    assert.ok(asleep);
    assert.equal(asleep.sleeping, true);
    assert.deepEqual(asleep.functions, ['g', 'f']);
    const handle = h.submit(C, PacketType.SUBMIT_JOB, 'f', '', 'x');
    h.clock.ms += 10;
    h.req(W, PacketType.GRAB_JOB);
    const assignedAt = h.clock.ms;
    h.clock.ms += 25;
    const peer = h.core.view.peer(W);
    assert.ok(peer);
    assert.deepEqual(
      {
        fd: peer.fd,
        address: peer.address,
        loopback: peer.loopback,
        connectedAt: peer.connectedAt,
        kind: peer.kind,
        clientId: peer.clientId,
        wireClientId: peer.wireClientId,
        sleeping: peer.sleeping,
      },
      {
        fd: 77,
        address: '10.1.2.3',
        loopback: false,
        connectedAt,
        kind: 'worker',
        clientId: 'wörker',
        wireClientId: Buffer.from('wörker', 'utf8').toString('latin1'),
        sleeping: false,
      },
    );
    assert.deepEqual(
      peer.running.map((j) => [j.handle, j.state, j.since, j.age]),
      [[handle, 'running', assignedAt, 25]],
    );
    assert.equal(h.core.view.peer(C)?.waitingFor, 1);
    assert.equal(h.core.view.peer(99), undefined);
  });
});

describe('the core view: jobs', () => {
  it('lists jobs in handle order, a page at a time, by function and by state', () => {
    const h = setup({ durable: true });
    const handles: string[] = [];
    for (const [f, u] of [
      ['f', 'a'],
      ['g', 'b'],
      ['f', 'c'],
      ['f', 'd'],
    ] as const) {
      handles.push(h.submit(C, PacketType.SUBMIT_JOB, f, u, u));
    }
    h.req(C, PacketType.SUBMIT_JOB_BG, 'f', 'e', 'e'); // pending its commit
    h.req(W, PacketType.CAN_DO, 'f');
    h.req(W, PacketType.GRAB_JOB);
    const view = h.core.view;
    const first = view.jobs({ limit: 2 });
    assert.deepEqual(
      first.jobs.map((j) => j.handle),
      handles.slice(0, 2),
    );
    assert.ok(first.next !== undefined);
    const second = view.jobs({ limit: 2, after: first.next });
    assert.deepEqual(
      second.jobs.map((j) => j.handle),
      handles.slice(2, 4),
    );
    const last = view.jobs({ limit: 2, after: second.next });
    assert.deepEqual(
      last.jobs.map((j) => [j.handle, j.unique, j.state]),
      [['H:test:5', 'e', 'pending']],
    );
    assert.equal(last.next, undefined);
    assert.deepEqual(
      view.jobs({ function: 'f' }).jobs.map((j) => j.unique),
      ['a', 'c', 'd', 'e'],
    );
    assert.deepEqual(
      view.jobs({ state: 'running' }).jobs.map((j) => j.unique),
      ['a'],
    );
    assert.deepEqual(
      view.jobs({ function: 'f', state: 'queued', limit: 1 }).jobs.map((j) => j.unique),
      ['c'],
    );
    assert.deepEqual(view.jobs({ function: 'unknown' }), { jobs: [], next: undefined });
    assert.throws(() => view.jobs({ after: 'H:test:1' }), ViewQueryError);
    assert.throws(() => view.jobs({ limit: 0 }), ViewQueryError);
    assert.throws(() => view.jobs({ limit: 1.5 }), ViewQueryError);
  });

  it('describes a job: priority, background, age, attempts, payload size and preview, run-at', () => {
    const h = setup();
    const payload = Buffer.alloc(100, 0x61);
    const handle = h.submit(C, PacketType.SUBMIT_JOB_HIGH, 'f', 'ü', payload);
    const at = h.clock.ms / 1000 + 3600;
    const created = brief(h.req(C, PacketType.SUBMIT_JOB_EPOCH, 'f', '', String(at), 'tiny'), C);
    const later = created[0]?.split(' ')[1] ?? '';
    h.clock.ms += 1000;
    const job = h.core.view.job(handle);
    assert.ok(job);
    assert.deepEqual(
      {
        handle: job.handle,
        wireHandle: job.wireHandle,
        functionName: job.functionName,
        unique: job.unique,
        priority: job.priority,
        background: job.background,
        state: job.state,
        age: job.age,
        attempts: job.attempts,
        retries: job.retries,
        runAt: job.runAt,
        payloadSize: job.payloadSize,
        clients: job.clients,
        worker: job.worker,
      },
      {
        handle,
        wireHandle: handle,
        functionName: 'f',
        unique: 'ü',
        priority: 'high',
        background: false,
        state: 'queued',
        age: 1000,
        attempts: 0,
        retries: 0,
        runAt: undefined,
        payloadSize: 100,
        clients: 1,
        worker: undefined,
      },
    );
    assert.deepEqual(job.preview, payload.subarray(0, 64));
    const delayed = h.core.view.job(later);
    assert.equal(delayed?.state, 'delayed');
    assert.equal(delayed?.runAt, at * 1000);
    assert.deepEqual(delayed?.preview, Buffer.from('tiny'));
    // Attempts: one while it runs, one more after its worker vanished and it runs again.
    h.req(W, PacketType.CAN_DO, 'f');
    h.req(W, PacketType.GRAB_JOB);
    assert.equal(h.core.view.job(handle)?.attempts, 1);
    h.disconnect(W);
    h.req(W2, PacketType.CAN_DO, 'f');
    h.req(W2, PacketType.GRAB_JOB);
    assert.deepEqual([job.state, job.attempts, job.retries, job.worker], ['running', 2, 1, W2]);
    // A record is live: read after the job ended, it says so.
    h.req(W2, PacketType.WORK_COMPLETE, handle, '');
    assert.equal(job.state, 'done');
    assert.equal(h.core.view.job(handle), undefined);
    assert.equal(h.core.view.job('H:test:999'), undefined);
    assert.equal(h.core.view.job('nonsense'), undefined);
  });

  it('shows cancelled and abandoned jobs as ignored until a grab skips them', () => {
    const h = setup();
    const a = h.submit(C, PacketType.SUBMIT_JOB_BG, 'f', '', 'a');
    const b = h.submit(W2, PacketType.SUBMIT_JOB, 'f', '', 'b');
    h.admin(A, `cancel job ${a}\n`);
    h.disconnect(W2);
    assert.deepEqual(
      h.core.view.jobs().jobs.map((j) => [j.handle, j.state, j.payloadSize]),
      [
        [a, 'ignored', 0],
        [b, 'ignored', 0],
      ],
    );
    h.req(W, PacketType.CAN_DO, 'f');
    assert.deepEqual(brief(h.req(W, PacketType.GRAB_JOB)), ['NO_JOB']);
    assert.deepEqual(h.core.view.jobs().jobs, []);
  });
});

describe('the core view: time', () => {
  it('keeps ages right across the time base moving (past 2^30 ms of uptime)', () => {
    const h = setup();
    const day = 86_400_000;
    const old = h.submit(C, PacketType.SUBMIT_JOB_BG, 'f', '', 'old');
    for (let d = 1; d <= 20; d++) {
      h.clock.ms += day;
      // Time is read on the way (new jobs), so the base moves several times.
      h.submit(C, PacketType.SUBMIT_JOB_BG, 'f', '', `day ${d}`);
    }
    h.clock.ms += 1234;
    assert.equal(h.core.view.job(old)?.age, 20 * day + 1234);
    assert.equal(fn(h, 'f').oldestQueuedAge, 20 * day + 1234);
    assert.equal(h.core.view.job('H:test:21')?.age, 1234);
    h.req(W, PacketType.CAN_DO, 'f');
    h.req(W, PacketType.GRAB_JOB);
    const waited = fn(h, 'f').waitTimes;
    assert.equal(waited.sum, 20 * day + 1234);
    assert.equal(waited.cumulative.at(-2), 0, 'beyond the last bound');
    assert.equal(waited.cumulative.at(-1), 1);
  });
});
