import { PacketType } from '../../src/protocol/index.js';
import { unexpectedPacket } from './bench-error.js';
import { RawConnection, openInGroups } from './raw-connection.js';
import { SubmitPackets } from './submit-packets.js';
import {
  LIBGEARMAN_SEND_BUFFER,
  connectionsTask,
  type BackgroundSubmitTask,
  type ConnectionCount,
  type LoadConnection,
  type PreparedTask,
} from './tasks.js';

/** How many submits go out in one write: big enough to amortise syscalls, small next to a window. */
const MAX_BATCH = 128;

/**
 * Connects the submitters of a {@link BackgroundSubmitTask}. Unique ids are distinct or empty,
 * so the server never coalesces two jobs and each submit creates one.
 */
export async function prepareBackgroundSubmit(task: BackgroundSubmitTask): Promise<PreparedTask> {
  const libgearman = task.pattern === 'libgearman';
  const probe = new SubmitPackets(
    PacketType.SUBMIT_JOB_BG,
    task.functionName,
    task.payloadBytes,
    task.uniques,
    1,
    task.functions,
  );
  // Stream: a quarter of the window per write, so replies keep the pipe full. libgearman: as
  // many whole packets as its 8 KiB send buffer holds.
  const perWrite = libgearman
    ? Math.max(1, Math.min(task.window, Math.floor(LIBGEARMAN_SEND_BUFFER / probe.packetLength)))
    : Math.max(1, Math.min(MAX_BATCH, Math.floor(task.window / 4)));
  const submitters = await openInGroups(task.connections, () => {
    const packets = new SubmitPackets(
      PacketType.SUBMIT_JOB_BG,
      task.functionName,
      task.payloadBytes,
      task.uniques,
      perWrite,
      task.functions,
    );
    return openSubmitter(task, packets, perWrite, libgearman);
  });
  return connectionsTask('bg-submit', submitters);
}

async function openSubmitter(
  task: BackgroundSubmitTask,
  packets: SubmitPackets,
  perWrite: number,
  libgearman: boolean,
): Promise<LoadConnection> {
  const total = task.jobsPerConnection;
  let sent = 0;
  let created = 0;
  let resolveRun: ((v: ConnectionCount) => void) | undefined;
  let rejectRun: ((err: Error) => void) | undefined;

  /** Stream: tops the window up whenever a batch of slots is free. */
  const pump = (): void => {
    while (sent < total && sent - created + perWrite <= task.window) {
      const n = Math.min(perWrite, total - sent);
      connection.send(packets.next(n));
      sent += n;
    }
  };
  /** libgearman: the next batch, once every submit of the last one is acknowledged. */
  const sendBatch = (): void => {
    const end = Math.min(total, sent + task.window);
    while (sent < end) {
      const n = Math.min(perWrite, end - sent);
      connection.send(packets.next(n));
      sent += n;
    }
  };
  const next = libgearman ? sendBatch : pump;

  const connection = await RawConnection.open(
    task.port,
    (packet) => {
      if (packet.type === PacketType.JOB_CREATED) {
        created++;
        if (created === total) resolveRun?.({ sent, counted: created });
        else if (libgearman ? created === sent : sent - created + perWrite <= task.window) next();
        return;
      }
      rejectRun?.(unexpectedPacket('submitter', packet));
    },
    !libgearman,
  );
  connection.onFailure((err) => rejectRun?.(err));

  return {
    close: () => connection.close(),
    run() {
      return new Promise((resolve, reject) => {
        resolveRun = resolve;
        rejectRun = reject;
        if (total === 0) resolve({ sent, counted: created });
        else next();
      });
    },
  };
}
