import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PacketType, packetName, request } from '../../src/protocol/index.js';
import { defaultServerPaths, startServer, type ServerProcess } from '../../bench/lib/servers.js';
import { RawPeer } from '../helpers/raw-peer.js';

const submit = (unique: string): Buffer =>
  request(PacketType.SUBMIT_JOB_BG, 'fn', unique, Buffer.alloc(100, 0x61));

async function expectPacket(peer: RawPeer, type: PacketType): Promise<Buffer[]> {
  const packet = await peer.nextPacket();
  assert.equal(packetName(packet.type), packetName(type));
  return packet.args;
}

describe('the null server (bench/null-server.ts)', () => {
  let server: ServerProcess;
  before(async () => {
    server = await startServer('null', defaultServerPaths);
  });
  after(() => server.stop());

  it('answers every background submit with JOB_CREATED and a new handle, however the bytes are split', async () => {
    const peer = await RawPeer.connect(server.port);
    try {
      const bytes = Buffer.concat([
        submit('a'),
        submit('b'),
        request(PacketType.SUBMIT_JOB_LOW_BG, 'fn', 'c', 'x'),
        request(PacketType.SUBMIT_JOB_HIGH_BG, 'fn', '', ''),
      ]);
      // Cut inside a header, inside a payload, and one byte at a time for a stretch.
      const cuts = [5, 40, 41, 42, 43, 130, bytes.length - 3, bytes.length];
      let from = 0;
      for (const cut of cuts) {
        peer.write(bytes.subarray(from, cut));
        from = cut;
        await new Promise((r) => setTimeout(r, 5));
      }
      const handles: string[] = [];
      for (let i = 0; i < 4; i++)
        handles.push(((await expectPacket(peer, PacketType.JOB_CREATED))[0] as Buffer).toString());
      assert.equal(new Set(handles).size, 4);
      const numbers = handles.map((h) => Number(/^H:null:(\d+)$/.exec(h)?.[1]));
      assert.deepEqual(
        numbers,
        numbers.map((_, i) => (numbers[0] as number) + i),
      );
    } finally {
      peer.close();
    }
  });

  it('answers ECHO_REQ, refuses other packets with ERROR and keeps the connection', async () => {
    const peer = await RawPeer.connect(server.port);
    try {
      peer.write(
        Buffer.concat([
          request(PacketType.ECHO_REQ, 'ping'),
          request(PacketType.SUBMIT_JOB, 'fn', 'u', 'data'),
          submit('after'),
        ]),
      );
      assert.equal(
        ((await expectPacket(peer, PacketType.ECHO_RES))[0] as Buffer).toString(),
        'ping',
      );
      const error = await expectPacket(peer, PacketType.ERROR);
      assert.equal((error[0] as Buffer).toString(), 'UNSUPPORTED');
      await expectPacket(peer, PacketType.JOB_CREATED);
      assert.ok(peer.isOpen);
    } finally {
      peer.close();
    }
  });

  it('closes a connection that sends bad magic or an absurd length, and goes on serving others', async () => {
    for (const garbage of [
      Buffer.from('\0REX\0\0\0\x12\0\0\0\0'),
      Buffer.from([0, 0x52, 0x45, 0x51, 0, 0, 0, 18, 0xff, 0xff, 0xff, 0xff]),
      Buffer.from('status\n'),
    ]) {
      const peer = await RawPeer.connect(server.port);
      peer.write(garbage);
      const error = await expectPacket(peer, PacketType.ERROR);
      assert.equal((error[0] as Buffer).toString(), 'INVALID_PACKET');
      assert.equal(await peer.closesWithin(2000), true);
    }
    const peer = await RawPeer.connect(server.port);
    try {
      peer.write(submit('still-here'));
      await expectPacket(peer, PacketType.JOB_CREATED);
    } finally {
      peer.close();
    }
  });
});
