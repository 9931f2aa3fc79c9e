import { PacketType } from '../../src/protocol/index.js';
import { BenchError, unexpectedPacket } from './bench-error.js';
import { RawConnection } from './raw-connection.js';
import { SubmitPackets } from './submit-packets.js';
import {
  connectionsTask,
  type ConnectionCount,
  type ForegroundClientsTask,
  type LoadConnection,
  type PreparedTask,
} from './tasks.js';

/**
 * Connects the clients of a {@link ForegroundClientsTask}. Each keeps `window` SUBMIT_JOBs in
 * flight and counts a job when its WORK_COMPLETE arrives; a job's latency runs from its submit
 * to its WORK_COMPLETE.
 */
export async function prepareForegroundClients(task: ForegroundClientsTask): Promise<PreparedTask> {
  const clients = await Promise.all(
    Array.from({ length: task.count }, () =>
      openClient(
        task,
        new SubmitPackets(
          PacketType.SUBMIT_JOB,
          task.functionName,
          task.payloadBytes,
          task.uniques,
          1,
        ),
      ),
    ),
  );
  return connectionsTask('fg-clients', clients, task.recordLatency);
}

async function openClient(
  task: ForegroundClientsTask,
  packets: SubmitPackets,
): Promise<LoadConnection> {
  const total = task.jobsPerClient;
  const latenciesUs: number[] = [];
  const outcome: ConnectionCount = { sent: 0, counted: 0, latenciesUs };
  // JOB_CREATED answers submits in order, so send times wait in a FIFO until their handle is known.
  const sendTimes: number[] = [];
  let sendHead = 0;
  const byHandle = new Map<string, number>();
  let resolveRun: ((o: ConnectionCount) => void) | undefined;
  let rejectRun: ((err: Error) => void) | undefined;

  const submitOne = (): void => {
    sendTimes.push(performance.now());
    outcome.sent++;
    connection.send(packets.next(1));
  };

  const connection = await RawConnection.open(task.port, (p) => {
    switch (p.type) {
      case PacketType.JOB_CREATED: {
        const sentAt = sendTimes[sendHead++];
        if (sendHead > 4096) {
          sendTimes.splice(0, sendHead);
          sendHead = 0;
        }
        byHandle.set((p.args[0] as Buffer).toString('latin1'), sentAt ?? performance.now());
        return;
      }
      case PacketType.WORK_COMPLETE: {
        const handle = (p.args[0] as Buffer).toString('latin1');
        const sentAt = byHandle.get(handle);
        if (sentAt === undefined) {
          rejectRun?.(new BenchError('SERVER_ERROR', `WORK_COMPLETE for unknown handle ${handle}`));
          return;
        }
        byHandle.delete(handle);
        if (task.recordLatency) latenciesUs.push((performance.now() - sentAt) * 1000);
        outcome.counted++;
        if (outcome.counted === total) resolveRun?.(outcome);
        else if (outcome.sent < total) submitOne();
        return;
      }
      case PacketType.WORK_STATUS:
      case PacketType.WORK_DATA:
      case PacketType.WORK_WARNING:
        return;
      default: {
        rejectRun?.(unexpectedPacket('client', p));
      }
    }
  });
  connection.onFailure((err) => rejectRun?.(err));

  return {
    close: () => connection.close(),
    run() {
      return new Promise((resolve, reject) => {
        resolveRun = resolve;
        rejectRun = reject;
        if (total === 0) {
          resolve(outcome);
          return;
        }
        const first = Math.min(task.window, total);
        for (let i = 0; i < first; i++) submitOne();
      });
    },
  };
}
