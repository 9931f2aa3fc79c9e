/**
 * The I/O shell's seams: any duplex handed to `NetServer.handle` is a peer like a socket (with
 * the address it is given), listeners are interchangeable and fail cleanly, and the shell counts
 * its traffic.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { describe, it } from 'node:test';
import { Magic, PacketType, encodePacket, request } from '../../../src/protocol/index.js';
import { NetError } from '../../../src/server/net/net-error.js';
import { TcpListener } from '../../../src/server/net/listener.js';
import { startServer, type GearboxServer } from '../../../src/server/start-server.js';
import type { NetFigures } from '../../../src/server/view/server-view.js';
import { InProcessListener } from '../../helpers/in-process-listener.js';
import { eventually } from '../../helpers/lib-servers.js';
import { RawPeer } from '../../helpers/raw-peer.js';

const KEEPALIVE = { enabled: false, idle: 0 };

async function startInProcess(
  config: Parameters<typeof startServer>[0] = {},
): Promise<{ server: GearboxServer; listener: InProcessListener }> {
  const listener = new InProcessListener();
  const server = await startServer({ logFile: 'none', ...config }, { listeners: [listener] });
  return { server, listener };
}

/** The server's traffic figures, as its view reports them. */
function figures(server: GearboxServer): NetFigures {
  const figures = server.view.netFigures();
  assert.ok(figures !== undefined, 'the shell reports its figures');
  return figures;
}

async function adminLines(listener: InProcessListener, command: string): Promise<string> {
  const admin = RawPeer.over(listener.connect({ address: '127.0.0.1' }), 'text');
  try {
    admin.write(`${command}\n`);
    return await admin.readUntilMatch(/(^|\n)\.\n/);
  } finally {
    admin.close();
  }
}

describe('NetServer.handle: a peer on any duplex stream', () => {
  it('serves packets and admin lines, and shows the address it was given', async () => {
    const { server, listener } = await startInProcess();
    try {
      const worker = RawPeer.over(listener.connect({ address: '10.1.2.3', port: 5555 }));
      worker.write(request(PacketType.SET_CLIENT_ID, 'piped'));
      worker.write(request(PacketType.CAN_DO, 'reverse'));
      worker.write(request(PacketType.ECHO_REQ, 'over a pipe'));
      const echo = await worker.nextPacket();
      assert.equal(echo.type, PacketType.ECHO_RES);
      assert.equal(echo.args[0]?.toString(), 'over a pipe');
      const workers = await adminLines(listener, 'workers');
      // No descriptor behind a pipe: the fd column gets a number of the server's own.
      assert.match(workers, /^\d+ 10\.1\.2\.3 piped : reverse$/m);
      worker.close();
    } finally {
      await server.close();
    }
  });

  it('takes loopback from the given address: admin shutdown only from a loopback peer', async () => {
    const { server, listener } = await startInProcess();
    const remote = RawPeer.over(listener.connect({ address: '192.0.2.7' }), 'text');
    remote.write('shutdown\n');
    assert.match(await remote.readUntil('\n'), /^ERR UNKNOWN_COMMAND/);
    const local = RawPeer.over(listener.connect({ address: '::ffff:127.0.0.1' }), 'text');
    local.write('shutdown\n');
    assert.equal(await local.readUntil('\n'), 'OK\r\n');
    await server.closed;
  });

  it('closes the stream of a peer that breaks the framing, without a reply', async () => {
    const { server, listener } = await startInProcess();
    try {
      const peer = RawPeer.over(listener.connect({ address: '127.0.0.1' }));
      peer.write(Buffer.concat([Buffer.from([0, 0x58, 0x59, 0x5a]), Buffer.alloc(8)]));
      assert.equal(await peer.closesWithin(3000), true);
      assert.equal(peer.bufferedPackets, 0);
    } finally {
      await server.close();
    }
  });

  it('ends every handed-in stream on close, and refuses streams handed in after', async () => {
    const { server, listener } = await startInProcess();
    const peer = RawPeer.over(listener.connect({ address: '127.0.0.1' }));
    await server.close();
    assert.equal(await peer.closesWithin(3000), true);
    const late = RawPeer.over(listener.connect({ address: '127.0.0.1' }));
    assert.equal(await late.closesWithin(1000), true, 'a stream handed to a stopped server');
    assert.equal(figures(server).connectionsAccepted, 1);
  });
});

describe('Listeners', () => {
  it('serves on every listener it is given, and reports each one address', async () => {
    const server = await startServer(
      { logFile: 'none' },
      {
        listeners: [
          new TcpListener({ hosts: ['127.0.0.1'], port: 0, backlog: 16, keepalive: KEEPALIVE }),
          new TcpListener({ hosts: ['127.0.0.1'], port: 0, backlog: 16, keepalive: KEEPALIVE }),
        ],
      },
    );
    try {
      assert.equal(server.addresses.length, 2);
      const ports = server.addresses.map((a) => a.port);
      assert.notEqual(ports[0], ports[1]);
      for (const port of ports) {
        const peer = await RawPeer.connect(port);
        peer.write(request(PacketType.ECHO_REQ, String(port)));
        assert.equal((await peer.nextPacket()).args[0]?.toString(), String(port));
        peer.close();
      }
    } finally {
      await server.close();
    }
  });

  it('a listener that cannot bind fails the start and leaves none bound', async () => {
    const busy: Server = createServer();
    busy.listen(0, '127.0.0.1');
    await once(busy, 'listening');
    const busyPort = (busy.address() as { port: number }).port;
    const first = new TcpListener({
      hosts: ['127.0.0.1'],
      port: 0,
      backlog: 16,
      keepalive: KEEPALIVE,
    });
    try {
      await assert.rejects(
        startServer(
          { logFile: 'none' },
          {
            listeners: [
              first,
              new TcpListener({
                hosts: ['127.0.0.1'],
                port: busyPort,
                backlog: 16,
                keepalive: KEEPALIVE,
              }),
            ],
          },
        ),
        (e: unknown) =>
          e instanceof NetError &&
          e.code === 'LISTEN_FAILED' &&
          e.message.includes(`127.0.0.1:${busyPort}`),
      );
      assert.deepEqual(first.addresses, [], 'the first listener was closed again');
    } finally {
      busy.close();
    }
  });
});

describe('Net figures', () => {
  it('count connections, bytes, packets by type and admin lines', async () => {
    const { server, listener } = await startInProcess();
    try {
      const before = figures(server);
      assert.equal(before.connectionsOpen, 0);
      assert.equal(before.packetsIn.ECHO_REQ, 0, 'every type is present from the start');
      const peer = RawPeer.over(listener.connect({ address: '127.0.0.1' }));
      const sent = Buffer.concat([
        request(PacketType.ECHO_REQ, 'one'),
        request(PacketType.ECHO_REQ, 'two'),
        request(PacketType.GRAB_JOB),
      ]);
      peer.write(sent);
      for (let i = 0; i < 3; i++) await peer.nextPacket();
      await adminLines(listener, 'status');
      await eventually(() => figures(server).connectionsClosed === 1, 2000, 'admin closed');
      const f = figures(server);
      assert.equal(f.connectionsAccepted, 2);
      assert.equal(f.connectionsOpen, 1);
      assert.equal(f.packetsIn.ECHO_REQ, 2);
      assert.equal(f.packetsIn.GRAB_JOB, 1);
      assert.equal(f.packetsOut.ECHO_RES, 2);
      assert.equal(f.packetsOut.NO_JOB, 1);
      assert.equal(f.adminLinesIn, 1);
      assert.equal(f.adminRepliesOut, 1);
      assert.equal(f.bytesIn, sent.length + 'status\n'.length);
      // Two echoes of 3 bytes and a NO_JOB, then the (empty) status list: ".\n".
      assert.equal(f.bytesOut, 2 * (12 + 3) + 12 + 2);
      peer.close();
      await eventually(() => figures(server).connectionsOpen === 0, 2000, 'all closed');
    } finally {
      await server.close();
    }
  });

  it('count refusals over a limit, framing errors and slow peers dropped', async () => {
    const { server, listener } = await startInProcess({
      maxPacketSize: 1024,
      maxOutputBuffer: 1,
    });
    try {
      const big = RawPeer.over(listener.connect({ address: '127.0.0.1' }));
      const header = encodePacket(Magic.REQ, PacketType.ECHO_REQ, [Buffer.alloc(0)]);
      header.writeUInt32BE(4096, 8);
      big.write(header);
      assert.equal((await big.nextPacket()).type, PacketType.ERROR);
      const broken = RawPeer.over(listener.connect({ address: '127.0.0.1' }));
      broken.write(Buffer.concat([Buffer.from([0, 0x58, 0x59, 0x5a]), Buffer.alloc(8)]));
      assert.equal(await broken.closesWithin(3000), true);
      // A peer that reads nothing while asking for more than the output limit (64 KiB + the
      // largest packet) in echoes.
      const stream = listener.connect({ address: '127.0.0.1' });
      const slow = RawPeer.over(stream);
      stream.pause();
      const echo = request(PacketType.ECHO_REQ, Buffer.alloc(1000));
      slow.write(Buffer.concat(Array.from({ length: 200 }, () => echo)));
      await eventually(() => figures(server).slowPeersDropped === 1, 3000, 'slow peer dropped');
      const f = figures(server);
      assert.equal(f.overLimitRefusals, 1);
      assert.equal(f.packetsOut.ERROR, 1, 'the refusal is counted as sent');
      assert.equal(f.protocolErrors, 1);
    } finally {
      await server.close();
    }
  });
});
