import { Frames, Magic, PacketType, encodePacket, request } from '../../src/protocol/index.js';
import { unexpectedPacket } from './bench-error.js';
import { RawConnection } from './raw-connection.js';
import { wallClockMs, type PreparedTask, type WorkerGroupTask } from './tasks.js';

/*
 * Each worker runs the loop every Gearman worker library runs:
 *
 *   CAN_DO, GRAB_JOB ─▶ JOB_ASSIGN ─▶ WORK_COMPLETE + GRAB_JOB (again)
 *                    └▶ NO_JOB     ─▶ PRE_SLEEP ─▶ (asleep) ─▶ NOOP ─▶ GRAB_JOB
 *
 * The group is ready once every worker has seen its first NO_JOB (so its CAN_DO is known to the
 * server and it is asleep), and done once the group has completed `target` jobs.
 */

/** Connects the workers of a {@link WorkerGroupTask} and puts them to sleep. */
export async function prepareWorkerGroup(task: WorkerGroupTask): Promise<PreparedTask> {
  const result = Buffer.alloc(task.resultBytes, 0x62);
  let grabbed = 0;
  let completed = 0;
  let startedAt = 0;
  let finish: ((at: number) => void) | undefined;
  let abort: ((err: Error) => void) | undefined;
  const outcome = new Promise<number>((resolve, reject) => {
    finish = resolve;
    abort = reject;
  });
  // Nobody awaits `outcome` until start(); a failure before that is reported through ready.
  outcome.catch(() => undefined);

  const readiness: Promise<void>[] = [];
  const connections: RawConnection[] = [];
  for (let i = 0; i < task.count; i++) {
    let markReady: (() => void) | undefined;
    readiness.push(new Promise<void>((resolve) => (markReady = resolve)));
    const connection: RawConnection = await RawConnection.open(task.port, (packet) => {
      switch (packet.type) {
        case PacketType.JOB_ASSIGN: {
          grabbed++;
          const handle = packet.args[0] as Buffer;
          connection.send(encodePacket(Magic.REQ, PacketType.WORK_COMPLETE, [handle, result]));
          completed++;
          if (completed >= task.target) finish?.(wallClockMs());
          else connection.send(Frames.GRAB_JOB);
          return;
        }
        case PacketType.NO_JOB:
          markReady?.();
          markReady = undefined;
          connection.send(Frames.PRE_SLEEP);
          return;
        case PacketType.NOOP:
          if (completed < task.target) connection.send(Frames.GRAB_JOB);
          return;
        default:
          abort?.(unexpectedPacket('worker', packet));
      }
    });
    connection.onFailure((err) => abort?.(err));
    connections.push(connection);
    connection.send(
      Buffer.concat([request(PacketType.CAN_DO, task.functionName), Frames.GRAB_JOB]),
    );
  }
  await Promise.race([Promise.all(readiness), outcome]);

  return {
    async start() {
      startedAt = wallClockMs();
      const finishedAt = task.target === 0 ? startedAt : await outcome;
      return { kind: 'workers', sent: grabbed, counted: completed, startedAt, finishedAt };
    },
    close() {
      for (const c of connections) c.close();
    },
  };
}
