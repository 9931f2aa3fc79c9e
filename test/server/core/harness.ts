/**
 * Drives a ServerCore with real encoded packets (encoder → Decoder, as the I/O shell does) and
 * reads its effects back as decoded packets, so tests assert bytes without sockets.
 */
import {
  Decoder,
  encodePacket,
  Magic,
  packetName,
  type Arg,
  type Packet,
  type PacketType,
} from '../../../src/protocol/index.js';
import {
  ServerCore,
  type CoreOptions,
  type Effect,
  type ConnectionInfo,
} from '../../../src/server/core/index.js';

/** A decoded packet the server sent: its type name and its arguments as latin1 strings. */
export interface Sent {
  readonly conn: number;
  readonly type: string;
  readonly args: string[];
}

/** The server's clock, moved by the test by hand. */
export class ManualClock {
  constructor(public ms = Date.UTC(2026, 0, 1, 12, 0, 0)) {}
  now(): number {
    return this.ms;
  }
}

export const DEFAULT_OPTIONS: CoreOptions = {
  handlePrefix: 'H:test',
  jobRetries: 0,
  roundRobin: false,
  wakeWorkers: 0,
  exceptions: false,
  durable: false,
  version: '1.1.20+gearbox-test',
  pid: 4242,
  verbose: 'INFO',
};

/** Decodes every packet in `bytes` (a whole number of server packets). */
export function decodeAll(bytes: Buffer): Packet[] {
  const packets: Packet[] = [];
  const decoder = new Decoder({
    packet: (p) => packets.push(p),
    text: () => {
      throw new Error('server sent text where a packet was expected');
    },
  });
  decoder.push(bytes);
  return packets;
}

/** The run id the test cores use for their generated store keys. */
export const TEST_RUN_ID = 'testrun';

export class Harness {
  readonly clock: ManualClock;
  readonly core: ServerCore;
  /** Every effect returned so far, in order. */
  readonly log: Effect[] = [];

  constructor(options: Partial<CoreOptions> = {}, clock = new ManualClock()) {
    this.clock = clock;
    this.core = new ServerCore({ ...DEFAULT_OPTIONS, ...options }, clock, () => TEST_RUN_ID);
  }

  /** A core with these loopback connections already made. */
  static withConnections(ids: readonly number[], options: Partial<CoreOptions> = {}): Harness {
    const h = new Harness(options);
    for (const id of ids) h.connect(id);
    return h;
  }

  connect(id: number, info: Partial<ConnectionInfo> = {}): Effect[] {
    return this.record(
      this.core.connect({ id, fd: 30 + id, address: '127.0.0.1', loopback: true, ...info }),
    );
  }

  /** Sends a `\0REQ` packet through a real Decoder, as the shell would. */
  req(conn: number, type: PacketType, ...args: Arg[]): Effect[] {
    return this.raw(conn, encodePacket(Magic.REQ, type, args));
  }

  /** Feeds raw bytes (one or more packets or admin lines) as one socket chunk. */
  raw(conn: number, bytes: Buffer): Effect[] {
    const effects: Effect[] = [];
    const decoder = new Decoder({
      packet: (p) => effects.push(...this.core.receive(conn, p)),
      text: (line) => effects.push(...this.core.receiveText(conn, line)),
    });
    decoder.push(bytes);
    return this.record(effects);
  }

  /** An admin command line; returns the reply bytes as a latin1 string. */
  admin(conn: number, line: string): string {
    return sentBytes(this.raw(conn, Buffer.from(line, 'latin1')), conn).toString('latin1');
  }

  disconnect(conn: number): Effect[] {
    return this.record(this.core.disconnect(conn));
  }

  persistDone(token: number, error?: string): Effect[] {
    return this.record(this.core.persistDone(token, error));
  }

  timerFired(key: string): Effect[] {
    return this.record(this.core.timerFired(key));
  }

  /** Submits a foreground/background job and returns the handle from JOB_CREATED. */
  submit(conn: number, type: PacketType, fn: string, unique: string, data: Arg): string {
    const created = packets(this.req(conn, type, fn, unique, data), conn);
    const first = created[0];
    if (first?.type !== 'JOB_CREATED') {
      throw new Error(`expected JOB_CREATED, got ${JSON.stringify(created)}`);
    }
    return first.args[0] ?? '';
  }

  private record(effects: Effect[]): Effect[] {
    this.log.push(...effects);
    return effects;
  }
}

/** The packets sent (to `conn`, or to anyone), decoded. */
export function packets(effects: readonly Effect[], conn?: number): Sent[] {
  const out: Sent[] = [];
  for (const e of effects) {
    if (e.type !== 'send' || (conn !== undefined && e.conn !== conn)) continue;
    for (const p of decodeAll(e.data)) {
      out.push({
        conn: e.conn,
        type: packetName(p.type),
        args: p.args.map((a) => a.toString('latin1')),
      });
    }
  }
  return out;
}

/** `TYPE arg1 arg2` strings for compact assertions, e.g. `JOB_ASSIGN H:test:1 f data`. */
export function brief(effects: readonly Effect[], conn?: number): string[] {
  return packets(effects, conn).map((p) => [p.type, ...p.args].join(' '));
}

/** All bytes sent to `conn`, concatenated. */
export function sentBytes(effects: readonly Effect[], conn: number): Buffer {
  return Buffer.concat(
    effects.flatMap((e) => (e.type === 'send' && e.conn === conn ? [e.data] : [])),
  );
}

/** The effect types in order, `send` effects shown as `send:<conn>`. */
export function kinds(effects: readonly Effect[]): string[] {
  return effects.map((e) => (e.type === 'send' ? `send:${e.conn}` : e.type));
}
