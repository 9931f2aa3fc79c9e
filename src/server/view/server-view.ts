/**
 * The one object an observer of a running server holds (metrics, the dashboard, the JSON API):
 * the core's read-only view, and slots for the figures that live outside the core — the I/O
 * shell's and the store's — which those parts provide through the interfaces below.
 */
import type {
  CoreTotals,
  CoreView,
  Distribution,
  FunctionRecord,
  JobPage,
  JobQuery,
  JobRecord,
  PeerRecord,
} from '../core/index.js';

/**
 * What the I/O shell alone knows about its traffic, since the server started: a snapshot of
 * plain numbers (the shell implements {@link NetFiguresSource}). Connections by kind (client,
 * worker, admin) are the core's to say, from what each connection did: see the core's view.
 */
export interface NetFigures {
  /** Connections open now. */
  readonly connectionsOpen: number;
  /** Connections handed to the shell (accepted by a listener, or given to `handle`). */
  readonly connectionsAccepted: number;
  /** Connections that have closed, for whatever reason. */
  readonly connectionsClosed: number;
  /** Bytes read from peers. */
  readonly bytesIn: number;
  /** Bytes written to peers' sockets. */
  readonly bytesOut: number;
  /** Binary packets received, by packet name (every known type, zeros included). */
  readonly packetsIn: Readonly<Record<string, number>>;
  /** Binary packets sent, by packet name (every known type, zeros included). */
  readonly packetsOut: Readonly<Record<string, number>>;
  /** Admin text lines received. */
  readonly adminLinesIn: number;
  /** Admin text replies sent (one per command answered). */
  readonly adminRepliesOut: number;
  /** Peers refused for a packet or an admin line over a limit (`--max-packet-size`, …). */
  readonly overLimitRefusals: number;
  /** Connections closed for breaking the framing (bad magic, unknown type, …), without a reply. */
  readonly protocolErrors: number;
  /** Connections dropped for not reading what was sent to them (over the output limit). */
  readonly slowPeersDropped: number;
}

/** Something that reports {@link NetFigures}: the I/O shell. */
export interface NetFiguresSource {
  /** A fresh snapshot; costs a few dozen number copies, nothing on the traffic path. */
  netFigures(): NetFigures;
}

/** A durable store's figures (a store implements {@link StoreFiguresSource}). */
export interface StoreFigures {
  /** Whether the store is connected now (background submissions are refused while not). */
  readonly connected: boolean;
  /** Transactions committed. */
  readonly commits: number;
  /** Operations refused or failed by the database. */
  readonly errors: number;
  /** Time from a batch's start to its commit, in ms. */
  readonly commitLatency: Distribution;
  /** Operations per committed batch. */
  readonly batchSize: Distribution;
}

/** Something that reports {@link StoreFigures}: a store. */
export interface StoreFiguresSource {
  storeFigures(): StoreFigures;
}

/** The whole server as observers read it. */
export interface ServerView extends CoreView {
  /** What the store is, e.g. `sqlite:/var/lib/gearbox/queue.sqlite`, or `builtin`. */
  readonly storeDescription: string;
  /** The I/O shell's figures; undefined while the shell does not report them. */
  netFigures(): NetFigures | undefined;
  /** The store's figures; undefined without a store, or for a store that does not report them. */
  storeFigures(): StoreFigures | undefined;
}

/**
 * A {@link ServerView} over the core's view and the shell and store, each of which reports its
 * figures if it implements {@link NetFiguresSource} / {@link StoreFiguresSource}.
 */
export class GearboxServerView implements ServerView {
  private readonly net: Partial<NetFiguresSource> | undefined;
  private readonly store: Partial<StoreFiguresSource> | undefined;

  constructor(
    private readonly core: CoreView,
    readonly storeDescription: string,
    net: object | undefined,
    store: object | undefined,
  ) {
    this.net = net;
    this.store = store;
  }

  get version(): string {
    return this.core.version;
  }

  get startedAt(): number {
    return this.core.startedAt;
  }

  now(): number {
    return this.core.now();
  }

  totals(): CoreTotals {
    return this.core.totals();
  }

  functions(): IterableIterator<FunctionRecord> {
    return this.core.functions();
  }

  function(name: string): FunctionRecord | undefined {
    return this.core.function(name);
  }

  peers(): IterableIterator<PeerRecord> {
    return this.core.peers();
  }

  peer(id: number): PeerRecord | undefined {
    return this.core.peer(id);
  }

  jobs(query?: JobQuery): JobPage {
    return this.core.jobs(query);
  }

  job(handle: string): JobRecord | undefined {
    return this.core.job(handle);
  }

  netFigures(): NetFigures | undefined {
    return this.net?.netFigures?.();
  }

  storeFigures(): StoreFigures | undefined {
    return this.store?.storeFigures?.();
  }
}
