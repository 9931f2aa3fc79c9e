import { PRIORITY_NAMES } from '../../protocol/packet-types.js';
import { byteStringToText, bytes, textToByteString } from './byte-strings.js';
import type { CorePeer } from './core-peer.js';
import type { CoreState } from './core-state.js';
import type { FunctionQueue } from './function-queue.js';
import { countersOf, NO_TIMES, type JobCounters, type Distribution } from './job-stats.js';
import { ServerJobState, type ServerJob } from './server-job.js';
import {
  PREVIEW_BYTES,
  ViewQueryError,
  type ByPriority,
  type CoreTotals,
  type CoreView,
  type FunctionRecord,
  type JobPage,
  type JobQuery,
  type JobRecord,
  type JobStateName,
  type PeerKindName,
  type PeerRecord,
} from './view.js';

const PEER_KINDS: readonly PeerKindName[] = ['none', 'admin', 'client', 'worker'];
const DEFAULT_PAGE = 100;

function byPriority(counts: readonly number[]): ByPriority {
  return { high: counts[0] ?? 0, normal: counts[1] ?? 0, low: counts[2] ?? 0 };
}

function sum3(counts: readonly number[]): number {
  return (counts[0] ?? 0) + (counts[1] ?? 0) + (counts[2] ?? 0);
}

/** The core's implementation of {@link CoreView}, over its state. */
export class CoreStateView implements CoreView {
  constructor(private readonly state: CoreState) {}

  get version(): string {
    return this.state.options.version;
  }

  get startedAt(): number {
    return this.state.startedAt;
  }

  now(): number {
    return this.state.clock.now();
  }

  totals(): CoreTotals {
    const state = this.state;
    let queued = 0;
    let delayed = 0;
    let pending = 0;
    for (const fn of state.functions.values()) {
      queued += sum3(fn.queued);
      delayed += sum3(fn.delayed);
      pending += fn.pending;
    }
    let workers = 0;
    let sleepingWorkers = 0;
    for (const peer of state.peers.values()) {
      if (peer.abilities.length > 0) workers++;
      if (peer.sleeping) sleepingWorkers++;
    }
    const kinds = state.peerKinds;
    return {
      functions: state.functions.size,
      queued,
      delayed,
      running: state.running,
      pending,
      connections: state.peers.size,
      connectionsByKind: {
        none: kinds[0] ?? 0,
        admin: kinds[1] ?? 0,
        client: kinds[2] ?? 0,
        worker: kinds[3] ?? 0,
      },
      workers,
      sleepingWorkers,
      counters: countersOf(state.totals),
    };
  }

  *functions(): IterableIterator<FunctionRecord> {
    for (const fn of this.state.functions.values()) yield new LiveFunction(fn, this.state);
  }

  function(name: string): FunctionRecord | undefined {
    const fn = this.state.functions.get(textToByteString(name));
    return fn === undefined ? undefined : new LiveFunction(fn, this.state);
  }

  *peers(): IterableIterator<PeerRecord> {
    for (const peer of this.state.peers.values()) yield new LivePeer(peer, this.state);
  }

  peer(id: number): PeerRecord | undefined {
    const peer = this.state.peers.get(id);
    return peer === undefined ? undefined : new LivePeer(peer, this.state);
  }

  jobs(query: JobQuery = {}): JobPage {
    const limit = query.limit ?? DEFAULT_PAGE;
    if (!(limit >= 1) || (!Number.isInteger(limit) && limit !== Infinity)) {
      throw new ViewQueryError('BAD_QUERY', `limit ${String(limit)}: expected a positive count`);
    }
    const after = query.after === undefined ? 0 : cursorId(query.after);
    let fn: FunctionQueue | undefined;
    if (query.function !== undefined) {
      fn = this.state.functions.get(textToByteString(query.function));
      if (fn === undefined) return { jobs: [], next: undefined };
    }
    const jobs: JobRecord[] = [];
    for (const job of this.jobsAfter(after)) {
      if (fn !== undefined && job.fn !== fn) continue;
      if (query.state !== undefined && stateName(job) !== query.state) continue;
      jobs.push(new LiveJob(job, this.state));
      if (jobs.length >= limit) return { jobs, next: String(job.id) };
    }
    return { jobs, next: undefined };
  }

  job(handle: string): JobRecord | undefined {
    const id = this.state.handles.parse(bytes(textToByteString(handle)));
    if (id === undefined) return undefined;
    const job = this.state.jobs.get(id) ?? this.state.pending.get(id)?.job;
    return job === undefined ? undefined : new LiveJob(job, this.state);
  }

  /** Acknowledged and pending jobs with an id above `after`, in id order (two sorted merges). */
  private *jobsAfter(after: number): Generator<ServerJob> {
    const acknowledged = this.state.jobs.valuesFrom(after + 1);
    const pending = this.state.pending.values();
    let a = acknowledged.next();
    let p = pending.next();
    while (!p.done && p.value.job.id <= after) p = pending.next();
    while (!a.done || !p.done) {
      if (p.done || (!a.done && a.value.id < p.value.job.id)) {
        yield a.value as ServerJob;
        a = acknowledged.next();
      } else {
        yield p.value.job;
        p = pending.next();
      }
    }
  }
}

/** Where a job is, as the view names it (an ignored job is `ignored` whatever its state). */
function stateName(job: ServerJob): JobStateName {
  switch (job.state) {
    case ServerJobState.DONE:
      return 'done';
    case ServerJobState.PENDING:
      return 'pending';
    default:
      if (job.ignored) return 'ignored';
      return job.state === ServerJobState.DELAYED
        ? 'delayed'
        : job.state === ServerJobState.QUEUED
          ? 'queued'
          : 'running';
  }
}

/** A page cursor is the last job id of the page before. */
function cursorId(cursor: string): number {
  if (!/^\d{1,15}$/.test(cursor)) {
    throw new ViewQueryError('BAD_QUERY', `cursor ${JSON.stringify(cursor)}: not one of ours`);
  }
  return Number(cursor);
}

class LiveFunction implements FunctionRecord {
  constructor(
    private readonly fn: FunctionQueue,
    private readonly core: CoreState,
  ) {}

  get name(): string {
    return this.fn.textName;
  }

  get wireName(): string {
    return this.fn.name;
  }

  get queued(): ByPriority {
    return byPriority(this.fn.queued);
  }

  get delayed(): ByPriority {
    return byPriority(this.fn.delayed);
  }

  get pending(): number {
    return this.fn.pending;
  }

  get running(): number {
    return this.fn.running;
  }

  get workers(): number {
    return this.fn.workers;
  }

  get sleepingWorkers(): number {
    return this.fn.sleeping.size;
  }

  get oldestQueuedAge(): number | undefined {
    const since = this.fn.oldestQueuedSince();
    return since === undefined ? undefined : Math.max(0, this.core.now() - since);
  }

  get maxQueue(): ByPriority {
    return byPriority(this.fn.maxQueue);
  }

  get counters(): JobCounters {
    return countersOf(this.fn.stats?.counts);
  }

  get waitTimes(): Distribution {
    return this.fn.stats?.waitTimes.read() ?? NO_TIMES;
  }

  get runTimes(): Distribution {
    return this.fn.stats?.runTimes.read() ?? NO_TIMES;
  }
}

class LivePeer implements PeerRecord {
  constructor(
    private readonly peer: CorePeer,
    private readonly core: CoreState,
  ) {}

  get id(): number {
    return this.peer.id;
  }

  get fd(): number {
    return this.peer.info.fd;
  }

  get address(): string {
    return this.peer.info.address;
  }

  get loopback(): boolean {
    return this.peer.info.loopback;
  }

  get connectedAt(): number {
    return this.peer.connectedAt;
  }

  get kind(): PeerKindName {
    return PEER_KINDS[this.peer.kind] ?? 'none';
  }

  get clientId(): string {
    return byteStringToText(this.peer.clientId);
  }

  get wireClientId(): string {
    return this.peer.clientId;
  }

  get functions(): readonly string[] {
    return this.peer.abilities.map((a) => a.fn.textName);
  }

  get wireFunctions(): readonly string[] {
    return this.peer.abilities.map((a) => a.fn.name);
  }

  get sleeping(): boolean {
    return this.peer.sleeping;
  }

  get running(): readonly JobRecord[] {
    return [...this.peer.running].map((job) => new LiveJob(job, this.core));
  }

  get waitingFor(): number {
    return this.peer.attached.size;
  }
}

class LiveJob implements JobRecord {
  constructor(
    private readonly job: ServerJob,
    private readonly core: CoreState,
  ) {}

  get handle(): string {
    return byteStringToText(this.wireHandle);
  }

  get wireHandle(): string {
    return this.core.handleOf(this.job);
  }

  get functionName(): string {
    return this.job.fn.textName;
  }

  get unique(): string {
    return byteStringToText(this.job.unique);
  }

  get wireUnique(): string {
    return this.job.unique;
  }

  get priority(): JobRecord['priority'] {
    return PRIORITY_NAMES[this.job.priority];
  }

  get background(): boolean {
    return this.job.background;
  }

  get state(): JobStateName {
    return stateName(this.job);
  }

  get since(): number {
    return this.core.clockTime(this.job.since);
  }

  get age(): number {
    return Math.max(0, this.core.now() - this.job.since);
  }

  get attempts(): number {
    return this.job.retries + (this.job.state === ServerJobState.RUNNING ? 1 : 0);
  }

  get retries(): number {
    return this.job.retries;
  }

  get runAt(): number | undefined {
    return this.job.when > 0 ? this.job.when * 1000 : undefined;
  }

  get payloadSize(): number {
    return this.job.size;
  }

  get preview(): Buffer {
    return this.job.preview(PREVIEW_BYTES);
  }

  get worker(): number | undefined {
    return this.job.worker;
  }

  get clients(): number {
    return this.job.clients?.length ?? 0;
  }
}
