/**
 * Issue 9, "memory that stays after a large payload": once a large job has ended, nothing in the
 * server may still reference its payload. The server runs in this process and the test reads
 * `process.memoryUsage().arrayBuffers` after forced full collections (every Buffer's bytes,
 * the SQLite writer thread's transferred batches included), so a payload still referenced
 * anywhere — a Job, an index, a decoder, an output queue, a store batch — shows up as its size.
 * No timing is asserted: a collection is forced before every reading.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { after, before, describe, it } from 'node:test';
import { PacketType, request } from '../../../src/protocol/index.js';
import { startServer, type GearboxServer } from '../../../src/server/start-server.js';
import { SqliteStore } from '../../../src/storage/sqlite-store.js';
import { RawPeer } from '../../helpers/raw-peer.js';

const PAYLOAD = 32 * 1024 * 1024;
/** What may remain of a payload: far less than one copy of it. */
const SLACK = PAYLOAD / 4;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
setFlagsFromString('--no-expose-gc');

/** ArrayBuffer bytes still referenced, after full collections. */
async function liveArrayBuffers(): Promise<number> {
  // Let pending socket callbacks and the SQLite thread's answers run first.
  await new Promise((resolve) => setTimeout(resolve, 50));
  gc();
  gc();
  return process.memoryUsage().arrayBuffers;
}

/** Submits one payload of PAYLOAD bytes; the payload itself is not kept by the test. */
function submitLarge(client: RawPeer, type: PacketType, fn: string): void {
  client.write(request(type, fn, '', Buffer.alloc(PAYLOAD, 0x61)));
}

async function expectPacket(peer: RawPeer, type: PacketType, timeoutMs = 20_000): Promise<Buffer> {
  const packet = await peer.nextPacket(timeoutMs);
  assert.equal(packet.type, type, `expected packet ${type}, got ${packet.type}`);
  return packet.args[0] as Buffer;
}

/** A worker takes the one job of `fn` and completes it, echoing the payload back. */
async function workOne(port: number, fn: string): Promise<void> {
  const worker = await RawPeer.connect(port);
  try {
    worker.write(Buffer.concat([request(PacketType.CAN_DO, fn), request(PacketType.GRAB_JOB)]));
    const assign = await worker.nextPacket(20_000);
    assert.equal(assign.type, PacketType.JOB_ASSIGN);
    assert.equal(assign.args[2]?.length, PAYLOAD);
    worker.write(request(PacketType.WORK_COMPLETE, assign.args[0] as Buffer, assign.args[2]));
    // The server has handled WORK_COMPLETE once it answers the next grab.
    worker.write(request(PacketType.GRAB_JOB));
    await expectPacket(worker, PacketType.NO_JOB);
  } finally {
    worker.close();
  }
}

async function resultLength(client: RawPeer): Promise<number | undefined> {
  const result = await client.nextPacket(20_000);
  assert.equal(result.type, PacketType.WORK_COMPLETE);
  return result.args[1]?.length;
}

async function closed(peer: RawPeer): Promise<void> {
  peer.close();
  await peer.closed;
}

describe('issue 9: no reference to a large payload outlives its job', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'gearbox-large-payload-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function withServer(
    store: SqliteStore | undefined,
    body: (server: GearboxServer) => Promise<void>,
  ): Promise<void> {
    const server = await startServer(
      { listen: ['127.0.0.1'], port: 0, logFile: 'none' },
      store === undefined ? {} : { store },
    );
    try {
      await body(server);
    } finally {
      await server.close();
    }
  }

  it('a foreground job echoed by its worker leaves nothing behind', async () => {
    await withServer(undefined, async (server) => {
      const client = await RawPeer.connect(server.port);
      const baseline = await liveArrayBuffers();
      submitLarge(client, PacketType.SUBMIT_JOB, 'fg');
      await expectPacket(client, PacketType.JOB_CREATED);
      await workOne(server.port, 'fg');
      // Only the result's length is kept, so the test itself holds no copy.
      assert.equal(await resultLength(client), PAYLOAD);
      const left = (await liveArrayBuffers()) - baseline;
      assert.ok(left < SLACK, `${left} bytes still referenced after the job ended`);
      await closed(client);
    });
  });

  it('a foreground job its client gave up on drops its payload while it waits in the queue', async () => {
    await withServer(undefined, async (server) => {
      const baseline = await liveArrayBuffers();
      const client = await RawPeer.connect(server.port);
      submitLarge(client, PacketType.SUBMIT_JOB, 'nobody-works-this');
      await expectPacket(client, PacketType.JOB_CREATED);
      await closed(client);
      // The job stays listed (gearmand counts it until a worker's grab skips it), but will never run.
      const admin = await RawPeer.connect(server.port, 'text');
      admin.write('status\n');
      assert.match(await admin.readUntil('\n.\n'), /^nobody-works-this\t1\t0\t0\n/m);
      admin.close();
      const left = (await liveArrayBuffers()) - baseline;
      assert.ok(left < SLACK, `${left} bytes still referenced by an abandoned job`);
    });
  });

  it('a durable background job keeps one copy while queued, and none once done (SQLite)', async () => {
    const store = new SqliteStore({ file: join(dir, 'queue.sqlite') });
    await withServer(store, async (server) => {
      const client = await RawPeer.connect(server.port);
      const baseline = await liveArrayBuffers();
      submitLarge(client, PacketType.SUBMIT_JOB_BG, 'bg');
      await expectPacket(client, PacketType.JOB_CREATED);
      const queued = (await liveArrayBuffers()) - baseline;
      assert.ok(
        queued < PAYLOAD + SLACK,
        `${queued} bytes referenced for one queued ${PAYLOAD}-byte job: more than one copy`,
      );
      await workOne(server.port, 'bg');
      // The removal has committed once a later add has: the thread applies batches in order.
      client.write(request(PacketType.SUBMIT_JOB_BG, 'bg-marker', 'm', 'x'));
      await expectPacket(client, PacketType.JOB_CREATED);
      const left = (await liveArrayBuffers()) - baseline;
      assert.ok(left < SLACK, `${left} bytes still referenced after the job ended`);
      await closed(client);
    });
  });
});
