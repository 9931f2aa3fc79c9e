import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { LogLevel } from '../core/effects.js';
import { NetError } from './net-error.js';
import type { PeerDetails } from './peer-details.js';
import type { PeerSocket } from './peer-connection.js';

/** What a listener reports to the server it feeds. */
export interface ListenerHost {
  /** A peer connected: its stream becomes a connection of the server. */
  handle(socket: PeerSocket, details?: PeerDetails): void;
  log(level: LogLevel, message: string): void;
}

/**
 * A source of peers: binds somewhere and hands every accepted stream to the server. A plain TCP
 * port, a TLS port or a loopback-only port is each a listener; the server does not tell them
 * apart.
 */
export interface Listener {
  /** Starts accepting; rejects with a {@link NetError} when it cannot bind. */
  listen(host: ListenerHost): Promise<void>;
  /** The addresses bound (after `listen`). */
  readonly addresses: AddressInfo[];
  /** Stops accepting (open connections are left alone); resolves once closed. */
  close(): Promise<void>;
}

/** Settings of a {@link TcpListener}. */
export interface TcpListenerOptions {
  /** Addresses to listen on; empty = every interface. */
  readonly hosts: readonly string[];
  /** The port; 0 picks a free one (then every address shares the first one's port). */
  readonly port: number;
  readonly backlog: number;
  /** TCP keepalive on accepted sockets; `idle` in seconds (0 = the system's default). */
  readonly keepalive: { readonly enabled: boolean; readonly idle: number };
}

/** Plain TCP on one port, on one or more addresses (gearmand's `-L` may be given many times). */
export class TcpListener implements Listener {
  private readonly servers: Server[] = [];

  constructor(private readonly options: TcpListenerOptions) {}

  get addresses(): AddressInfo[] {
    return this.servers.flatMap((server) => {
      const address = server.address();
      return address !== null && typeof address === 'object' ? [address] : [];
    });
  }

  /** Binds every address; rejects naming the one that failed, with none left bound. */
  async listen(host: ListenerHost): Promise<void> {
    const hosts = this.options.hosts.length > 0 ? this.options.hosts : [undefined];
    let port = this.options.port;
    try {
      for (const address of hosts) {
        const server = createServer({ noDelay: true, pauseOnConnect: false }, (socket) => {
          this.prepare(socket);
          host.handle(socket);
        });
        this.servers.push(server);
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen({ port, host: address, backlog: this.options.backlog }, () => {
            server.off('error', reject);
            resolve();
          });
        }).catch((err: Error) => {
          throw new NetError(
            'LISTEN_FAILED',
            `cannot listen on ${address ?? '*'}:${port}: ${err.message}`,
            { cause: err },
          );
        });
        server.on('error', (err) => host.log('ERROR', `listener error: ${err.message}`));
        const bound = server.address() as AddressInfo;
        port = bound.port;
        host.log('INFO', `Listening on ${bound.address}:${bound.port}`);
      }
    } catch (err) {
      for (const server of this.servers) server.close();
      this.servers.length = 0;
      throw err;
    }
  }

  close(): Promise<void> {
    return Promise.all(
      this.servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
    ).then(() => undefined);
  }

  private prepare(socket: Socket): void {
    socket.setNoDelay(true);
    const keepalive = this.options.keepalive;
    if (keepalive.enabled)
      socket.setKeepAlive(true, keepalive.idle > 0 ? keepalive.idle * 1000 : 0);
  }
}
