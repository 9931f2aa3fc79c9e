/**
 * Differential conformance: the same byte script goes to Debian's real gearmand over TCP and to
 * our ServerCore, and every connection must receive the same bytes after every step. This pins
 * the reference's probed behaviour (§2, §4, §6, §9, §10) against the real thing, not our reading
 * of it.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { encodePacket, Magic, PacketType, type Arg } from '../../../src/protocol/index.js';
import { startGearmand, type RunningServer } from '../../helpers/processes.js';
import { skipUnless } from '../../helpers/services.js';
import { Harness } from './harness.js';

const PREFIX = 'H:conf';
const CONNS = { C1: 1, C2: 2, W: 3, A: 4, W2: 5, W3: 6 } as const;
type ConnName = keyof typeof CONNS;

interface Step {
  readonly conn: ConnName;
  /** What to send; `undefined` closes the connection instead. */
  readonly bytes: Buffer | undefined;
  /** Admin lists whose line order is gearmand's hash order: compare them sorted. */
  readonly sortLines?: boolean;
  /** A deliberate difference: turns gearmand's bytes into what we send instead. */
  readonly knownDifference?: (theirs: Buffer) => Buffer;
}

/**
 * gearmand converts WORK_EXCEPTION into a WORK_FAIL whose payload is `handle\0` (a stray NUL,
 * so strict clients see a handle they never got and hang). We send a clean `handle`.
 */
function withoutStrayNul(theirs: Buffer): Buffer {
  const out: Buffer[] = [];
  for (let pos = 0; pos + 12 <= theirs.length;) {
    const type = theirs.readUInt32BE(pos + 4);
    const length = theirs.readUInt32BE(pos + 8);
    let packet = theirs.subarray(pos, pos + 12 + length);
    if (type === PacketType.WORK_FAIL && length > 0 && packet[packet.length - 1] === 0) {
      packet = Buffer.from(packet.subarray(0, packet.length - 1));
      packet.writeUInt32BE(length - 1, 8);
    }
    out.push(packet);
    pos += 12 + length;
  }
  return Buffer.concat(out);
}

const req = (conn: ConnName, type: PacketType, ...args: Arg[]): Step => ({
  conn,
  bytes: encodePacket(Magic.REQ, type, args),
});
const res = (conn: ConnName, type: PacketType, ...args: Arg[]): Step => ({
  conn,
  bytes: encodePacket(Magic.RES, type, args),
});
const close = (conn: ConnName): Step => ({ conn, bytes: undefined });
const text = (conn: ConnName, line: string, sortLines = false): Step => ({
  conn,
  bytes: Buffer.from(line, 'latin1'),
  sortLines,
});

/** Protocol basics: run against a plain gearmand. */
const BASICS: Step[] = [
  req('C1', PacketType.ECHO_REQ, Buffer.from([0, 1, 0, 2])),
  req('C1', PacketType.SUBMIT_JOB_BG, 'f', 'u1', 'd1'),
  req('C2', PacketType.SUBMIT_JOB_HIGH_BG, 'f', 'u1', 'other'),
  req('C1', PacketType.SUBMIT_JOB_BG, 'f', '-', 'p1'),
  req('C2', PacketType.SUBMIT_JOB_LOW_BG, 'f', '-', 'p1'),
  req('C1', PacketType.SUBMIT_JOB_BG, 'f', '', 'e'),
  req('C1', PacketType.SUBMIT_JOB_BG, 'f', '', 'e'),
  req('C1', PacketType.SUBMIT_JOB_BG, 'g', 'gu', 'another function'),
  req('C1', PacketType.GET_STATUS, `${PREFIX}:1`),
  req('C1', PacketType.GET_STATUS, 'nope'),
  req('C1', PacketType.GET_STATUS_UNIQUE, 'u1'),
  req('C1', PacketType.GET_STATUS_UNIQUE, 'p1'),
  req('C1', PacketType.GET_STATUS_UNIQUE, 'missing'),
  text('A', 'status\n', true),
  text('A', 'prioritystatus\n', true),
  text('A', 'show jobs\n', true),
  text('A', 'show unique jobs\n', true),
  req('W', PacketType.CAN_DO, 'f'),
  req('W', PacketType.GRAB_JOB_UNIQ),
  req('W', PacketType.WORK_STATUS, `${PREFIX}:1`, '1', '2'),
  req('C2', PacketType.GET_STATUS, `${PREFIX}:1`),
  req('C2', PacketType.GET_STATUS_UNIQUE, 'u1'),
  text('A', 'status\n', true),
  req('W', PacketType.WORK_COMPLETE, `${PREFIX}:1`, 'done'),
  req('W', PacketType.WORK_COMPLETE, `${PREFIX}:1`, 'again'),
  req('W', PacketType.WORK_DATA, `${PREFIX}:1`, 'x'),
  req('W', PacketType.WORK_WARNING, `${PREFIX}:99`, 'x'),
  req('W', PacketType.WORK_EXCEPTION, `${PREFIX}:99`, 'x'),
  req('W', PacketType.WORK_STATUS, `${PREFIX}:99`, '1', '2'),
  req('W', PacketType.WORK_FAIL, `${PREFIX}:99`),
  req('C1', PacketType.GET_STATUS, `${PREFIX}:1`),
  // Foreground jobs, two clients on one unique, one of them with exceptions on.
  req('C1', PacketType.OPTION_REQ, 'exceptions'),
  req('C1', PacketType.OPTION_REQ, 'bogus'),
  req('C1', PacketType.SUBMIT_JOB_HIGH, 'h', 'fg', 'work'),
  req('C2', PacketType.SUBMIT_JOB, 'h', 'fg', 'work'),
  req('C1', PacketType.GET_STATUS_UNIQUE, 'fg'),
  req('W', PacketType.CAN_DO, 'h'),
  req('W', PacketType.GRAB_JOB),
  req('W', PacketType.WORK_DATA, `${PREFIX}:6`, 'chunk'),
  req('W', PacketType.WORK_WARNING, `${PREFIX}:6`, 'careful'),
  req('W', PacketType.WORK_STATUS, `${PREFIX}:6`, '50', '100'),
  {
    ...req('W', PacketType.WORK_EXCEPTION, `${PREFIX}:6`, 'boom'),
    knownDifference: withoutStrayNul,
  },
  // The rest of f's queue in order, then nothing.
  req('W', PacketType.GRAB_JOB_ALL),
  req('W', PacketType.GRAB_JOB),
  req('W', PacketType.GRAB_JOB),
  req('W', PacketType.GRAB_JOB),
  req('W', PacketType.PRE_SLEEP),
  // Reduce jobs with the 4-field form.
  req('C1', PacketType.SUBMIT_REDUCE_JOB_BACKGROUND, 'h', 'r1', 'myreducer', '', 'rdata'),
  req('W', PacketType.GRAB_JOB_ALL),
  // Protocol errors that keep the connection.
  res('C1', PacketType.ECHO_REQ, 'x'),
  req('C1', PacketType.NOOP),
  req('C1', PacketType.UNUSED_5),
  req('C1', PacketType.ALL_YOURS),
  req('C1', PacketType.JOB_CREATED, 'x'),
  req('C1', PacketType.SUBMIT_JOB, 'f', 'u'.repeat(65), 'x'),
  // (SUBMIT_JOB_SCHED is left out: gearmand refuses it, we accept it on purpose.)
  // Admin commands.
  text('A', 'maxqueue f 1\n'),
  req('C1', PacketType.SUBMIT_JOB_BG, 'f', 'q1', 'x'),
  req('C1', PacketType.SUBMIT_JOB_BG, 'f', 'q2', 'x'),
  text('A', 'maxqueue f 0\n'),
  text('A', 'maxqueue\n'),
  text('A', 'maxqueue nosuch 3\n'),
  text('A', `cancel job ${PREFIX}:9\n`),
  text('A', `cancel job ${PREFIX}:9\n`),
  text('A', 'cancel job\n'),
  text('A', 'cancel job a b\n'),
  text('A', 'show jobs\n', true),
  text('A', 'drop function f\n'),
  text('A', 'drop function nosuch\n'),
  text('A', 'drop function\n'),
  text('A', 'create function\n'),
  text('A', 'create function made\r\n'),
  text('A', 'status\n', true),
  text('A', 'show\n'),
  text('A', 'show nothing\n'),
  text('A', 'Status\nPRIORITYSTATUS\n', true),
  text('A', 'unknown words here\n'),
  text('A', '\n'),
  text('A', 'shutdown\n'),
  text('A', 'verbose\n'),
];

/** Requeue, retries (`-j 2`), abandoned foreground jobs, cancel: run with `-j 2`. */
const LIFECYCLE: Step[] = [
  req('W', PacketType.CAN_DO, 'f'),
  req('W', PacketType.PRE_SLEEP),
  req('C1', PacketType.SUBMIT_JOB, 'f', '', 'a'),
  req('C1', PacketType.SUBMIT_JOB, 'f', '', 'b'),
  req('W', PacketType.GRAB_JOB),
  req('W', PacketType.WORK_STATUS, `${PREFIX}:1`, '1', '2'),
  close('W'),
  req('C1', PacketType.GET_STATUS, `${PREFIX}:1`),
  text('A', 'show jobs\n', true),
  text('A', 'status\n', true),
  req('W2', PacketType.CAN_DO, 'f'),
  req('W2', PacketType.GRAB_JOB),
  req('W2', PacketType.GRAB_JOB),
  req('W2', PacketType.GRAB_JOB),
  close('W2'),
  text('A', 'show jobs\n', true),
  text('A', 'status\n', true),
  req('C2', PacketType.SUBMIT_JOB_LOW, 'g', 'ab', 'x'),
  req('C2', PacketType.SUBMIT_JOB_BG, 'g', '', 'bg'),
  close('C2'),
  text('A', 'show jobs\n', true),
  text('A', 'status\n', true),
  req('W3', PacketType.CAN_DO, 'g'),
  req('W3', PacketType.GRAB_JOB),
  req('W3', PacketType.GRAB_JOB),
  text('A', 'status\n', true),
  req('C1', PacketType.SUBMIT_JOB, 'g', 'ab', 'x'),
  text('A', `cancel job ${PREFIX}:5\n`),
  text('A', 'show jobs\n', true),
  req('W3', PacketType.GRAB_JOB),
  text('A', 'status\n', true),
  req('W3', PacketType.PRE_SLEEP),
  req('C1', PacketType.SUBMIT_JOB_BG, 'g', '', 'wake'),
  req('W3', PacketType.RESET_ABILITIES),
  req('W3', PacketType.GRAB_JOB),
  text('A', 'status\n', true),
];

const SCENARIOS: {
  name: string;
  gearmandArgs: string[];
  options: { jobRetries?: number };
  script: Step[];
}[] = [
  { name: 'protocol basics', gearmandArgs: [], options: {}, script: BASICS },
  {
    name: 'requeue, -j 2, abandoned and cancelled jobs',
    gearmandArgs: ['-j', '2'],
    options: { jobRetries: 2 },
    script: LIFECYCLE,
  },
];

/**
 * gearmand handles each connection's packets in order, so an ECHO sent right after a step and
 * answered means the step was processed (a step with no reply could otherwise race the next
 * step on another connection). The echo is sent to gearmand only and cut out of its replies.
 */
const SYNC_REQUEST = encodePacket(Magic.REQ, PacketType.ECHO_REQ, ['conformance-sync']);
const SYNC_REPLY = encodePacket(Magic.RES, PacketType.ECHO_RES, ['conformance-sync']);

function withoutSync(bytes: Buffer): Buffer {
  const at = bytes.indexOf(SYNC_REPLY);
  if (at < 0) return bytes;
  return Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + SYNC_REPLY.length)]);
}

/** A TCP peer that collects what gearmand sends. */
class Peer {
  private readonly socket: Socket;
  private received: Buffer[] = [];
  lastData = Date.now();

  constructor(port: number) {
    this.socket = connect({ host: '127.0.0.1', port });
    this.socket.on('data', (d: Buffer) => {
      this.received.push(d);
      this.lastData = Date.now();
    });
  }

  ready(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.once('connect', resolve);
      this.socket.once('error', reject);
    });
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  get pending(): number {
    return this.received.reduce((n, b) => n + b.length, 0);
  }

  take(): Buffer {
    const out = Buffer.concat(this.received);
    this.received = [];
    return out;
  }

  close(): void {
    this.socket.destroy();
  }
}

/**
 * Waits until every peer holds at least the bytes we expect it to get (so a slow reply is not
 * missed) and then until nothing has arrived for `quietMs` (so an extra reply is not missed
 * either); bounded by `maxMs`.
 */
async function settle(
  expected: ReadonlyMap<Peer, number>,
  quietMs = 80,
  maxMs = 5000,
): Promise<void> {
  const start = Date.now();
  const peers = [...expected.keys()];
  await new Promise((r) => setTimeout(r, 10));
  while (Date.now() - start < maxMs) {
    const filled = peers.every((p) => p.pending >= (expected.get(p) ?? 0));
    const last = Math.max(...peers.map((p) => p.lastData));
    if (filled && Date.now() - last >= quietMs && Date.now() - start >= quietMs) return;
    await new Promise((r) => setTimeout(r, 10));
  }
}

function normalise(bytes: Buffer, sortLines: boolean): string {
  const value = bytes.toString('latin1');
  if (!sortLines) return value;
  // Each list ends in ".\n"; sort the body lines of each list on its own.
  return value
    .split('.\n')
    .map((body) => body.split('\n').sort().join('\n'))
    .join('.\n');
}

describe('byte-for-byte conformance with gearmand 1.1.20', async () => {
  const skip = await skipUnless('core conformance with gearmand', 'gearmand');

  for (const scenario of SCENARIOS) {
    describe(scenario.name, () => {
      let gearmand: RunningServer | undefined;
      const peers = new Map<ConnName, Peer>();

      before(async () => {
        if (skip !== false) return;
        gearmand = await startGearmand(['--job-handle-prefix', PREFIX, ...scenario.gearmandArgs]);
        for (const name of Object.keys(CONNS) as ConnName[]) {
          const peer = new Peer(gearmand.port);
          await peer.ready();
          peers.set(name, peer);
        }
      });

      after(async () => {
        for (const peer of peers.values()) peer.close();
        await gearmand?.stop();
      });

      it('answers the script exactly as gearmand does', { skip }, async () => {
        const core = new Harness({ handlePrefix: PREFIX, verbose: 'ERROR', ...scenario.options });
        // Not loopback: then `shutdown` must get gearmand's unknown-command answer too.
        for (const id of Object.values(CONNS)) core.connect(id, { loopback: false });
        let compared = 0;
        for (const [index, step] of scenario.script.entries()) {
          const id = CONNS[step.conn];
          const effects = step.bytes === undefined ? core.disconnect(id) : core.raw(id, step.bytes);
          if (step.bytes === undefined) peers.get(step.conn)?.close();
          else peers.get(step.conn)?.write(Buffer.concat([step.bytes, SYNC_REQUEST]));
          const ourReplies = new Map<ConnName, Buffer>();
          const expected = new Map<Peer, number>();
          for (const name of Object.keys(CONNS) as ConnName[]) {
            const ours = Buffer.concat(
              effects.flatMap((e) => (e.type === 'send' && e.conn === CONNS[name] ? [e.data] : [])),
            );
            ourReplies.set(name, ours);
            const peer = peers.get(name);
            const sync = name === step.conn && step.bytes !== undefined ? SYNC_REPLY.length : 0;
            if (peer !== undefined) expected.set(peer, ours.length + sync);
          }
          await settle(expected);
          for (const name of Object.keys(CONNS) as ConnName[]) {
            const ours = ourReplies.get(name) ?? Buffer.alloc(0);
            const raw = withoutSync(peers.get(name)?.take() ?? Buffer.alloc(0));
            const theirs = step.knownDifference ? step.knownDifference(raw) : raw;
            compared += theirs.length;
            const what =
              step.bytes === undefined ? 'close' : JSON.stringify(step.bytes.toString('latin1'));
            assert.equal(
              normalise(ours, step.sortLines ?? false),
              normalise(theirs, step.sortLines ?? false),
              `step ${index} (${step.conn}: ${what}) to ${name}`,
            );
          }
        }
        assert.ok(compared > 500, `gearmand answered only ${compared} bytes`);
      });
    });
  }
});
