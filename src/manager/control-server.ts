/**
 * The manager's control socket: a Unix socket, owner-only (0600), answering one JSON line per
 * request line (see control-protocol.ts). A socket file left by a dead manager is replaced; one
 * a live manager still answers on is an error, so two managers never share a socket.
 */
import { chmodSync, unlinkSync } from 'node:fs';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { GearboxError } from '../protocol/errors.js';
import type { ControlRequest, ControlResponse } from './control-protocol.js';
import { LineSplitter } from './output-lines.js';

/** The socket could not be opened (in use by a live manager, or not creatable). */
export class ControlSocketError extends GearboxError<'CONTROL_SOCKET'> {}

/** Answers one request (the manager's status, scale and reload). */
export type ControlHandler = (
  request: ControlRequest,
) => ControlResponse | Promise<ControlResponse>;

/** Longest request line accepted. */
const MAX_REQUEST = 64 * 1024;

export class ControlServer {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  private constructor(
    readonly path: string,
    handle: ControlHandler,
  ) {
    this.server = createServer((socket) => this.serve(socket, handle));
  }

  /** Listens on `path` (replacing a stale socket file); rejects with a {@link ControlSocketError}. */
  static async open(path: string, handle: ControlHandler): Promise<ControlServer> {
    if (await answers(path))
      throw new ControlSocketError(
        'CONTROL_SOCKET',
        `${path}: another manager is running on this control socket`,
      );
    try {
      unlinkSync(path);
    } catch {
      // No stale file.
    }
    const control = new ControlServer(path, handle);
    // Owner-only from the first moment: the umask applies when bind() creates the file.
    const umask = process.umask(0o177);
    try {
      control.server.listen(path);
      await Promise.race([
        once(control.server, 'listening'),
        once(control.server, 'error').then(([err]) => {
          throw err;
        }),
      ]);
    } catch (err) {
      throw new ControlSocketError(
        'CONTROL_SOCKET',
        `cannot open the control socket ${path}: ${(err as Error).message}`,
        { cause: err },
      );
    } finally {
      process.umask(umask);
    }
    chmodSync(path, 0o600);
    return control;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    try {
      unlinkSync(this.path);
    } catch {
      // Already gone.
    }
  }

  private serve(socket: Socket, handle: ControlHandler): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    const lines = new LineSplitter();
    let size = 0;
    let queue = Promise.resolve();
    socket.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_REQUEST) {
        reply(socket, { ok: false, error: 'request too long' });
        socket.end();
        return;
      }
      for (const line of lines.push(chunk)) {
        size = 0;
        if (line.trim() === '') continue;
        // Answered in order, one at a time.
        queue = queue.then(async () => reply(socket, await answer(line, handle)));
      }
    });
  }
}

function reply(socket: Socket, response: ControlResponse): void {
  if (!socket.destroyed) socket.write(`${JSON.stringify(response)}\n`);
}

async function answer(line: string, handle: ControlHandler): Promise<ControlResponse> {
  let request: unknown;
  try {
    request = JSON.parse(line);
  } catch {
    return { ok: false, error: 'a request is one JSON object per line' };
  }
  const problem = checkRequest(request);
  if (problem !== undefined) return { ok: false, error: problem };
  try {
    return await handle(request as ControlRequest);
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}

function checkRequest(request: unknown): string | undefined {
  if (request === null || typeof request !== 'object') return 'a request must be a JSON object';
  const r = request as Record<string, unknown>;
  switch (r.command) {
    case 'status':
    case 'reload':
      return undefined;
    case 'scale':
      if (typeof r.name !== 'string') return 'scale needs "name"';
      if (typeof r.count !== 'number' || !Number.isInteger(r.count) || r.count < 0)
        return 'scale needs "count", a whole number ≥ 0';
      return undefined;
    default:
      return `unknown command ${JSON.stringify(r.command)} (status, scale, reload)`;
  }
}

/** Whether something answers on the socket path (a live manager). */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
