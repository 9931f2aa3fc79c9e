import { connect as netConnect } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ServerAddress } from './server-address.js';

/** What a transport is given for one attempt. */
export interface TransportOpenOptions {
  /**
   * Aborted when the attempt is given up (the connect timeout passed, or the connection was
   * closed): the transport then destroys what it opened and rejects.
   */
  readonly signal: AbortSignal;
}

/**
 * How a connection to a job server is opened: plain TCP by default. Reconnecting, backoff,
 * timeouts and failover are the connection layer's and work the same over any transport; a
 * transport only turns an address into a stream that carries Gearman packets both ways.
 *
 * @example
 * // Through an SSH tunnel or a local proxy: every server is reached on its own local port.
 * const viaTunnel: Transport = {
 *   open: (address, options) => tcpTransport.open({ ...address, host: '127.0.0.1' }, options),
 * };
 */
export interface Transport {
  /**
   * Opens a stream to `address`, resolving once bytes can be written on it (for TCP: once the
   * handshake is done). Rejects with an `Error` saying why it could not (the connection layer
   * wraps it in a `ConnectionError`). The stream must emit `'close'` when it ends.
   */
  open(address: ServerAddress, options: TransportOpenOptions): Promise<Duplex>;
}

/** Checks a transport option: a `TypeError` unless it has an `open` method. */
export function checkTransport(transport: unknown): asserts transport is Transport {
  if (
    transport === null ||
    typeof transport !== 'object' ||
    typeof (transport as { open?: unknown }).open !== 'function'
  )
    throw new TypeError('transport must have an open(address, options) method');
}

/** Plain TCP, with Nagle off (a request is one small write) and TCP keepalive on. */
export const tcpTransport: Transport = {
  open(address, { signal }) {
    return new Promise<Duplex>((resolve, reject) => {
      if (signal.aborted) {
        reject(abortReason(signal));
        return;
      }
      const socket = netConnect({ host: address.host, port: address.port });
      let failure: Error | undefined;
      const onAbort = (): void => {
        failure ??= abortReason(signal);
        socket.destroy();
      };
      const onError = (err: Error): void => {
        failure ??= err;
      };
      const onClose = (): void => {
        signal.removeEventListener('abort', onAbort);
        reject(failure ?? new Error('connection closed'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      socket.on('error', onError);
      socket.once('close', onClose);
      socket.once('connect', () => {
        signal.removeEventListener('abort', onAbort);
        socket.off('error', onError);
        socket.off('close', onClose);
        socket.setNoDelay(true);
        socket.setKeepAlive(true, 30_000);
        resolve(socket);
      });
    });
  },
};

function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new Error(String(reason));
}
