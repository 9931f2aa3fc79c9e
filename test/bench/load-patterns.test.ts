import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import {
  Decoder,
  Frames,
  PacketType,
  packetName,
  response,
  type Packet,
} from '../../src/protocol/index.js';
import { prepareBackgroundSubmit } from '../../bench/lib/background-submitter.js';
import { prepareForegroundClients } from '../../bench/lib/foreground-clients.js';
import { prepareWorkerGroup } from '../../bench/lib/worker-group.js';

/**
 * A stand-in server that records every packet of its one connection and answers only what the
 * test tells it to, so a test can hold replies back and watch what the load generator does.
 */
class HoldingServer {
  readonly packets: Packet[] = [];
  private socket: Socket | undefined;
  private wake: (() => void) | undefined;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly auto: (p: Packet, reply: (b: Buffer) => void) => void,
  ) {
    server.on('connection', (socket) => {
      this.socket = socket;
      const decoder = new Decoder({
        packet: (p) => {
          this.packets.push({ ...p, args: p.args.map((a) => Buffer.from(a)) });
          this.auto(p, (b) => socket.write(b));
          this.wake?.();
        },
        text: () => undefined,
      });
      socket.on('data', (chunk: Buffer) => decoder.push(chunk));
      socket.on('error', () => undefined);
    });
  }

  static async start(
    auto: (p: Packet, reply: (b: Buffer) => void) => void = () => undefined,
  ): Promise<HoldingServer> {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    assert.ok(address !== null && typeof address === 'object');
    return new HoldingServer(server, address.port, auto);
  }

  count(type: PacketType): number {
    return this.packets.filter((p) => p.type === type).length;
  }

  /** Waits until `n` packets of `type` have arrived, then `quietMs` more to see nothing else does. */
  async settle(type: PacketType, n: number, quietMs = 150): Promise<number> {
    const deadline = Date.now() + 5000;
    while (this.count(type) < n && Date.now() < deadline)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    return this.quiet(type, quietMs);
  }

  /** How many packets of `type` there are after `ms` more. */
  async quiet(type: PacketType, ms = 150): Promise<number> {
    await new Promise((r) => setTimeout(r, ms));
    return this.count(type);
  }

  send(bytes: Buffer): void {
    this.socket?.write(bytes);
  }

  async close(): Promise<void> {
    this.socket?.destroy();
    this.server.close();
    await once(this.server, 'close');
  }
}

const created = (n: number): Buffer => response(PacketType.JOB_CREATED, `H:test:${n}`);

let fake: HoldingServer | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

describe('load patterns of the bench generator, on the wire', () => {
  it('libgearman background submits: a batch of 100, then nothing until all 100 JOB_CREATED are in', async () => {
    fake = await HoldingServer.start();
    const task = await prepareBackgroundSubmit({
      kind: 'bg-submit',
      port: fake.port,
      functionName: 'f',
      connections: 1,
      jobsPerConnection: 250,
      payloadBytes: 100,
      window: 100,
      uniques: 'distinct',
      pattern: 'libgearman',
    });
    const running = task.start();
    assert.equal(await fake.settle(PacketType.SUBMIT_JOB_BG, 100), 100);
    for (let i = 0; i < 99; i++) fake.send(created(i));
    assert.equal(await fake.quiet(PacketType.SUBMIT_JOB_BG), 100, 'sent before the batch was done');
    fake.send(created(99));
    assert.equal(await fake.settle(PacketType.SUBMIT_JOB_BG, 200), 200);
    for (let i = 100; i < 200; i++) fake.send(created(i));
    assert.equal(await fake.settle(PacketType.SUBMIT_JOB_BG, 250), 250);
    for (let i = 200; i < 250; i++) fake.send(created(i));
    const result = await running;
    task.close();
    assert.deepEqual([result.sent, result.counted], [250, 250]);
  });

  it('streaming background submits refill the window as soon as a write’s worth is acknowledged', async () => {
    fake = await HoldingServer.start();
    const task = await prepareBackgroundSubmit({
      kind: 'bg-submit',
      port: fake.port,
      functionName: 'f',
      connections: 1,
      jobsPerConnection: 100,
      payloadBytes: 10,
      window: 40,
      uniques: 'empty',
    });
    const running = task.start();
    assert.equal(await fake.settle(PacketType.SUBMIT_JOB_BG, 40), 40);
    // A quarter of the window (10) leaves per write, so 10 replies make room for 10 more.
    for (let i = 0; i < 10; i++) fake.send(created(i));
    assert.equal(await fake.settle(PacketType.SUBMIT_JOB_BG, 50), 50);
    for (let i = 10; i < 100; i++) fake.send(created(i));
    const result = await running;
    task.close();
    assert.equal(result.counted, 100);
  });

  it('libgearman foreground clients send the next batch only once every job of the last has completed', async () => {
    let handle = 0;
    const handles: string[] = [];
    fake = await HoldingServer.start((p, reply) => {
      if (p.type !== PacketType.SUBMIT_JOB) return;
      const h = `H:test:${handle++}`;
      handles.push(h);
      reply(response(PacketType.JOB_CREATED, h));
    });
    const task = await prepareForegroundClients({
      kind: 'fg-clients',
      port: fake.port,
      functionName: 'f',
      count: 1,
      jobsPerClient: 150,
      window: 100,
      payloadBytes: 100,
      uniques: 'distinct',
      recordLatency: true,
      pattern: 'libgearman',
    });
    const running = task.start();
    const complete = (from: number, to: number): void => {
      for (let i = from; i < to; i++)
        fake?.send(response(PacketType.WORK_COMPLETE, handles[i] as string, 'r'));
    };
    assert.equal(await fake.settle(PacketType.SUBMIT_JOB, 100), 100);
    complete(0, 99);
    assert.equal(await fake.quiet(PacketType.SUBMIT_JOB), 100, 'sent before the batch was done');
    complete(99, 100);
    assert.equal(await fake.settle(PacketType.SUBMIT_JOB, 150), 150);
    complete(100, 150);
    const result = await running;
    task.close();
    assert.equal(result.counted, 150);
    assert.equal(result.latenciesUs?.length, 150);
  });

  it('libgearman workers register every function, grab with GRAB_JOB_ALL and take JOB_ASSIGN_UNIQ', async () => {
    const queued: string[] = [];
    fake = await HoldingServer.start((p, reply) => {
      if (p.type !== PacketType.GRAB_JOB_ALL) return;
      const job = queued.shift();
      reply(
        job === undefined
          ? Frames.NO_JOB
          : response(PacketType.JOB_ASSIGN_UNIQ, job, 'f-00001', `u-${job}`, 'payload'),
      );
    });
    const task = await prepareWorkerGroup({
      kind: 'workers',
      port: fake.port,
      functionName: 'f',
      functions: 3,
      count: 1,
      target: 2,
      resultBytes: 3,
      pattern: 'libgearman',
    });
    // Ready means asleep: CAN_DOs, a grab answered by NO_JOB, PRE_SLEEP.
    assert.equal(await fake.settle(PacketType.PRE_SLEEP, 1, 50), 1);
    const running = task.start();
    queued.push('H:test:1', 'H:test:2');
    fake.send(Frames.NOOP);
    const result = await running;
    await fake.settle(PacketType.WORK_COMPLETE, 2, 50);
    task.close();
    assert.equal(result.counted, 2);
    assert.deepEqual(
      fake.packets.map((p) => [packetName(p.type), ...p.args.map((a) => a.toString())]),
      [
        ['CAN_DO', 'f-00000'],
        ['CAN_DO', 'f-00001'],
        ['CAN_DO', 'f-00002'],
        ['GRAB_JOB_ALL'],
        ['PRE_SLEEP'],
        ['GRAB_JOB_ALL'],
        ['WORK_COMPLETE', 'H:test:1', 'bbb'],
        ['GRAB_JOB_ALL'],
        ['WORK_COMPLETE', 'H:test:2', 'bbb'],
      ],
    );
  });
});
