/** Sending one request to a manager's control socket (what `gearbox manager status` does). */
import { connect } from 'node:net';
import { GearboxError } from '../protocol/errors.js';
import type { ControlRequest, ControlResponse } from './control-protocol.js';
import { LineSplitter } from './output-lines.js';

/** No manager answered on the socket, or it answered something unreadable. */
export class ControlClientError extends GearboxError<'NO_MANAGER' | 'BAD_ANSWER'> {}

/** Sends `request` and resolves with the answer; rejects after `timeoutMs`. */
export function sendControl(
  path: string,
  request: ControlRequest,
  timeoutMs = 30_000,
): Promise<ControlResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    const lines = new LineSplitter();
    const fail = (error: ControlClientError): void => {
      socket.destroy();
      reject(error);
    };
    socket.setTimeout(timeoutMs, () =>
      fail(new ControlClientError('BAD_ANSWER', `${path}: no answer within ${timeoutMs} ms`)),
    );
    socket.once('connect', () => socket.write(`${JSON.stringify(request)}\n`));
    socket.once('error', (err) =>
      fail(
        new ControlClientError('NO_MANAGER', `no manager answers on ${path}: ${err.message}`, {
          cause: err,
        }),
      ),
    );
    socket.on('data', (chunk: Buffer) => {
      const [line] = lines.push(chunk);
      if (line === undefined) return;
      socket.destroy();
      try {
        resolve(JSON.parse(line) as ControlResponse);
      } catch {
        reject(new ControlClientError('BAD_ANSWER', `${path}: the answer is not JSON`));
      }
    });
    socket.once('end', () =>
      fail(new ControlClientError('BAD_ANSWER', `${path}: closed without an answer`)),
    );
  });
}
