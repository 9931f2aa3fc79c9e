import { PacketType } from '../../src/protocol/index.js';
import { BenchError, unexpectedPacket } from './bench-error.js';
import { RawConnection, openInGroups } from './raw-connection.js';
import { SubmitPackets } from './submit-packets.js';
import {
  LIBGEARMAN_SEND_BUFFER,
  connectionsTask,
  type ConnectionCount,
  type ForegroundClientsTask,
  type LoadConnection,
  type PreparedTask,
} from './tasks.js';

/**
 * Connects the clients of a {@link ForegroundClientsTask}. Each keeps `window` SUBMIT_JOBs in
 * flight (stream: a new one per WORK_COMPLETE, one write each; libgearman: a batch of `window`
 * through an 8 KiB send buffer, the next batch when all have completed) and counts a job when
 * its WORK_COMPLETE arrives; a job's latency runs from its submit to its WORK_COMPLETE.
 */
export async function prepareForegroundClients(task: ForegroundClientsTask): Promise<PreparedTask> {
  const clients = await openInGroups(task.count, () => openClient(task));
  return connectionsTask('fg-clients', clients, task.recordLatency);
}

async function openClient(task: ForegroundClientsTask): Promise<LoadConnection> {
  const libgearman = task.pattern === 'libgearman';
  const make = (run: number): SubmitPackets =>
    new SubmitPackets(
      PacketType.SUBMIT_JOB,
      task.functionName,
      task.payloadBytes,
      task.uniques,
      run,
    );
  const perWrite = libgearman
    ? Math.max(1, Math.min(task.window, Math.floor(LIBGEARMAN_SEND_BUFFER / make(1).packetLength)))
    : 1;
  const packets = make(perWrite);
  const total = task.jobsPerClient;
  const latenciesUs: number[] = [];
  const outcome: ConnectionCount = { sent: 0, counted: 0, latenciesUs };
  // JOB_CREATED answers submits in order, so send times wait in a FIFO until their handle is known.
  const sendTimes: number[] = [];
  let sendHead = 0;
  const byHandle = new Map<string, number>();
  let resolveRun: ((o: ConnectionCount) => void) | undefined;
  let rejectRun: ((err: Error) => void) | undefined;

  /** Sends `count` submits, `perWrite` to a write, all stamped with the time of the first. */
  const submit = (count: number): void => {
    const now = performance.now();
    for (let left = count; left > 0;) {
      const n = Math.min(perWrite, left);
      for (let i = 0; i < n; i++) sendTimes.push(now);
      connection.send(packets.next(n));
      outcome.sent += n;
      left -= n;
    }
  };
  const nextBatch = (): void => submit(Math.min(task.window, total - outcome.sent));

  const connection = await RawConnection.open(
    task.port,
    (p) => {
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
            rejectRun?.(
              new BenchError('SERVER_ERROR', `WORK_COMPLETE for unknown handle ${handle}`),
            );
            return;
          }
          byHandle.delete(handle);
          if (task.recordLatency) latenciesUs.push((performance.now() - sentAt) * 1000);
          outcome.counted++;
          if (outcome.counted === total) resolveRun?.(outcome);
          else if (outcome.sent < total) {
            if (!libgearman) submit(1);
            else if (outcome.counted === outcome.sent) nextBatch();
          }
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
        if (total === 0) {
          resolve(outcome);
          return;
        }
        if (libgearman) nextBatch();
        else for (let i = Math.min(task.window, total); i > 0; i--) submit(1);
      });
    },
  };
}
