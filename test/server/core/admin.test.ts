import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PacketType } from '../../../src/protocol/index.js';
import { brief, Harness, kinds } from './harness.js';

const A = 1; // admin connection
const W = 2;
const C = 3;

function setup(options = {}): Harness {
  const h = new Harness(options);
  h.connect(A);
  h.connect(W, { fd: 40, address: '10.0.0.7', loopback: false });
  h.connect(C);
  return h;
}

describe('admin text protocol', () => {
  it('lists functions in status and prioritystatus, with zeros once created', () => {
    const h = setup();
    assert.equal(h.admin(A, 'status\n'), '.\n');
    h.req(W, PacketType.CAN_DO, 'f');
    h.req(W, PacketType.CAN_DO, 'f');
    h.submit(C, PacketType.SUBMIT_JOB_HIGH_BG, 'g', '', 'x');
    h.submit(C, PacketType.SUBMIT_JOB_LOW_BG, 'g', '', 'x');
    h.submit(C, PacketType.SUBMIT_JOB_LOW, 'g', '', 'x');
    assert.equal(h.admin(A, 'status\n'), 'f\t0\t0\t2\ng\t3\t0\t0\n.\n');
    assert.equal(h.admin(A, 'prioritystatus\n'), 'f\t0\t0\t0\t2\ng\t1\t0\t2\t0\n.\n');
  });

  it('lists every connection in workers, abilities newest first, client id or -', () => {
    const h = setup();
    h.req(W, PacketType.CAN_DO, 'f1');
    h.req(W, PacketType.CAN_DO_TIMEOUT, 'f2', '5000');
    h.req(W, PacketType.SET_CLIENT_ID, 'worker-A');
    assert.equal(
      h.admin(A, 'workers\n'),
      '31 127.0.0.1 - :\n40 10.0.0.7 worker-A : f2 f1\n33 127.0.0.1 - :\n.\n',
    );
  });

  it('shows jobs and unique jobs', () => {
    const h = setup();
    h.submit(C, PacketType.SUBMIT_JOB_BG, 'f', 'u1', 'x');
    h.submit(C, PacketType.SUBMIT_JOB, 'f', '', 'x');
    assert.equal(h.admin(A, 'show jobs\n'), 'H:test:1\t0\t0\t1\nH:test:2\t0\t0\t0\n.\n');
    assert.equal(h.admin(A, 'show unique jobs\n'), 'u1\n\n.\n');
    assert.equal(h.admin(A, 'SHOW JOBS\n'), 'H:test:1\t0\t0\t1\nH:test:2\t0\t0\t0\n.\n');
  });

  it('answers the other commands with gearmand bytes and line endings', () => {
    const h = setup();
    const cases: [string, string][] = [
      ['getpid\n', 'OK 4242\n'],
      ['verbose\n', 'OK INFO\n'],
      ['version\n', 'OK 1.1.20+gearbox-test\n'],
      ['show\n', 'ERR UNKNOWN_COMMAND Unknown+server+commandshow\r\n'],
      ['show foo\n', 'ERR UNKNOWN_SHOW_ARGUMENTS\r\n'],
      ['show unique\n', 'ERR UNKNOWN_SHOW_ARGUMENTS\r\n'],
      ['show jobs extra\n', 'ERR UNKNOWN_SHOW_ARGUMENTS\r\n'],
      ['cancel job\n', 'ERR UNKNOWN_COMMAND Unknown+server+commandcancel\r\n'],
      ['cancel job X\n', 'ERR UNKNOWN_JOB\r\n'],
      ['cancel job X Y\n', 'ERR UNKNOWN_ERROR\r\n'],
      [
        'create function\n',
        'ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+create\r\n',
      ],
      [
        'drop function\n',
        'ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+drop\r\n',
      ],
      [
        'maxqueue\n',
        'ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+maxqueue\r\n',
      ],
      ['drop function nope\n', 'ERR function not found\r\n'],
      ['\n', 'ERR UNKNOWN_COMMAND Unknown+server+command\r\n'],
      ['  status\n', 'ERR UNKNOWN_COMMAND Unknown+server+command\r\n'],
      ['foo bar\n', 'ERR UNKNOWN_COMMAND Unknown+server+commandfoo\r\n'],
      ['STATUS extra\n', '.\n'],
      ['status\r\n', '.\n'],
    ];
    for (const [line, reply] of cases) assert.equal(h.admin(A, line), reply, line);
  });

  it('creates functions keeping the whole name (unlike gearmand with a bare \\n)', () => {
    const h = setup();
    assert.equal(h.admin(A, 'create function abc\n'), 'OK\r\n');
    assert.equal(h.admin(A, 'create function xyz\r\n'), 'OK\r\n');
    assert.equal(h.admin(A, 'status\n'), 'abc\t0\t0\t0\nxyz\t0\t0\t0\n.\n');
  });

  it('drops a function only without workers or jobs', () => {
    const h = setup();
    h.req(W, PacketType.CAN_DO, 'f');
    const busy = 'ERR there are still connected workers or executing clients\r\n';
    assert.equal(h.admin(A, 'drop function f\n'), busy);
    h.req(W, PacketType.CANT_DO, 'f');
    h.submit(C, PacketType.SUBMIT_JOB_BG, 'f', '', 'x');
    assert.equal(h.admin(A, 'drop function f\n'), busy);
    h.admin(A, 'create function g\n');
    assert.equal(h.admin(A, 'drop function g\n'), 'OK\r\n');
    assert.equal(h.admin(A, 'status\n'), 'f\t1\t0\t0\n.\n');
  });

  it('takes pipelined commands, case-insensitively, mixed with binary packets', () => {
    const h = setup();
    const out = h.admin(A, 'GetPid\nVERSION\nmaxqueue f 1\nstatus\n');
    assert.equal(out, 'OK 4242\nOK 1.1.20+gearbox-test\nOK\r\n.\n');
  });

  it('shuts down only for loopback peers, after replying OK', () => {
    const h = setup();
    const remote = h.raw(W, Buffer.from('shutdown\n'));
    assert.equal(
      Buffer.concat(remote.flatMap((e) => (e.type === 'send' ? [e.data] : []))).toString(),
      'ERR UNKNOWN_COMMAND Unknown+server+commandshutdown\r\n',
    );
    assert.equal(
      remote.some((e) => e.type === 'shutdown'),
      false,
    );
    const graceful = h.raw(A, Buffer.from('shutdown GRACEFUL\n'));
    assert.deepEqual(
      kinds(graceful).filter((k) => k !== 'log'),
      ['send:1', 'shutdown'],
    );
    assert.deepEqual(
      graceful.find((e) => e.type === 'shutdown'),
      { type: 'shutdown', graceful: true },
    );
    const now = h.raw(A, Buffer.from('shutdown\n'));
    assert.deepEqual(
      now.find((e) => e.type === 'shutdown'),
      { type: 'shutdown', graceful: false },
    );
    assert.equal(
      h.admin(A, 'shutdown now please\n'),
      'ERR UNKNOWN_COMMAND Unknown+server+commandshutdown\r\n',
    );
  });

  it('reports a snapshot for metrics', () => {
    const h = setup();
    h.req(W, PacketType.CAN_DO, 'f');
    h.req(W, PacketType.PRE_SLEEP);
    h.submit(C, PacketType.SUBMIT_JOB_HIGH_BG, 'g', '', 'x');
    h.submit(C, PacketType.SUBMIT_JOB_LOW_BG, 'g', '', 'x');
    const snap = h.core.view.totals();
    const functions = [...h.core.view.functions()].map((fn) => ({
      name: fn.name,
      queued: [fn.queued.high, fn.queued.normal, fn.queued.low],
      delayed: [fn.delayed.high, fn.delayed.normal, fn.delayed.low],
      running: fn.running,
      workers: fn.workers,
      sleepingWorkers: fn.sleepingWorkers,
    }));
    assert.deepEqual(functions, [
      {
        name: 'f',
        queued: [0, 0, 0],
        delayed: [0, 0, 0],
        running: 0,
        workers: 1,
        sleepingWorkers: 1,
      },
      {
        name: 'g',
        queued: [1, 0, 1],
        delayed: [0, 0, 0],
        running: 0,
        workers: 0,
        sleepingWorkers: 0,
      },
    ]);
    assert.equal(snap.queued, 2);
    assert.equal(snap.connections, 3);
    assert.equal(snap.workers, 1);
    assert.equal(snap.counters.created, 2);
  });
});

describe('admin listing injection (bug: names went verbatim into status/workers, so a peer could forge rows)', () => {
  it('refuses CAN_DO, CAN_DO_TIMEOUT and submissions naming a function with LF, CR or NUL', () => {
    const h = setup();
    for (const name of ['evil\n1\t0\t0\t0\n.', 'cr\rname', 'nul\0name']) {
      assert.deepEqual(
        brief(h.req(W, PacketType.CAN_DO, name)),
        [
          'ERROR INVALID_FUNCTION_NAME Function name must not contain NUL, carriage return or newline',
        ],
        JSON.stringify(name),
      );
    }
    assert.deepEqual(brief(h.req(W, PacketType.CAN_DO_TIMEOUT, 'a\nb', '5000')), [
      'ERROR INVALID_FUNCTION_NAME Function name must not contain NUL, carriage return or newline',
    ]);
    assert.deepEqual(brief(h.req(C, PacketType.SUBMIT_JOB_BG, 'x\ny', '', 'data')), [
      'ERROR INVALID_FUNCTION_NAME Function name must not contain NUL, carriage return or newline',
    ]);
    assert.deepEqual(brief(h.req(C, PacketType.SUBMIT_JOB, 'x\ry', 'u', 'data')), [
      'ERROR INVALID_FUNCTION_NAME Function name must not contain NUL, carriage return or newline',
    ]);
    assert.equal(h.admin(A, 'status\n'), '.\n', 'nothing was created');
    assert.equal(
      h.admin(A, 'workers\n'),
      `31 127.0.0.1 - :\n40 10.0.0.7 - :\n33 127.0.0.1 - :\n.\n`,
    );
  });

  it('keeps accepting a TAB, as Perl Gearman::Worker sends with its prefix option (shown as a column break)', () => {
    const h = setup();
    h.req(W, PacketType.CAN_DO, 'pfx\tjob');
    h.submit(C, PacketType.SUBMIT_JOB_BG, 'pfx\tjob', '', 'x');
    assert.equal(h.admin(A, 'status\n'), 'pfx\tjob\t1\t0\t1\n.\n');
  });

  it('refuses `create function` with a CR inside the name', () => {
    const h = setup();
    assert.equal(
      h.admin(A, 'create function a\rb\r\n'),
      'ERR INVALID_FUNCTION_NAME Function+name+must+not+contain+NUL,+carriage+return+or+newline\r\n',
    );
    assert.equal(h.admin(A, 'status\n'), '.\n');
  });

  it('shows client ids and uniques with LF, CR or NUL as ? in the listings', () => {
    const h = setup();
    h.req(W, PacketType.SET_CLIENT_ID, 'id\n99 6.6.6.6 forged :');
    h.submit(C, PacketType.SUBMIT_JOB_BG, 'f', 'u\n.\nv', 'x');
    assert.equal(
      h.admin(A, 'workers\n'),
      `31 127.0.0.1 - :\n40 10.0.0.7 id?99 6.6.6.6 forged : :\n33 127.0.0.1 - :\n.\n`,
    );
    assert.equal(h.admin(A, 'show unique jobs\n'), 'u?.?v\n.\n');
  });
});
