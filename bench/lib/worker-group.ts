import { Frames, Magic, PacketType, encodePacket, request } from '../../src/protocol/index.js';
import { unexpectedPacket } from './bench-error.js';
import { RawConnection, openInGroups } from './raw-connection.js';
import { functionNameAt, wallClockMs, type PreparedTask, type WorkerGroupTask } from './tasks.js';

/*
 * Each worker runs the loop every Gearman worker library runs:
 *
 *   CAN_DO, GRAB ─▶ JOB_ASSIGN ─▶ WORK_COMPLETE + GRAB (again)
 *                └▶ NO_JOB     ─▶ PRE_SLEEP ─▶ (asleep) ─▶ NOOP ─▶ GRAB
 *
 * GRAB is GRAB_JOB (answered by JOB_ASSIGN) in the stream pattern; in the libgearman pattern it
 * is GRAB_JOB_ALL (answered by JOB_ASSIGN_UNIQ, or JOB_ASSIGN_ALL for a reduce job), as
 * libgearman's workers send, and every packet is its own write. The group is ready once every
 * worker has seen its first NO_JOB (so its CAN_DOs are known to the server and it is asleep),
 * and done once the group has completed `target` jobs.
 */

/** Connects the workers of a {@link WorkerGroupTask} and puts them to sleep. */
export async function prepareWorkerGroup(task: WorkerGroupTask): Promise<PreparedTask> {
  const libgearman = task.pattern === 'libgearman';
  const grab = libgearman ? Frames.GRAB_JOB_ALL : Frames.GRAB_JOB;
  const assigned: readonly PacketType[] = libgearman
    ? [PacketType.JOB_ASSIGN_UNIQ, PacketType.JOB_ASSIGN_ALL]
    : [PacketType.JOB_ASSIGN];
  const functions = task.functions ?? 1;
  const canDo = Buffer.concat([
    ...Array.from({ length: functions }, (_, i) =>
      request(PacketType.CAN_DO, functionNameAt(task.functionName, i, functions)),
    ),
    grab,
  ]);
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
  const openWorker = async (): Promise<RawConnection> => {
    let markReady: (() => void) | undefined;
    readiness.push(new Promise<void>((resolve) => (markReady = resolve)));
    const connection: RawConnection = await RawConnection.open(
      task.port,
      (packet) => {
        if (assigned.includes(packet.type)) {
          grabbed++;
          const handle = packet.args[0] as Buffer;
          connection.send(encodePacket(Magic.REQ, PacketType.WORK_COMPLETE, [handle, result]));
          completed++;
          if (completed >= task.target) finish?.(wallClockMs());
          else connection.send(grab);
          return;
        }
        switch (packet.type) {
          case PacketType.NO_JOB:
            markReady?.();
            markReady = undefined;
            connection.send(Frames.PRE_SLEEP);
            return;
          case PacketType.NOOP:
            if (completed < task.target) connection.send(grab);
            return;
          default:
            abort?.(unexpectedPacket('worker', packet));
        }
      },
      !libgearman,
    );
    connection.onFailure((err) => abort?.(err));
    connection.send(canDo);
    return connection;
  };
  const connections = await openInGroups(task.count, openWorker);
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
