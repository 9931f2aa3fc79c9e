/**
 * A listener with no port: `connect()` makes an in-process stream pair and hands the server's
 * end to the server it feeds, as a TLS or TCP listener hands over its accepted sockets. Tests
 * use it to reach `NetServer.handle` without a socket, and as the far end of a client
 * transport.
 */
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Transport } from '../../src/connection/transport.js';
import type { Listener, ListenerHost } from '../../src/server/net/listener.js';
import type { PeerDetails } from '../../src/server/net/peer-details.js';
import { duplexPair } from './duplex-pair.js';

export class InProcessListener implements Listener {
  private host: ListenerHost | undefined;
  /** The server's ends of the streams made so far, in order. */
  readonly serverEnds: Duplex[] = [];
  readonly addresses: AddressInfo[] = [];

  listen(host: ListenerHost): Promise<void> {
    this.host = host;
    return Promise.resolve();
  }

  /** Nothing to unbind; `connect` after this still hands streams in (the server refuses them). */
  close(): Promise<void> {
    return Promise.resolve();
  }

  /** A new peer: returns the peer's end of a stream whose other end the server now serves. */
  connect(details?: PeerDetails): Duplex {
    if (this.host === undefined) throw new Error('the listener is not listening');
    const [peer, server] = duplexPair();
    this.serverEnds.push(server);
    this.host.handle(server, details);
    return peer;
  }

  /** A client transport that reaches the server through this listener, counting its opens. */
  transport(details: PeerDetails = { address: '127.0.0.1' }): Transport & { opens: number } {
    const transport = {
      opens: 0,
      open: (): Promise<Duplex> => {
        transport.opens++;
        return Promise.resolve(this.connect(details));
      },
    };
    return transport;
  }
}
