/**
 * The core's timers run on the core's clock: the shell measures each delay on the clock the
 * core used to compute its time, whatever that clock says about the wall.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PacketType, request } from '../../../src/protocol/index.js';
import { Timers } from '../../../src/server/net/timers.js';
import { startServer } from '../../../src/server/start-server.js';
import { eventually } from '../../helpers/lib-servers.js';
import { RawPeer } from '../../helpers/raw-peer.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('Timers', () => {
  it('fire when the given clock reaches their time, not the wall clock', async () => {
    // A clock ten days ahead of the wall: a delay measured on Date.now() would be ten days.
    const ahead = { now: () => Date.now() + 10 * 86_400_000 };
    const fired: string[] = [];
    const timers = new Timers(ahead, (key) => fired.push(key));
    timers.arm('soon', ahead.now() + 20);
    await eventually(() => fired.length === 1, 2000, 'the timer fired');
    assert.deepEqual(fired, ['soon']);
  });

  it('wait for a clock that is held back, and fire once it moves on', async () => {
    let now = 1_000_000;
    const fired: string[] = [];
    const timers = new Timers({ now: () => now }, (key) => fired.push(key));
    timers.arm('held', now + 20);
    await sleep(120);
    assert.deepEqual(fired, [], 'not due while the clock stands still');
    now += 20;
    await eventually(() => fired.length === 1, 2000, 'fired after the clock moved');
    timers.clearAll();
  });

  it('re-arming replaces the time, and clear() disarms', async () => {
    const fired: string[] = [];
    const clock = { now: () => Date.now() };
    const timers = new Timers(clock, (key) => fired.push(key));
    timers.arm('a', clock.now() + 10_000);
    timers.arm('a', clock.now() + 10);
    timers.arm('b', clock.now() + 10);
    timers.clear('b');
    await eventually(() => fired.length === 1, 2000, 'a fired');
    await sleep(50);
    assert.deepEqual(fired, ['a']);
  });
});

describe('gearbox server on an injected clock', () => {
  it('a delayed job comes due on the server clock (bug: the shell armed its timers on Date.now())', async () => {
    const hourAhead = { now: () => Date.now() + 3_600_000 };
    const server = await startServer(
      { listen: ['127.0.0.1'], port: 0, logFile: 'none' },
      { clock: hourAhead },
    );
    try {
      const worker = await RawPeer.connect(server.port);
      worker.write(request(PacketType.CAN_DO, 'later'));
      worker.write(request(PacketType.PRE_SLEEP));
      const client = await RawPeer.connect(server.port);
      // Due in a second or two on the server's clock, an hour from now on the wall's.
      const epoch = String(Math.floor(hourAhead.now() / 1000) + 1);
      client.write(request(PacketType.SUBMIT_JOB_EPOCH, 'later', 'u1', epoch, 'payload'));
      assert.equal((await client.nextPacket()).type, PacketType.JOB_CREATED);
      assert.equal((await worker.nextPacket(5000)).type, PacketType.NOOP, 'woken when due');
      worker.write(request(PacketType.GRAB_JOB_UNIQ));
      const assign = await worker.nextPacket();
      assert.equal(assign.type, PacketType.JOB_ASSIGN_UNIQ);
      assert.equal(assign.args[3]?.toString(), 'payload');
      worker.close();
      client.close();
    } finally {
      await server.close();
    }
  });
});
