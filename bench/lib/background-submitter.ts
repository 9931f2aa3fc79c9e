import { PacketType } from '../../src/protocol/index.js';
import { unexpectedPacket } from './bench-error.js';
import { RawConnection } from './raw-connection.js';
import { SubmitPackets } from './submit-packets.js';
import {
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
  const batchSize = Math.max(1, Math.min(MAX_BATCH, Math.floor(task.window / 4)));
  const submitters = await Promise.all(
    Array.from({ length: task.connections }, () =>
      openSubmitter(
        task,
        new SubmitPackets(
          PacketType.SUBMIT_JOB_BG,
          task.functionName,
          task.payloadBytes,
          task.uniques,
          batchSize,
        ),
        batchSize,
      ),
    ),
  );
  return connectionsTask('bg-submit', submitters);
}

async function openSubmitter(
  task: BackgroundSubmitTask,
  packets: SubmitPackets,
  batchSize: number,
): Promise<LoadConnection> {
  const total = task.jobsPerConnection;
  let sent = 0;
  let created = 0;
  let resolveRun: ((v: ConnectionCount) => void) | undefined;
  let rejectRun: ((err: Error) => void) | undefined;

  const pump = (): void => {
    while (sent < total && sent - created + batchSize <= task.window) {
      const n = Math.min(batchSize, total - sent);
      connection.send(packets.next(n));
      sent += n;
    }
  };

  const connection = await RawConnection.open(task.port, (packet) => {
    if (packet.type === PacketType.JOB_CREATED) {
      created++;
      if (created === total) resolveRun?.({ sent, counted: created });
      else if (sent - created + batchSize <= task.window) pump();
      return;
    }
    rejectRun?.(unexpectedPacket('submitter', packet));
  });
  connection.onFailure((err) => rejectRun?.(err));

  return {
    close: () => connection.close(),
    run() {
      return new Promise((resolve, reject) => {
        resolveRun = resolve;
        rejectRun = reject;
        if (total === 0) resolve({ sent, counted: created });
        else pump();
      });
    },
  };
}
