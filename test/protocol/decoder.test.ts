import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  argumentCount,
  Decoder,
  encodePacket,
  Magic,
  PacketType,
  ProtocolError,
  type Packet,
  type TextLine,
} from '../../src/protocol/index.js';

/** Hand-built bytes: header fields spelled out, payload as given. */
function frame(magic: 'REQ' | 'RES', type: number, payload: Buffer | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload;
  const header = Buffer.from([
    0,
    0x52,
    0x45,
    magic === 'REQ' ? 0x51 : 0x53,
    (type >>> 24) & 0xff,
    (type >>> 16) & 0xff,
    (type >>> 8) & 0xff,
    type & 0xff,
    (body.length >>> 24) & 0xff,
    (body.length >>> 16) & 0xff,
    (body.length >>> 8) & 0xff,
    body.length & 0xff,
  ]);
  return Buffer.concat([header, body]);
}

type Item = { packet: { magic: string; type: number; args: string[] } } | { text: TextLine };

function collect(): { items: Item[]; decoder: Decoder } {
  const items: Item[] = [];
  const decoder = new Decoder({
    packet: (p: Packet) =>
      items.push({
        packet: { magic: p.magic, type: p.type, args: p.args.map((a) => a.toString('latin1')) },
      }),
    text: (t) => items.push({ text: t }),
  });
  return { items, decoder };
}

const fixtures: { name: string; bytes: Buffer; expected: Item[] }[] = [
  {
    name: 'SUBMIT_JOB with a data field holding NULs',
    bytes: frame('REQ', 7, 'reverse\0uniq-1\0ab\0cd'),
    expected: [{ packet: { magic: 'REQ', type: 7, args: ['reverse', 'uniq-1', 'ab\0cd'] } }],
  },
  {
    name: 'GRAB_JOB with no arguments',
    bytes: frame('REQ', 9, ''),
    expected: [{ packet: { magic: 'REQ', type: 9, args: [] } }],
  },
  {
    name: 'SUBMIT_REDUCE_JOB with four fields before the data',
    bytes: frame('REQ', 37, 'map\0u\0reduce\0\0payload'),
    expected: [{ packet: { magic: 'REQ', type: 37, args: ['map', 'u', 'reduce', '', 'payload'] } }],
  },
  {
    name: 'STATUS_RES_UNIQUE from the server',
    bytes: frame('RES', 42, 'u1\x001\x000\x003\x0010\x002'),
    expected: [{ packet: { magic: 'RES', type: 42, args: ['u1', '1', '0', '3', '10', '2'] } }],
  },
  {
    name: 'an admin line between two packets, with CRLF',
    bytes: Buffer.concat([
      frame('REQ', 16, 'ping'),
      Buffer.from('status\r\n'),
      frame('REQ', 1, 'fn'),
    ]),
    expected: [
      { packet: { magic: 'REQ', type: 16, args: ['ping'] } },
      { text: { line: 'status', crlf: true } },
      { packet: { magic: 'REQ', type: 1, args: ['fn'] } },
    ],
  },
  {
    name: 'pipelined admin lines with bare LF',
    bytes: Buffer.from('workers\nversion\n\n'),
    expected: [
      { text: { line: 'workers', crlf: false } },
      { text: { line: 'version', crlf: false } },
      { text: { line: '', crlf: false } },
    ],
  },
];

describe('Decoder', () => {
  for (const fixture of fixtures) {
    it(`decodes ${fixture.name} split at every byte offset`, () => {
      for (let cut = 0; cut <= fixture.bytes.length; cut++) {
        const { items, decoder } = collect();
        decoder.push(fixture.bytes.subarray(0, cut));
        decoder.push(fixture.bytes.subarray(cut));
        assert.deepEqual(items, fixture.expected, `split at ${cut}`);
        assert.equal(decoder.hasPartial, false);
      }
    });
    it(`decodes ${fixture.name} fed one byte at a time`, () => {
      const { items, decoder } = collect();
      for (const byte of fixture.bytes) decoder.push(Buffer.from([byte]));
      assert.deepEqual(items, fixture.expected);
    });
  }

  it('hands out views into the chunk, not copies, when a packet arrives whole', () => {
    const bytes = frame('REQ', 13, 'H:x:1\0result');
    let seen: Buffer | undefined;
    const decoder = new Decoder({ packet: (p) => (seen = p.args[1]), text: () => undefined });
    decoder.push(bytes);
    assert.ok(seen);
    assert.equal(seen.buffer, bytes.buffer);
  });

  it('refuses a length over the limit before allocating it', () => {
    const header = frame('REQ', 7, '').subarray(0, 12);
    header.writeUInt32BE(0xffffffff, 8);
    const decoder = new Decoder(
      { packet: () => assert.fail('no packet'), text: () => undefined },
      { maxPacketSize: 1024, maxLineLength: 100 },
    );
    assert.throws(
      () => decoder.push(header),
      (e: unknown) => e instanceof ProtocolError && e.code === 'PACKET_TOO_LARGE',
    );
    // Once failed, the decoder stays failed.
    assert.throws(() => decoder.push(frame('REQ', 16, 'x')), ProtocolError);
  });

  it('refuses bad magic as soon as it is visible', () => {
    const { decoder } = collect();
    assert.throws(
      () => decoder.push(Buffer.from([0, 0x41])),
      (e: unknown) => e instanceof ProtocolError && e.code === 'INVALID_MAGIC',
    );
  });

  it('refuses packet type 0 and types above 42', () => {
    for (const type of [0, 43, 1000]) {
      const { decoder } = collect();
      assert.throws(
        () => decoder.push(frame('REQ', type, '')),
        (e: unknown) => e instanceof ProtocolError && e.code === 'INVALID_PACKET_TYPE',
      );
    }
  });

  it('refuses a packet with fewer NUL separators than its type needs', () => {
    const { decoder } = collect();
    assert.throws(
      () => decoder.push(frame('REQ', 7, 'fn-without-unique')),
      (e: unknown) => e instanceof ProtocolError && e.code === 'MALFORMED_PACKET',
    );
  });

  it('refuses an admin line longer than the limit', () => {
    const decoder = new Decoder(
      { packet: () => undefined, text: () => undefined },
      { maxPacketSize: 1024, maxLineLength: 10 },
    );
    decoder.push(Buffer.from('statu'));
    assert.throws(
      () => decoder.push(Buffer.from('s-and-much-more')),
      (e: unknown) => e instanceof ProtocolError && e.code === 'LINE_TOO_LONG',
    );
  });

  it('passes a RES-magic packet through so the server can answer INVALID_MAGIC', () => {
    const { items, decoder } = collect();
    decoder.push(frame('RES', 16, 'x'));
    assert.deepEqual(items, [{ packet: { magic: 'RES', type: 16, args: ['x'] } }]);
  });
});

describe('encodePacket', () => {
  it('produces the bytes of the hand-built frame', () => {
    assert.deepEqual(
      encodePacket(Magic.REQ, PacketType.SUBMIT_JOB, ['reverse', 'uniq-1', Buffer.from('ab\0cd')]),
      frame('REQ', 7, 'reverse\0uniq-1\0ab\0cd'),
    );
    assert.deepEqual(encodePacket(Magic.RES, PacketType.NOOP), frame('RES', 6, ''));
    assert.deepEqual(
      encodePacket(Magic.RES, PacketType.JOB_ASSIGN_UNIQ, ['H:h:1', 'fn', 'u', '']),
      frame('RES', 31, 'H:h:1\0fn\0u\0'),
    );
  });

  it('knows gearmand argument counts for every packet type', () => {
    const expected: Record<number, number> = {
      1: 1,
      2: 1,
      3: 0,
      4: 0,
      6: 0,
      7: 3,
      8: 1,
      9: 0,
      10: 0,
      11: 3,
      12: 3,
      13: 2,
      14: 1,
      15: 1,
      16: 1,
      17: 1,
      18: 3,
      19: 2,
      20: 5,
      21: 3,
      22: 1,
      23: 2,
      24: 0,
      25: 2,
      26: 1,
      27: 1,
      28: 2,
      29: 2,
      30: 0,
      31: 4,
      32: 3,
      33: 3,
      34: 3,
      35: 8,
      36: 4,
      37: 5,
      38: 5,
      39: 0,
      40: 5,
      41: 1,
      42: 6,
    };
    for (const [type, count] of Object.entries(expected)) {
      assert.equal(argumentCount(Number(type)), count, `type ${type}`);
    }
  });
});
