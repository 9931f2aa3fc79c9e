import type { Packet, TextLine } from '../../protocol/decoder.js';
import { encodePacket } from '../../protocol/encoder.js';
import { ErrorFrames } from '../../protocol/error-frames.js';
import {
  Magic,
  PacketType,
  Priority,
  RESPONSE_TYPES,
  packetName,
} from '../../protocol/packet-types.js';
import type { StoredJob } from '../../protocol/stored-job.js';
import { AdminCommands } from './admin-commands.js';
import { Assignment } from './assignment.js';
import { argAt, atoi, textToByteString } from './byte-strings.js';
import type { CoreOptions } from './core-options.js';
import { CorePeer, PeerKind } from './core-peer.js';
import { CoreState, EPOCH_TIMER } from './core-state.js';
import { CoreStateView } from './core-view.js';
import { DurableCommits, REFUSALS_TIMER } from './durable-commits.js';
import type { ConnectionId, ConnectionInfo, Effect, ServerClock } from './effects.js';
import type { FunctionQueue } from './function-queue.js';
import { JobEndings, TIMEOUT_TIMER_PREFIX } from './job-endings.js';
import { Count } from './job-stats.js';
import { RunQueue } from './run-queue.js';
import { REWAKE_TIMER, SleepMachine } from './sleep-machine.js';
import { StoreKeys, type RunIdSource } from './store-keys.js';
import { Submission } from './submission.js';
import type { CoreView } from './view.js';
import { MIN_CAN_DO_TIMEOUT, WorkerRegistry } from './worker-registry.js';
import { WorkResults } from './work-results.js';

/** Priority and background-ness of the plain SUBMIT_JOB variants. */
const SUBMIT_KINDS = {
  [PacketType.SUBMIT_JOB]: { priority: Priority.NORMAL, background: false },
  [PacketType.SUBMIT_JOB_HIGH]: { priority: Priority.HIGH, background: false },
  [PacketType.SUBMIT_JOB_LOW]: { priority: Priority.LOW, background: false },
  [PacketType.SUBMIT_JOB_BG]: { priority: Priority.NORMAL, background: true },
  [PacketType.SUBMIT_JOB_HIGH_BG]: { priority: Priority.HIGH, background: true },
  [PacketType.SUBMIT_JOB_LOW_BG]: { priority: Priority.LOW, background: true },
} as const;

/**
 * The Gearman job server as a synchronous state machine: packets and admin lines in, effects
 * out. It never performs I/O, never waits and never arms a timer itself: it returns effects for
 * the I/O shell to apply. This class is the façade the shell drives; the state lives in one
 * {@link CoreState} and each concern in its own module (see docs/core.md), and observers read
 * {@link view}.
 */
export class ServerCore {
  /** What observers (metrics, dashboard, API) read: a live, read-only view. */
  readonly view: CoreView;
  private readonly state: CoreState;
  private readonly durable: DurableCommits;
  private readonly registry: WorkerRegistry;
  private readonly assignment: Assignment;
  private readonly submission: Submission;
  private readonly results: WorkResults;
  private readonly endings: JobEndings;
  private readonly sleep: SleepMachine;
  private readonly queue: RunQueue;
  private readonly admin: AdminCommands;

  /**
   * `clock` is the server's time; `runId` makes this run's generated store keys distinct from an
   * earlier run's (random in production, fixed in tests).
   */
  constructor(options: CoreOptions, clock: ServerClock, runId: RunIdSource) {
    const state = new CoreState(options, clock);
    this.state = state;
    this.view = new CoreStateView(state);
    this.sleep = new SleepMachine(state);
    this.queue = new RunQueue(state, this.sleep);
    this.endings = new JobEndings(state);
    this.assignment = new Assignment(state, this.sleep, this.queue, this.endings);
    this.registry = new WorkerRegistry(state, this.sleep, this.queue);
    const keys = new StoreKeys(state.startedAt, runId);
    this.durable = new DurableCommits(state, keys, this.queue, this.endings);
    this.submission = new Submission(state, this.queue, this.endings, this.durable);
    this.results = new WorkResults(state, this.endings);
    this.admin = new AdminCommands(state, this.view, this.endings);
  }

  /** Jobs assigned to workers right now (graceful shutdown waits for this to reach 0). */
  get runningJobs(): number {
    return this.state.running;
  }

  /**
   * Stops handing out jobs, for a graceful shutdown: from now on every grab gets NO_JOB and no
   * worker is woken, so `runningJobs` only goes down. Submissions are still taken (and, with a
   * store, committed, so they run after the restart). An admin `shutdown graceful` does this too.
   */
  drain(): Effect[] {
    this.state.draining = true;
    return this.state.flush();
  }

  /** A new connection (client, worker or admin, all alike until they speak). */
  connect(info: ConnectionInfo): Effect[] {
    const state = this.state;
    state.addPeer(new CorePeer(info, state.options.exceptions, state.clock.now()));
    return state.flush();
  }

  /**
   * A connection went away: its running jobs are requeued (a retry), it is detached from the
   * foreground jobs it waited for (a job nobody waits for any more is ignored), and its
   * abilities are dropped.
   */
  disconnect(connId: ConnectionId): Effect[] {
    const state = this.state;
    const peer = state.peers.get(connId);
    if (peer === undefined) return state.flush();
    state.removePeer(peer);
    this.dropAbilities(peer, undefined);
    for (const job of peer.attached) this.endings.detach(job, connId);
    peer.attached.clear();
    return state.flush();
  }

  /** A binary packet from the connection (from the protocol Decoder). */
  receive(connId: ConnectionId, packet: Packet): Effect[] {
    const state = this.state;
    const peer = state.peers.get(connId);
    if (peer === undefined) return state.flush();
    if (packet.magic !== Magic.REQ) {
      state.send(connId, ErrorFrames.invalidMagic);
      return state.flush();
    }
    const args = packet.args;
    switch (packet.type) {
      case PacketType.ECHO_REQ:
        state.send(connId, encodePacket(Magic.RES, PacketType.ECHO_RES, [argAt(args, 0)]));
        break;
      case PacketType.SUBMIT_JOB:
      case PacketType.SUBMIT_JOB_HIGH:
      case PacketType.SUBMIT_JOB_LOW:
      case PacketType.SUBMIT_JOB_BG:
      case PacketType.SUBMIT_JOB_HIGH_BG:
      case PacketType.SUBMIT_JOB_LOW_BG: {
        const kind = SUBMIT_KINDS[packet.type];
        state.becomes(peer, PeerKind.CLIENT);
        this.submission.submit(
          peer,
          argAt(args, 0),
          argAt(args, 1),
          argAt(args, 2),
          kind.priority,
          kind.background,
        );
        break;
      }
      case PacketType.SUBMIT_JOB_EPOCH:
        state.becomes(peer, PeerKind.CLIENT);
        this.submission.submit(
          peer,
          argAt(args, 0),
          argAt(args, 1),
          argAt(args, 3),
          Priority.NORMAL,
          true,
          { when: Math.max(0, atoi(argAt(args, 2).toString('latin1'))) },
        );
        break;
      case PacketType.SUBMIT_REDUCE_JOB:
      case PacketType.SUBMIT_REDUCE_JOB_BACKGROUND:
        state.becomes(peer, PeerKind.CLIENT);
        this.submission.submit(
          peer,
          argAt(args, 0),
          argAt(args, 1),
          argAt(args, 4),
          Priority.NORMAL,
          packet.type === PacketType.SUBMIT_REDUCE_JOB_BACKGROUND,
          { reducer: argAt(args, 2).toString('latin1') },
        );
        break;
      case PacketType.SUBMIT_JOB_SCHED:
        state.becomes(peer, PeerKind.CLIENT);
        this.submission.submitScheduled(peer, args);
        break;
      case PacketType.GRAB_JOB:
      case PacketType.GRAB_JOB_UNIQ:
      case PacketType.GRAB_JOB_ALL:
        this.assignment.grab(peer, packet.type);
        break;
      case PacketType.PRE_SLEEP:
        this.registry.preSleep(peer);
        break;
      case PacketType.CAN_DO:
        this.registry.canDo(peer, argAt(args, 0).toString('latin1'), 0);
        break;
      case PacketType.CAN_DO_TIMEOUT:
        this.registry.canDo(
          peer,
          argAt(args, 0).toString('latin1'),
          Math.max(MIN_CAN_DO_TIMEOUT, atoi(argAt(args, 1).toString('latin1'))),
        );
        break;
      case PacketType.CANT_DO: {
        const fn = state.functions.get(argAt(args, 0).toString('latin1'));
        if (fn !== undefined) this.dropAbilities(peer, fn);
        break;
      }
      case PacketType.RESET_ABILITIES:
        this.dropAbilities(peer, undefined);
        break;
      case PacketType.WORK_STATUS:
      case PacketType.WORK_DATA:
      case PacketType.WORK_WARNING:
      case PacketType.WORK_COMPLETE:
      case PacketType.WORK_FAIL:
      case PacketType.WORK_EXCEPTION:
        this.results.workResult(peer, packet.type, args);
        break;
      case PacketType.GET_STATUS:
        state.becomes(peer, PeerKind.CLIENT);
        this.results.getStatus(connId, argAt(args, 0));
        break;
      case PacketType.GET_STATUS_UNIQUE:
        state.becomes(peer, PeerKind.CLIENT);
        this.results.getStatusUnique(connId, argAt(args, 0));
        break;
      case PacketType.SET_CLIENT_ID:
        peer.clientId = argAt(args, 0).toString('latin1');
        break;
      case PacketType.OPTION_REQ:
        if (argAt(args, 0).toString('latin1').toLowerCase() === 'exceptions') {
          peer.exceptions = true;
          state.send(connId, encodePacket(Magic.RES, PacketType.OPTION_RES, [argAt(args, 0)]));
        } else {
          state.send(connId, ErrorFrames.unknownOption);
        }
        break;
      default:
        if (
          RESPONSE_TYPES.has(packet.type) ||
          packet.type === PacketType.UNUSED_5 ||
          packet.type === PacketType.ALL_YOURS
        ) {
          state.send(connId, ErrorFrames.invalidCommand);
        } else {
          // The decoder refuses unknown types already; anything else reaching here is a bug
          // upstream, and gearmand closes the connection for an unknown type.
          state.emit({
            type: 'close',
            conn: connId,
            reason: `unknown packet type ${packetName(packet.type)}`,
          });
        }
    }
    return state.flush();
  }

  /** An admin text command line from the connection. */
  receiveText(connId: ConnectionId, line: TextLine): Effect[] {
    const state = this.state;
    const peer = state.peers.get(connId);
    if (peer === undefined) return state.flush();
    state.becomes(peer, PeerKind.ADMIN);
    const outcome = this.admin.run(line.line, peer.info.loopback);
    state.send(connId, outcome.reply);
    if (outcome.shutdown !== undefined) this.shutdown(outcome.shutdown, peer.info.address);
    return state.flush();
  }

  /**
   * An admin command from within the process (an embedding program, the web API), as a loopback
   * peer would send it: `line` is text (its UTF-8 bytes are the command, without a line end).
   * Returns the reply's bytes and the effects, which the caller applies like any others.
   */
  adminCommand(line: string): { reply: Buffer; effects: Effect[] } {
    const outcome = this.admin.run(textToByteString(line), true);
    if (outcome.shutdown !== undefined) this.shutdown(outcome.shutdown, 'the server process');
    return { reply: outcome.reply, effects: this.state.flush() };
  }

  /**
   * The store settled the commit of `token`: the job becomes runnable and its submitters get
   * JOB_CREATED; on `error` they get `ERROR QUEUE_ERROR <error>` and the job is dropped.
   */
  persistDone(token: number, error?: string): Effect[] {
    this.durable.settled(token, error);
    return this.state.flush();
  }

  /** A timer armed by a `timer` effect went off. */
  timerFired(key: string): Effect[] {
    if (key === EPOCH_TIMER) {
      this.state.epochTimerFired();
      this.queue.promoteDue();
    } else if (key === REFUSALS_TIMER) {
      this.durable.refusalsTimer();
    } else if (key === REWAKE_TIMER) {
      this.sleep.rewake();
    } else if (key.startsWith(TIMEOUT_TIMER_PREFIX)) {
      this.assignment.timedOut(Number(key.slice(TIMEOUT_TIMER_PREFIX.length)));
    }
    return this.state.flush();
  }

  /** Replays a stored job at start: queued (or delayed) with a fresh handle, no effects. */
  restore(stored: StoredJob): void {
    this.durable.restore(stored);
  }

  /** Drops abilities (all when `fn` is undefined) and requeues the jobs that lost their worker. */
  private dropAbilities(peer: CorePeer, fn: FunctionQueue | undefined): void {
    for (const job of this.registry.dropAbilities(peer, fn)) {
      this.assignment.requeue(job, Count.REQUEUED_WORKER_LOST);
    }
  }

  /** `shutdown [graceful]` was accepted and answered: stop (after running jobs, if graceful). */
  private shutdown(how: 'now' | 'graceful', by: string): void {
    const graceful = how === 'graceful';
    if (graceful) this.state.draining = true;
    this.state.log('NOTICE', `shutdown${graceful ? ' graceful' : ''} requested by ${by}`);
    this.state.emit({ type: 'shutdown', graceful });
  }
}
