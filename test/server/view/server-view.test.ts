/**
 * A running server's view and its cancel-by-handle, in process with real sockets and a real
 * SQLite store: what an observer (metrics, dashboard, API) reads, and a cancel whose effects the
 * I/O shell applies like any admin command's.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { PacketType, request } from '../../../src/protocol/index.js';
import { startServer, type GearboxServer } from '../../../src/server/start-server.js';
import { SqliteStore } from '../../../src/storage/sqlite-store.js';
import { RawPeer } from '../../helpers/raw-peer.js';

function rowCount(file: string): number {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM gearman_queue').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

/** Waits (bounded) until `check` holds. */
async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 250 && !check(); i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(check(), what);
}

describe('GearboxServer: view and cancelJob', () => {
  let dir: string;
  let file: string;
  let server: GearboxServer;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gearbox-view-'));
    file = join(dir, 'queue.sqlite');
    server = await startServer(
      { listen: ['127.0.0.1'], port: 0, logFile: 'none', jobHandlePrefix: 'H:view' },
      { store: new SqliteStore({ file }) },
    );
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows functions, connections by kind and jobs of the live server', async () => {
    const client = await RawPeer.connect(server.port);
    const worker = await RawPeer.connect(server.port);
    const admin = await RawPeer.connect(server.port, 'text');
    try {
      worker.write(request(PacketType.CAN_DO, 'other'));
      worker.write(request(PacketType.ECHO_REQ, 'sync'));
      assert.equal((await worker.nextPacket()).type, PacketType.ECHO_RES);
      client.write(request(PacketType.SUBMIT_JOB_HIGH_BG, 'resize', 'img-1', 'pixels'));
      const created = await client.nextPacket();
      assert.equal(created.type, PacketType.JOB_CREATED);
      const handle = created.args[0]?.toString() ?? '';
      admin.write('status\n');
      await admin.readUntil('.\n');
      const view = server.view;
      assert.equal(view.storeDescription, server.storeDescription);
      const resize = view.function('resize');
      assert.deepEqual(resize?.queued, { high: 1, normal: 0, low: 0 });
      assert.equal(resize?.counters.created, 1);
      assert.deepEqual(
        [...view.peers()].map((p) => [p.kind, p.address]),
        [
          ['client', '127.0.0.1'],
          ['worker', '127.0.0.1'],
          ['admin', '127.0.0.1'],
        ],
      );
      assert.deepEqual(view.totals().connectionsByKind, {
        none: 0,
        admin: 1,
        client: 1,
        worker: 1,
      });
      const job = view.job(handle);
      assert.deepEqual(
        [job?.functionName, job?.unique, job?.state, job?.background, job?.preview.toString()],
        ['resize', 'img-1', 'queued', true, 'pixels'],
      );
      assert.deepEqual(
        view.jobs({ function: 'resize' }).jobs.map((j) => j.handle),
        [handle],
      );
      assert.ok(server.cancelJob(handle));
      await until(() => rowCount(file) === 0, 'the cancelled job left the store');
    } finally {
      client.close();
      worker.close();
      admin.close();
    }
  });

  it('cancels a queued foreground job: its client gets WORK_FAIL, and no worker gets the job', async () => {
    const client = await RawPeer.connect(server.port);
    const worker = await RawPeer.connect(server.port);
    try {
      client.write(request(PacketType.SUBMIT_JOB, 'slow', '', 'x'));
      const handle = (await client.nextPacket()).args[0]?.toString() ?? '';
      assert.equal(server.view.job(handle)?.state, 'queued');
      assert.equal(server.cancelJob(handle), true);
      const fail = await client.nextPacket();
      assert.equal(fail.type, PacketType.WORK_FAIL);
      assert.equal(fail.args[0]?.toString(), handle);
      assert.equal(server.view.job(handle)?.state, 'ignored');
      assert.equal(server.cancelJob(handle), false, 'a job is cancelled once');
      assert.equal(server.cancelJob('H:view:999999'), false);
      assert.equal(server.cancelJob('not a handle'), false);
      worker.write(request(PacketType.CAN_DO, 'slow'));
      worker.write(request(PacketType.GRAB_JOB));
      assert.equal((await worker.nextPacket()).type, PacketType.NO_JOB);
      assert.equal(server.view.job(handle), undefined);
    } finally {
      client.close();
      worker.close();
    }
  });
});
