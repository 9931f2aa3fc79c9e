import { ConnectionError } from '../connection/errors.js';
import { toError } from './client-arguments.js';
import type { ServerLink } from './server-link.js';

/** How a job picks its server (see `ClientOptions.selection`). */
export type Selection = 'hash' | 'round-robin';

/**
 * Chooses the server for a request and fails over: the first choice comes from a hash of the
 * unique id (so equal uniques meet on one server and are coalesced) or from a rotation; then
 * the others follow in list order, servers that failed recently last. The first one that
 * connects is the answer.
 */
export class ServerPicker {
  private nextIndex = 0;

  constructor(
    private readonly links: readonly ServerLink[],
    private readonly selection: Selection,
    /** Whether the client was closed (then nothing is picked). */
    private readonly isClosed: () => boolean,
  ) {}

  /** A connected server for this unique ('' = none); rejects with NO_SERVER_AVAILABLE. */
  async pick(unique: string): Promise<ServerLink> {
    if (this.isClosed()) throw new ConnectionError('CLOSED', 'the client was closed');
    const n = this.links.length;
    let start: number;
    if (this.selection === 'hash' && unique !== '') start = fnv1a(unique) % n;
    else start = this.nextIndex++ % n;
    const order: ServerLink[] = [];
    for (let i = 0; i < n; i++) order.push(this.links[(start + i) % n] as ServerLink);
    const up = order.filter((l) => !l.connection.isDown);
    const down = order.filter((l) => l.connection.isDown);
    const failures: string[] = [];
    for (const link of [...up, ...down]) {
      if (this.isClosed()) throw new ConnectionError('CLOSED', 'the client was closed');
      try {
        await link.connection.connect();
        return link;
      } catch (error) {
        failures.push(toError(error).message);
      }
    }
    throw new ConnectionError(
      'NO_SERVER_AVAILABLE',
      `no job server could be reached (${failures.join('; ')})`,
    );
  }
}

/** 32-bit FNV-1a of the UTF-8 bytes: stable across processes and languages. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}
