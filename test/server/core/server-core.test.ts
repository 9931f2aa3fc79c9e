import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { argumentCount, encodePacket, Magic, PacketType } from '../../../src/protocol/index.js';
import { brief, Harness, packets, sentBytes } from './harness.js';

const C = 1; // client
const W = 2; // worker
const W2 = 3;
const C2 = 4;

function setup(options = {}): Harness {
  return Harness.withConnections([C, W, W2, C2], options);
}

describe('ServerCore basics', () => {
  it('echoes ECHO_REQ with embedded NULs, byte for byte', () => {
    const h = setup();
    const payload = Buffer.from([1, 0, 2, 0, 0, 3]);
    const out = h.req(C, PacketType.ECHO_REQ, payload);
    assert.deepEqual(
      sentBytes(out, C),
      Buffer.concat([Buffer.from('\0RES\0\0\0\x11\0\0\0\x06', 'latin1'), payload]),
    );
  });

  it('runs a foreground job: submit, grab, status, data, complete', () => {
    const h = setup();
    h.req(W, PacketType.CAN_DO, 'reverse');
    const handle = h.submit(C, PacketType.SUBMIT_JOB, 'reverse', 'u1', 'hello');
    assert.equal(handle, 'H:test:1');
    assert.deepEqual(brief(h.req(W, PacketType.GRAB_JOB), W), [
      'JOB_ASSIGN H:test:1 reverse hello',
    ]);
    assert.deepEqual(brief(h.req(W, PacketType.WORK_STATUS, handle, '1', '2'), C), [
      'WORK_STATUS H:test:1 1 2',
    ]);
    assert.deepEqual(brief(h.req(W, PacketType.WORK_DATA, handle, 'part'), C), [
      'WORK_DATA H:test:1 part',
    ]);
    assert.deepEqual(brief(h.req(W, PacketType.WORK_WARNING, handle, 'warn'), C), [
      'WORK_WARNING H:test:1 warn',
    ]);
    const done = h.req(W, PacketType.WORK_COMPLETE, handle, 'olleh');
    assert.deepEqual(
      sentBytes(done, C),
      encodePacket(Magic.RES, PacketType.WORK_COMPLETE, [handle, 'olleh']),
    );
    assert.deepEqual(brief(h.req(C, PacketType.GET_STATUS, handle)), [
      'STATUS_RES H:test:1 0 0 0 0',
    ]);
    assert.equal(h.core.runningJobs, 0);
  });

  it('acknowledges a background job at once and detaches the submitter', () => {
    const h = setup();
    h.req(W, PacketType.CAN_DO, 'f');
    const handle = h.submit(C, PacketType.SUBMIT_JOB_BG, 'f', '', 'x');
    assert.deepEqual(brief(h.req(W, PacketType.GRAB_JOB_UNIQ)), [`JOB_ASSIGN_UNIQ ${handle} f  x`]);
    assert.deepEqual(h.req(W, PacketType.WORK_COMPLETE, handle, 'r'), []);
  });

  it('answers GET_STATUS for unknown, queued and running jobs', () => {
    const h = setup();
    assert.deepEqual(brief(h.req(C, PacketType.GET_STATUS, 'nope')), ['STATUS_RES nope 0 0 0 0']);
    const handle = h.submit(C, PacketType.SUBMIT_JOB_BG, 'f', 'u', 'x');
    assert.deepEqual(brief(h.req(C, PacketType.GET_STATUS, handle)), [
      `STATUS_RES ${handle} 1 0 0 0`,
    ]);
    h.req(W, PacketType.CAN_DO, 'f');
    h.req(W, PacketType.GRAB_JOB);
    h.req(W, PacketType.WORK_STATUS, handle, '3', '7');
    assert.deepEqual(brief(h.req(C2, PacketType.GET_STATUS, handle)), [
      `STATUS_RES ${handle} 1 1 3 7`,
    ]);
  });

  it('gives NO_JOB to a worker with nothing to do', () => {
    const h = setup();
    h.req(W, PacketType.CAN_DO, 'f');
    assert.deepEqual(brief(h.req(W, PacketType.GRAB_JOB)), ['NO_JOB']);
    assert.deepEqual(brief(h.req(W2, PacketType.GRAB_JOB)), ['NO_JOB']);
  });

  it('answers admin status and workers byte for byte', () => {
    const h = setup();
    h.req(W, PacketType.CAN_DO, 'f1');
    h.req(W, PacketType.CAN_DO, 'f2');
    h.req(W, PacketType.SET_CLIENT_ID, 'worker-A');
    h.submit(C, PacketType.SUBMIT_JOB_BG, 'f1', '', 'a');
    h.submit(C, PacketType.SUBMIT_JOB_BG, 'f1', '', 'b');
    h.req(W, PacketType.GRAB_JOB);
    const status = h.admin(C2, 'status\n');
    assert.equal(status, 'f1\t2\t1\t1\nf2\t0\t0\t1\n.\n');
    assert.equal(
      h.admin(C2, 'workers\n'),
      '31 127.0.0.1 - :\n32 127.0.0.1 worker-A : f2 f1\n33 127.0.0.1 - :\n34 127.0.0.1 - :\n.\n',
    );
  });

  it('keeps non-ASCII names and handle prefixes byte for byte (UTF-8 on the wire)', () => {
    const h = new Harness({ handlePrefix: 'H:hôst' });
    h.connect(C);
    h.connect(W);
    const fn = Buffer.from('fünction', 'utf8');
    const out = h.req(C, PacketType.SUBMIT_JOB, fn, 'ü', 'x');
    const handle = Buffer.from('H:hôst:1', 'utf8');
    assert.deepEqual(sentBytes(out, C), encodePacket(Magic.RES, PacketType.JOB_CREATED, [handle]));
    h.req(W, PacketType.CAN_DO, fn);
    assert.deepEqual(
      sentBytes(h.req(W, PacketType.GRAB_JOB_UNIQ), W),
      encodePacket(Magic.RES, PacketType.JOB_ASSIGN_UNIQ, [handle, fn, Buffer.from('ü'), 'x']),
    );
    assert.deepEqual(
      sentBytes(h.req(W, PacketType.WORK_COMPLETE, handle, 'r'), C),
      encodePacket(Magic.RES, PacketType.WORK_COMPLETE, [handle, 'r']),
    );
    assert.equal(
      Buffer.from(h.admin(W, 'status\n'), 'latin1').toString('utf8'),
      'fünction\t0\t0\t1\n.\n',
    );
    assert.equal([...h.core.view.functions()][0]?.name, 'fünction');
  });

  it('answers RES magic with INVALID_MAGIC and keeps the connection', () => {
    const h = setup();
    const out = h.raw(C, encodePacket(Magic.RES, PacketType.ECHO_REQ, ['x']));
    assert.deepEqual(brief(out), ['ERROR INVALID_MAGIC Request magic expected']);
    assert.equal(
      out.some((e) => e.type === 'close'),
      false,
    );
    assert.deepEqual(brief(h.req(C, PacketType.ECHO_REQ, 'y')), ['ECHO_RES y']);
  });

  it('answers response-type packets, type 5 and ALL_YOURS with INVALID_COMMAND', () => {
    const h = setup();
    for (const type of [
      PacketType.NOOP,
      PacketType.JOB_CREATED,
      PacketType.NO_JOB,
      PacketType.JOB_ASSIGN,
      PacketType.ECHO_RES,
      PacketType.ERROR,
      PacketType.STATUS_RES,
      PacketType.OPTION_RES,
      PacketType.JOB_ASSIGN_UNIQ,
      PacketType.JOB_ASSIGN_ALL,
      PacketType.STATUS_RES_UNIQUE,
      PacketType.UNUSED_5,
      PacketType.ALL_YOURS,
    ]) {
      const args = new Array<string>(argumentCount(type)).fill('a');
      assert.deepEqual(
        packets(h.req(C, type, ...args)).map((p) => p.args.join('|')),
        ['INVALID_COMMAND|Command not expected'],
        `type ${type}`,
      );
    }
  });
});
