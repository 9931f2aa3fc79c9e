/**
 * A store that refuses a job (Redis cannot keep epoch jobs, as in gearmand): the submitter gets
 * `ERROR QUEUE_ERROR <reason>`, the server logs it and goes on serving. Real Redis.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { PacketType, request } from '../../../src/protocol/index.js';
import { skipUnless, serviceUrls } from '../../helpers/services.js';
import { startGearboxServer } from '../../helpers/gearbox-cli.js';
import { RawPeer } from '../../helpers/raw-peer.js';
import { freePort, startProcess, type RunningServer } from '../../helpers/processes.js';

const skip = await skipUnless('server store failure (redis)', 'redis');

describe('gearbox server when the store refuses a job', { skip }, () => {
  it('answers ERROR QUEUE_ERROR, logs it, and keeps serving', async () => {
    const redis = new URL(serviceUrls.redis);
    const prefix = `gbnet_${randomBytes(4).toString('hex')}_`;
    const server = await startGearboxServer([
      '-q',
      'redis',
      '--redis-server',
      redis.hostname,
      '--redis-port',
      redis.port || '6379',
      '--redis-prefix',
      prefix,
    ]);
    try {
      const client = await RawPeer.connect(server.port);
      const later = String(Math.floor(Date.now() / 1000) + 3600);
      client.write(request(PacketType.SUBMIT_JOB_EPOCH, 'timed', 'e1', later, 'x'));
      const error = await client.nextPacket();
      assert.equal(error.type, PacketType.ERROR);
      assert.equal(error.args[0]?.toString(), 'QUEUE_ERROR');
      assert.match(error.args[1]?.toString() ?? '', /cannot keep epoch jobs/);

      client.write(request(PacketType.SUBMIT_JOB_BG, 'plain', 'p1', 'y'));
      const created = await client.nextPacket();
      assert.equal(created.type, PacketType.JOB_CREATED);

      const worker = await RawPeer.connect(server.port);
      worker.write(
        Buffer.concat([request(PacketType.CAN_DO, 'plain'), request(PacketType.GRAB_JOB)]),
      );
      const assign = await worker.nextPacket();
      assert.equal(assign.type, PacketType.JOB_ASSIGN);
      worker.write(request(PacketType.WORK_COMPLETE, assign.args[0] as Buffer, ''));
      worker.write(request(PacketType.ECHO_REQ, 'sync'));
      assert.equal((await worker.nextPacket()).type, PacketType.ECHO_RES);
      client.close();
      worker.close();
    } finally {
      await server.stop();
    }
    assert.match(
      server.stderr(),
      /ERROR .*store: cannot add job timed\/e1: .*cannot keep epoch jobs/,
    );
  });
});

const skipOutage = await skipUnless('server store outage (a redis-server of its own)', 'redis');

/** A redis-server of the test's own on `port`, so the test may kill it. */
function startOwnRedis(port: number): Promise<RunningServer> {
  return startProcess(
    'redis-server',
    ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no'],
    port,
  );
}

describe('gearbox server during a store outage', { skip: skipOutage }, () => {
  it('logs the outage once and then counts, instead of a line per refused job (bug: a log flood)', async () => {
    const port = await freePort();
    let redis = await startOwnRedis(port);
    const server = await startGearboxServer([
      '--store',
      `redis://127.0.0.1:${port}`,
      '--verbose',
      'NOTICE',
    ]);
    try {
      const client = await RawPeer.connect(server.port);
      client.write(request(PacketType.SUBMIT_JOB_BG, 'f', 'before', 'x'));
      assert.equal((await client.nextPacket()).type, PacketType.JOB_CREATED);
      await redis.stop('SIGKILL');
      const refused = 2000;
      const batch: Buffer[] = [];
      for (let i = 0; i < refused; i++)
        batch.push(request(PacketType.SUBMIT_JOB_BG, 'f', `o${i}`, 'x'));
      client.write(Buffer.concat(batch));
      for (let i = 0; i < refused; i++) {
        const reply = await client.nextPacket();
        assert.equal(reply.type, PacketType.ERROR);
        assert.equal(reply.args[0]?.toString(), 'QUEUE_ERROR');
      }
      const during = server
        .stderr()
        .split('\n')
        .filter((l) => /cannot add job|job\(s\) refused/.test(l));
      assert.ok(
        during.length >= 1 && during.length <= 3,
        `a few lines, not one per job:\n${during.join('\n')}`,
      );
      redis = await startOwnRedis(port);
      let created = false;
      for (let i = 0; i < 100 && !created; i++) {
        client.write(request(PacketType.SUBMIT_JOB_BG, 'f', `after${i}`, 'x'));
        created = (await client.nextPacket()).type === PacketType.JOB_CREATED;
        if (!created) await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(created, 'accepted again once Redis is back');
      assert.match(server.stderr(), /store: accepting background jobs again after \d+ refused/);
      client.close();
    } finally {
      await server.stop();
      await redis.stop();
    }
  });
});
