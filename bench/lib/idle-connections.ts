import { Magic, PacketType, encodePacket } from '../../src/protocol/index.js';
import { unexpectedPacket } from './bench-error.js';
import { RawConnection, openInGroups } from './raw-connection.js';
import { wallClockMs, type IdleConnectionsTask, type PreparedTask } from './tasks.js';

const ECHO = encodePacket(Magic.REQ, PacketType.ECHO_REQ, ['idle']);

/**
 * Opens the connections of an {@link IdleConnectionsTask}: each makes one ECHO round trip, so
 * the server has accepted it and read from it, and then sends nothing more. They count as done
 * at once and stay open until the phase ends, while the other tasks run.
 */
export async function prepareIdleConnections(task: IdleConnectionsTask): Promise<PreparedTask> {
  let failure: Error | undefined;
  const connections = await openInGroups(task.connections, async () => {
    let answered: (() => void) | undefined;
    const echoed = new Promise<void>((resolve) => (answered = resolve));
    const connection = await RawConnection.open(task.port, (packet) => {
      if (packet.type === PacketType.ECHO_RES) answered?.();
      else failure ??= unexpectedPacket('idle connection', packet);
    });
    connection.onFailure((err) => {
      failure ??= err;
      answered?.();
    });
    connection.send(ECHO);
    await echoed;
    return connection;
  });
  if (failure) {
    for (const c of connections) c.close();
    throw failure;
  }
  return {
    start() {
      const at = wallClockMs();
      if (failure) return Promise.reject(failure);
      const counted = connections.length;
      return Promise.resolve({
        kind: 'idle',
        sent: counted,
        counted,
        startedAt: at,
        finishedAt: at,
      });
    },
    close() {
      for (const c of connections) c.close();
    },
  };
}
