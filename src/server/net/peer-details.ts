import type { PeerSocket } from './peer-connection.js';

/**
 * What the shell is told about a peer besides its stream. Anything left out is read from the
 * stream when it is a socket (`remoteAddress`, `remotePort`, its file descriptor).
 */
export interface PeerDetails {
  /** The peer's IP address, as `workers` shows it. */
  readonly address?: string;
  readonly port?: number;
  /** Who the peer proved to be (a TLS certificate's subject), when it proved anything. */
  readonly identity?: string;
}

/** Whether an address is on the loopback interface (IPv4, IPv6, or IPv4-mapped IPv6). */
export function isLoopback(address: string): boolean {
  return address.startsWith('127.') || address === '::1' || address.startsWith('::ffff:127.');
}

/** The peer's address without the IPv4-mapped prefix: `::ffff:10.0.0.1` → `10.0.0.1`. */
export function plainAddress(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

/** The socket's file descriptor, when the stream is a socket of this process (not a pipe pair). */
export function socketFd(socket: PeerSocket): number | undefined {
  // Node keeps the descriptor on the internal handle; gearmand shows it in `workers`.
  const handle = (socket as unknown as { _handle?: { fd?: unknown } })._handle;
  return typeof handle?.fd === 'number' && handle.fd >= 0 ? handle.fd : undefined;
}
