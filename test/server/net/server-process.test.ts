/**
 * The `gearbox server` process over real TCP: framing errors close only the guilty connection,
 * limits hold before allocation, a peer that never reads is dropped (its jobs requeued) while
 * memory stays bounded, and the process starts and stops cleanly.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { Magic, PacketType, encodePacket, request } from '../../../src/protocol/index.js';
import { RawPeer } from '../../helpers/raw-peer.js';
import { startGearboxServer, type GearboxProcess } from '../../helpers/gearbox-cli.js';

function header(magic: Buffer, type: number, length: number): Buffer {
  const out = Buffer.alloc(12);
  magic.copy(out, 0);
  out.writeUInt32BE(type, 4);
  out.writeUInt32BE(length, 8);
  return out;
}

const REQ = Buffer.from([0, 0x52, 0x45, 0x51]);

async function echo(port: number, payload: string): Promise<string> {
  const peer = await RawPeer.connect(port);
  try {
    peer.write(request(PacketType.ECHO_REQ, payload));
    const reply = await peer.nextPacket();
    assert.equal(reply.type, PacketType.ECHO_RES);
    return reply.args[0]?.toString() ?? '';
  } finally {
    peer.close();
  }
}

/** Sends one admin list command and reads the list up to its `.` line. */
async function admin(port: number, command: string): Promise<string> {
  const peer = await RawPeer.connect(port, 'text');
  try {
    peer.write(`${command}\n`);
    return await peer.readUntilMatch(/(^|\n)\.\n/);
  } finally {
    peer.close();
  }
}

async function runSs(filter: string): Promise<string> {
  const child = spawn('ss', ['-tno', 'state', 'established', filter], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  await once(child, 'close');
  return out;
}

/** The listening socket on `port`, as `ss -ltnH` prints it: State Recv-Q Send-Q Local Peer. */
async function runListeningSs(port: number): Promise<string> {
  const child = spawn('ss', ['-ltnH', `( sport = :${port} )`], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  await once(child, 'close');
  return out;
}

/** The kernel's cap on a listen backlog. */
function somaxconn(): number {
  return Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8').trim());
}

function rssKiB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match?.[1] ?? NaN);
}

describe('gearbox server over TCP: malformed input', () => {
  let server: GearboxProcess;
  before(async () => {
    server = await startGearboxServer(['--max-packet-size', '64K', '-l', 'stderr', '-vvv']);
  });
  after(async () => server.stop());

  it('closes a connection with bad magic, without a reply, and keeps serving others', async () => {
    const peer = await RawPeer.connect(server.port);
    peer.write(Buffer.concat([Buffer.from([0, 0x58, 0x59, 0x5a]), Buffer.alloc(8)]));
    assert.equal(await peer.closesWithin(3000), true, 'the server closed the connection');
    assert.equal(peer.bufferedPackets, 0, 'no reply');
    assert.equal(await echo(server.port, 'still here'), 'still here');
  });

  it('answers RES magic with ERROR INVALID_MAGIC and keeps the connection open', async () => {
    const peer = await RawPeer.connect(server.port);
    peer.write(encodePacket(Magic.RES, PacketType.ECHO_REQ, ['x']));
    const error = await peer.nextPacket();
    assert.equal(error.type, PacketType.ERROR);
    assert.equal(error.args[0]?.toString(), 'INVALID_MAGIC');
    peer.write(request(PacketType.ECHO_REQ, 'after'));
    const reply = await peer.nextPacket();
    assert.equal(reply.type, PacketType.ECHO_RES);
    assert.equal(reply.args[0]?.toString(), 'after');
    peer.close();
  });

  it('closes on an unknown packet type (0 and 99)', async () => {
    for (const type of [0, 99]) {
      const peer = await RawPeer.connect(server.port);
      peer.write(header(REQ, type, 0));
      assert.equal(await peer.closesWithin(3000), true, `type ${type} closes`);
    }
  });

  it('closes at once on an announced length over the limit, before any payload', async () => {
    const peer = await RawPeer.connect(server.port);
    const before = rssKiB(server.process.pid as number);
    // Announces 4 GiB - 1 and sends no payload: the server must not wait for it or allocate it.
    peer.write(header(REQ, PacketType.SUBMIT_JOB_BG, 0xffffffff));
    assert.equal(await peer.closesWithin(3000), true);
    const second = await RawPeer.connect(server.port);
    second.write(header(REQ, PacketType.ECHO_REQ, 65 * 1024));
    second.write(Buffer.alloc(1024));
    assert.equal(await second.closesWithin(3000), true, '65 KiB is over --max-packet-size 64K');
    assert.ok(rssKiB(server.process.pid as number) - before < 64 * 1024, 'nothing big allocated');
    assert.equal(await echo(server.port, 'ok'), 'ok');
  });

  it('answers a packet over --max-packet-size with ERROR ARGUMENT_TOO_LARGE before closing (bug: it closed without a word)', async () => {
    const peer = await RawPeer.connect(server.port);
    // A 2 MiB payload against a 64 KiB limit, still being sent when the server refuses it.
    peer.write(header(REQ, PacketType.SUBMIT_JOB_BG, 2 * 1024 * 1024));
    peer.write(Buffer.concat([Buffer.from('f\0\0'), Buffer.alloc(2 * 1024 * 1024 - 3, 0x61)]));
    const error = await peer.nextPacket();
    assert.equal(error.type, PacketType.ERROR);
    assert.equal(error.args[0]?.toString(), 'ARGUMENT_TOO_LARGE');
    assert.match(
      error.args[1]?.toString() ?? '',
      /SUBMIT_JOB_BG of 2097152 bytes is over the limit of 65536 bytes \(--max-packet-size\)/,
    );
    assert.equal(await peer.closesWithin(3000), true);
    assert.equal(await echo(server.port, 'ok'), 'ok');
  });

  it('answers an admin line over the line limit with ERR before closing', async () => {
    const peer = await RawPeer.connect(server.port, 'text');
    peer.write('x'.repeat(70 * 1024));
    assert.match(
      await peer.readUntil('\r\n'),
      /^ERR ARGUMENT_TOO_LARGE Admin\+command\+line\+longer\+than\+65536\+bytes\r\n$/,
    );
    assert.equal(await peer.closesWithin(3000), true);
  });

  it('accepts a payload of exactly the limit, split over many writes', async () => {
    const peer = await RawPeer.connect(server.port);
    const payload = Buffer.alloc(64 * 1024, 0x61);
    const packet = request(PacketType.ECHO_REQ, payload);
    for (let i = 0; i < packet.length; i += 1000) peer.write(packet.subarray(i, i + 1000));
    const reply = await peer.nextPacket();
    assert.equal(reply.type, PacketType.ECHO_RES);
    assert.equal(Buffer.compare(reply.args[0] as Buffer, payload), 0);
    peer.close();
  });

  it('closes on an admin line over the line limit but not on a normal one', async () => {
    const peer = await RawPeer.connect(server.port, 'text');
    peer.write('x'.repeat(70 * 1024));
    assert.equal(await peer.closesWithin(3000), true);
    assert.match(await admin(server.port, 'status'), /\.\n$/);
  });

  it('logs the protocol errors without a stack trace', () => {
    assert.match(server.stderr(), /closing the connection/);
    assert.doesNotMatch(server.stderr(), /\n\s+at /);
  });
});

describe('gearbox server over TCP: refusals in the log at the default level', () => {
  let server: GearboxProcess;
  before(async () => {
    server = await startGearboxServer(['--max-packet-size', '64K']);
  });
  after(async () => server.stop());

  it('logs an over-limit packet as an ERROR with its reason, once per peer address (bug: only at a hidden level)', async () => {
    for (let i = 0; i < 3; i++) {
      const peer = await RawPeer.connect(server.port);
      peer.write(header(REQ, PacketType.ECHO_REQ, 1024 * 1024));
      assert.equal((await peer.nextPacket()).type, PacketType.ERROR);
      assert.equal(await peer.closesWithin(3000), true);
    }
    assert.equal(await echo(server.port, 'ok'), 'ok');
    const lines = server
      .stderr()
      .split('\n')
      .filter((l) => l.includes('over the limit'));
    assert.equal(lines.length, 1, server.stderr());
    assert.match(
      lines[0] ?? '',
      /^ +ERROR .*127\.0\.0\.1.*ECHO_REQ of 1048576 bytes is over the limit of 65536 bytes \(--max-packet-size\)/,
    );
  });
});

describe('gearbox server over TCP: a peer that never reads', () => {
  let server: GearboxProcess;
  before(async () => {
    server = await startGearboxServer([
      '--max-output-buffer',
      '1M',
      '--max-packet-size',
      '256K',
      '-l',
      'stderr',
      '--verbose',
      'WARNING',
    ]);
  });
  after(async () => server.stop());

  it('drops a worker whose unsent replies pass the cap and requeues its jobs', async () => {
    const client = await RawPeer.connect(server.port);
    const jobs = 20;
    const payload = Buffer.alloc(200 * 1024, 0x62);
    for (let i = 0; i < jobs; i++) {
      client.write(request(PacketType.SUBMIT_JOB_BG, 'slow', `u${i}`, payload));
    }
    for (let i = 0; i < jobs; i++)
      assert.equal((await client.nextPacket()).type, PacketType.JOB_CREATED);

    // The stuck worker asks for every job at once and never reads a byte.
    const stuck = await RawPeer.connect(server.port);
    stuck.socket.pause();
    const grabs = [request(PacketType.CAN_DO, 'slow')];
    for (let i = 0; i < jobs; i++) grabs.push(request(PacketType.GRAB_JOB));
    stuck.write(Buffer.concat(grabs));

    let status = '';
    for (let i = 0; i < 50; i++) {
      status = await admin(server.port, 'status');
      if (/^slow\t20\t0\t0$/m.test(status)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(status, /^slow\t20\t0\t0$/m, 'all jobs queued again, nobody running, no worker');
    assert.match(server.stderr(), /over the limit of \d+; dropping the connection/);

    // Another worker gets every one of them.
    const worker = await RawPeer.connect(server.port);
    worker.write(request(PacketType.CAN_DO, 'slow'));
    const seen = new Set<string>();
    for (let i = 0; i < jobs; i++) {
      worker.write(request(PacketType.GRAB_JOB));
      const assign = await worker.nextPacket();
      assert.equal(assign.type, PacketType.JOB_ASSIGN);
      assert.equal(assign.args[2]?.length, payload.length);
      seen.add(assign.args[0]?.toString() ?? '');
      worker.write(request(PacketType.WORK_COMPLETE, assign.args[0] as Buffer, ''));
    }
    assert.equal(seen.size, jobs);
    stuck.close();
    worker.close();
    client.close();
  });

  it('stops reading from a peer that floods echoes without reading, keeping memory bounded', async () => {
    const pid = server.process.pid as number;
    const baseline = rssKiB(pid);
    const flooder = await RawPeer.connect(server.port);
    flooder.socket.pause();
    const packet = request(PacketType.ECHO_REQ, Buffer.alloc(60 * 1024, 0x63));
    let written = 0;
    let stalled = false;
    const deadline = Date.now() + 8000;
    // Write as fast as the server takes it, up to 256 MiB or until it stops taking bytes.
    while (written < 256 * 1024 * 1024 && Date.now() < deadline) {
      if (!flooder.socket.write(packet)) {
        const drained = await Promise.race([
          new Promise<boolean>((r) => flooder.socket.once('drain', () => r(true))),
          new Promise<boolean>((r) => setTimeout(() => r(false), 500)),
        ]);
        if (!drained) {
          stalled = true;
          break;
        }
      }
      written += packet.length;
    }
    assert.ok(stalled, `the server stopped taking bytes (it took ${written})`);
    const grown = rssKiB(pid) - baseline;
    assert.ok(grown < 128 * 1024, `server memory grew by ${grown} KiB only`);
    // Others are still served while the flooder is stuck.
    assert.equal(await echo(server.port, 'served'), 'served');
    flooder.close();
  });
});

describe('gearbox server listeners and sockets', () => {
  it('listens on every -L address', async () => {
    const server = await startGearboxServer(['-L', '::1']);
    try {
      for (const host of ['127.0.0.1', '::1']) {
        const socket = connect({ host, port: server.port });
        await once(socket, 'connect');
        socket.write(request(PacketType.ECHO_REQ, host));
        const [reply] = (await once(socket, 'data')) as [Buffer];
        assert.equal(reply.subarray(12).toString(), host);
        socket.destroy();
      }
    } finally {
      await server.stop();
    }
  });

  it('listens with a backlog of 4096 by default and the one -b gives (bug: 32 made a burst of connections stall on SYN retransmits)', async () => {
    for (const [flags, backlog] of [
      [[], 4096],
      [['-b', '100'], 100],
    ] as const) {
      const server = await startGearboxServer(flags);
      try {
        // For a listening socket, ss shows the backlog in the Send-Q column.
        const ss = await runListeningSs(server.port);
        const columns = ss.trim().split(/\s+/);
        assert.equal(Number(columns[2]), Math.min(backlog, somaxconn()), ss);
      } finally {
        await server.stop();
      }
    }
  });

  it('turns TCP keepalive on for accepted sockets with --keepalive', async () => {
    for (const keepalive of [false, true]) {
      const server = await startGearboxServer(
        keepalive ? ['--keepalive', '--keepalive-idle', '77'] : [],
      );
      try {
        const peer = await RawPeer.connect(server.port);
        peer.write(request(PacketType.ECHO_REQ, 'x'));
        await peer.nextPacket();
        const local = peer.socket.localPort ?? 0;
        // The server's side of this connection: source port = server port, peer = our port.
        const ss = await runSs(`( sport = :${server.port} and dport = :${local} )`);
        assert.ok(ss.includes(`127.0.0.1:${server.port}`), ss);
        if (keepalive) assert.match(ss, /timer:\(keepalive,1min\d+sec/);
        else assert.doesNotMatch(ss, /keepalive/);
        peer.close();
      } finally {
        await server.stop();
      }
    }
  });
});

describe('gearbox server process lifecycle', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'gearbox-net-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('writes the pid file, and on SIGTERM exits 0 and removes it', async () => {
    const pidFile = join(dir, 'server.pid');
    const server = await startGearboxServer([
      '-P',
      pidFile,
      '-l',
      join(dir, 'log'),
      '--verbose=INFO',
    ]);
    // Written once listening, which can be a moment after the port first accepts.
    for (let i = 0; i < 100 && !existsSync(pidFile); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(readFileSync(pidFile, 'utf8').trim(), String(server.process.pid));
    const peer = await RawPeer.connect(server.port);
    await server.stop('SIGTERM');
    const { code, signal } = await server.exited;
    assert.equal(signal, null);
    assert.equal(code, 0);
    assert.equal(existsSync(pidFile), false, 'pid file removed');
    assert.equal(await peer.closesWithin(1000), true, 'open connections are closed');
    const log = readFileSync(join(dir, 'log'), 'utf8');
    assert.match(
      log,
      /^ +INFO \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} \[ +main \] Listening on 127\.0\.0\.1:/m,
    );
    assert.match(log, /server stopped/);
  });

  it('uses the SQLite default queue in GEARBOX_DATA_DIR without queue flags', async () => {
    const server = await startGearboxServer(['--verbose', 'INFO']);
    await server.stop();
    assert.match(server.stderr(), /opening sqlite:\S*gearbox-data-\w+\/queue\.sqlite/);
  });

  it('keeps background jobs across a restart with -q libsqlite3 (gearmand flags)', async () => {
    const flags = ['-q', 'libsqlite3', '--libsqlite3-db', join(dir, 'queue.db')];
    const first = await startGearboxServer(flags);
    const client = await RawPeer.connect(first.port);
    client.write(request(PacketType.SUBMIT_JOB_HIGH_BG, 'kept', 'k1', 'payload'));
    assert.equal((await client.nextPacket()).type, PacketType.JOB_CREATED);
    await first.stop();
    const second = await startGearboxServer(flags);
    try {
      assert.match(await admin(second.port, 'prioritystatus'), /^kept\t1\t0\t0\t0$/m);
    } finally {
      await second.stop();
    }
  });

  it('stops on admin shutdown from loopback, after answering OK', async () => {
    const server = await startGearboxServer();
    const peer = await RawPeer.connect(server.port, 'text');
    peer.write('shutdown\r\n');
    assert.equal(await peer.readUntil('\r\n'), 'OK\r\n');
    const { code } = await server.exited;
    assert.equal(code, 0);
  });

  it('on shutdown graceful, refuses new connections and waits for the running job', async () => {
    const server = await startGearboxServer(['-q', 'builtin']);
    const worker = await RawPeer.connect(server.port);
    const client = await RawPeer.connect(server.port);
    worker.write(Buffer.concat([request(PacketType.CAN_DO, 'g'), request(PacketType.GRAB_JOB)]));
    assert.equal((await worker.nextPacket()).type, PacketType.NO_JOB);
    client.write(request(PacketType.SUBMIT_JOB, 'g', '', 'work'));
    assert.equal((await client.nextPacket()).type, PacketType.JOB_CREATED);
    worker.write(request(PacketType.GRAB_JOB));
    const assign = await worker.nextPacket();
    assert.equal(assign.type, PacketType.JOB_ASSIGN);

    const adminPeer = await RawPeer.connect(server.port, 'text');
    adminPeer.write('shutdown graceful\n');
    assert.equal(await adminPeer.readUntil('\r\n'), 'OK\r\n');
    await assert.rejects(
      new Promise((resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port: server.port });
        socket.once('connect', () => {
          socket.destroy();
          resolve(undefined);
        });
        socket.once('error', reject);
      }),
      /ECONNREFUSED/,
      'the listener is closed',
    );
    assert.equal(server.process.exitCode, null, 'still running while the job runs');
    worker.write(request(PacketType.WORK_COMPLETE, assign.args[0] as Buffer, 'done'));
    const complete = await client.nextPacket();
    assert.equal(complete.type, PacketType.WORK_COMPLETE);
    assert.equal(complete.args[1]?.toString(), 'done');
    const { code } = await server.exited;
    assert.equal(code, 0);
  });

  it('survives peers that reset their connection with unread replies', async () => {
    const server = await startGearboxServer(['-q', 'builtin']);
    try {
      for (let i = 0; i < 20; i++) {
        const peer = await RawPeer.connect(server.port);
        peer.write(request(PacketType.ECHO_REQ, Buffer.alloc(200_000)));
        peer.write(request(PacketType.SUBMIT_JOB, 'reset', '', 'x'));
        await new Promise((r) => setTimeout(r, 5));
        peer.socket.resetAndDestroy();
      }
      assert.equal(await echo(server.port, 'alive'), 'alive');
      // As in gearmand, jobs whose client vanished are skipped (and freed) when a worker grabs.
      const worker = await RawPeer.connect(server.port);
      worker.write(
        Buffer.concat([request(PacketType.CAN_DO, 'reset'), request(PacketType.GRAB_JOB)]),
      );
      assert.equal((await worker.nextPacket()).type, PacketType.NO_JOB);
      assert.match(await admin(server.port, 'status'), /^reset\t0\t0\t1$/m);
      worker.close();
    } finally {
      await server.stop();
    }
  });

  it(
    'switches to the -u user once listening',
    { skip: process.getuid?.() === 0 ? false : 'needs root to switch users' },
    async () => {
      const server = await startGearboxServer(['-q', 'builtin', '-u', 'nobody']);
      try {
        // The port accepts connections from the listen() call on, a moment before the switch.
        let uid: RegExpExecArray | null = null;
        for (let i = 0; i < 100; i++) {
          const status = readFileSync(`/proc/${server.process.pid}/status`, 'utf8');
          uid = /^Uid:\s+(\d+)\s+(\d+)/m.exec(status);
          if (uid && uid[1] !== '0') break;
          await new Promise((r) => setTimeout(r, 50));
        }
        assert.ok(uid && uid[1] !== '0' && uid[2] !== '0', `running as ${uid?.[0] ?? '?'}`);
        assert.equal(await echo(server.port, 'unprivileged'), 'unprivileged');
      } finally {
        await server.stop();
      }
    },
  );

  it('fails clearly when the port is taken', async () => {
    const first = await startGearboxServer();
    try {
      await assert.rejects(
        startGearboxServer(['-p', String(first.port)]).then((s) => s.stop()),
        /exited with 1: gearbox server: cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/,
      );
    } finally {
      await first.stop();
    }
  });
});

describe('gearbox server --fail-on-timeout', () => {
  it('ends a job whose CAN_DO_TIMEOUT expires with WORK_FAIL to its client', async () => {
    const server = await startGearboxServer(['--fail-on-timeout']);
    try {
      const worker = await RawPeer.connect(server.port);
      worker.write(request(PacketType.CAN_DO_TIMEOUT, 'sleepy', '1000'));
      const client = await RawPeer.connect(server.port);
      client.write(request(PacketType.SUBMIT_JOB, 'sleepy', '', 'x'));
      const created = await client.nextPacket();
      assert.equal(created.type, PacketType.JOB_CREATED);
      worker.write(request(PacketType.GRAB_JOB));
      assert.equal((await worker.nextPacket()).type, PacketType.JOB_ASSIGN);
      // The worker never answers; a second after the assignment the client is told.
      const failed = await client.nextPacket(5000);
      assert.equal(failed.type, PacketType.WORK_FAIL);
      assert.equal(failed.args[0]?.toString(), created.args[0]?.toString());
      worker.close();
      client.close();
    } finally {
      await server.stop();
    }
  });
});
