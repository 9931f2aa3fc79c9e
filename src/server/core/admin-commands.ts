import { AdminReply, type AdminJobRow } from '../../protocol/admin.js';
import { BAD_FUNCTION_NAME_TEXT } from '../../protocol/error-frames.js';
import { atoi, bytes } from './byte-strings.js';
import type { CoreState } from './core-state.js';
import type { JobEndings } from './job-endings.js';
import type { ByPriority, CoreView, FunctionRecord, JobRecord } from './view.js';

/** Jobs rendered per page of the view by `show jobs`, so a huge queue is not listed in one array. */
const LISTING_PAGE = 10_000;

/** What a command answered, and whether it asked for a shutdown (to apply after the reply). */
export interface AdminOutcome {
  readonly reply: Buffer;
  readonly shutdown?: 'now' | 'graceful';
}

/**
 * gearmand's administrative text protocol (reference §10): the listings (`status`,
 * `prioritystatus`, `workers`, `show jobs`, `show unique jobs`) render from the core's read-only
 * view, as any other observer's would; the commands that change something (`cancel job`,
 * `create function`, `drop function`, `maxqueue`) act on the state. Every command returns its
 * reply's bytes for the caller to send; `shutdown` is returned as a decision for the caller.
 */
export class AdminCommands {
  constructor(
    private readonly state: CoreState,
    private readonly view: CoreView,
    private readonly endings: JobEndings,
  ) {}

  /**
   * Runs one command line (a byte string, without its line end); `loopback` says whether it came
   * from a loopback peer (or from within the process), the only ones `shutdown` is taken from.
   */
  run(line: string, loopback: boolean): AdminOutcome {
    const parts = line.split(' ');
    const word = parts[0] ?? '';
    const rest = parts.slice(1).filter((p) => p !== '');
    if (word.toLowerCase() !== 'shutdown') return { reply: this.reply(word, rest) };
    const graceful = rest.length === 1 && rest[0]?.toLowerCase() === 'graceful';
    if (!loopback || !(rest.length === 0 || graceful)) {
      return { reply: AdminReply.unknownCommand(word) };
    }
    return { reply: AdminReply.ok(), shutdown: graceful ? 'graceful' : 'now' };
  }

  private reply(word: string, rest: readonly string[]): Buffer {
    const sub = (i: number): string => (rest[i] ?? '').toLowerCase();
    const options = this.state.options;
    switch (word.toLowerCase()) {
      case 'status':
        return this.status();
      case 'prioritystatus':
        return this.priorityStatus();
      case 'workers':
        return this.workers();
      case 'show':
        if (rest.length === 0) return AdminReply.unknownCommand(word);
        if (rest.length === 1 && sub(0) === 'jobs') return AdminReply.showJobs(this.jobRows());
        if (rest.length === 2 && sub(0) === 'unique' && sub(1) === 'jobs') {
          return AdminReply.showUniqueJobs(this.uniques());
        }
        return AdminReply.error('UNKNOWN_SHOW_ARGUMENTS');
      case 'cancel':
        if (sub(0) !== 'job' || rest.length < 2) return AdminReply.unknownCommand(word);
        if (rest.length > 2) return AdminReply.error('UNKNOWN_ERROR');
        return this.cancel(rest[1] ?? '');
      case 'create':
        if (rest.length !== 2 || sub(0) !== 'function') {
          return AdminReply.incompleteArguments('create');
        }
        // gearmand drops the last character of the name when the line ends in a bare \n;
        // we keep the whole name on purpose.
        return this.state.functionNamed(rest[1] ?? '') === undefined
          ? AdminReply.error('INVALID_FUNCTION_NAME', BAD_FUNCTION_NAME_TEXT)
          : AdminReply.ok();
      case 'drop':
        if (rest.length !== 2 || sub(0) !== 'function')
          return AdminReply.incompleteArguments('drop');
        return this.dropFunction(rest[1] ?? '');
      case 'maxqueue':
        if (rest.length === 0) return AdminReply.incompleteArguments('maxqueue');
        this.setMaxQueue(rest[0] ?? '', rest.slice(1));
        return AdminReply.ok();
      case 'getpid':
        return AdminReply.okValue(String(options.pid));
      case 'verbose':
        return AdminReply.okValue(options.verbose);
      case 'version':
        return AdminReply.okValue(options.version);
      default:
        return AdminReply.unknownCommand(word);
    }
  }

  /** Per function: queued plus running jobs (undue epoch jobs count as queued, as in gearmand). */
  private status(): Buffer {
    const rows = [];
    for (const fn of this.view.functions()) {
      const waiting = waitingJobs(fn);
      rows.push({
        name: fn.wireName,
        total: waiting.high + waiting.normal + waiting.low + fn.running,
        running: fn.running,
        workers: fn.workers,
      });
    }
    return AdminReply.status(rows);
  }

  /** Per function: jobs not running, by priority. */
  private priorityStatus(): Buffer {
    const rows = [];
    for (const fn of this.view.functions())
      rows.push({ name: fn.wireName, ...waitingJobs(fn), workers: fn.workers });
    return AdminReply.priorityStatus(rows);
  }

  private workers(): Buffer {
    const rows = [];
    for (const peer of this.view.peers()) {
      rows.push({
        fd: peer.fd,
        address: peer.address,
        clientId: peer.wireClientId,
        functions: peer.wireFunctions,
      });
    }
    return AdminReply.workers(rows);
  }

  /** Every job with a handle given out (pending ones have none yet), in handle order. */
  private *listedJobs(): Iterable<JobRecord> {
    let after: string | undefined;
    do {
      const page = this.view.jobs({ after, limit: LISTING_PAGE });
      for (const job of page.jobs) if (job.state !== 'pending') yield job;
      after = page.next;
    } while (after !== undefined);
  }

  private *jobRows(): Iterable<AdminJobRow> {
    for (const job of this.listedJobs()) {
      yield {
        handle: job.wireHandle,
        retries: job.retries,
        ignored: job.state === 'ignored',
        queued: job.background,
      };
    }
  }

  private *uniques(): Iterable<string> {
    for (const job of this.listedJobs()) yield job.wireUnique;
  }

  private cancel(handle: string): Buffer {
    return this.endings.cancel(this.state.jobByHandle(bytes(handle)))
      ? AdminReply.ok()
      : AdminReply.error('UNKNOWN_JOB');
  }

  private dropFunction(name: string): Buffer {
    const fn = this.state.functions.get(name);
    if (fn === undefined) return AdminReply.plainError('function not found');
    // Unlike gearmand we also refuse while jobs wait, so no queued job is orphaned.
    if (fn.workers > 0 || fn.total > 0) {
      return AdminReply.plainError('there are still connected workers or executing clients');
    }
    this.state.deleteFunction(fn);
    return AdminReply.ok();
  }

  /** One number = every priority; missing ones copy the one before; ≤ 0 = unlimited. */
  private setMaxQueue(name: string, values: readonly string[]): void {
    const fn = this.state.functions.get(name);
    if (fn === undefined) return;
    let previous = 0;
    for (let p = 0; p < 3; p++) {
      const text = values[p];
      const value = text === undefined ? previous : Math.max(0, atoi(text));
      fn.maxQueue[p] = value;
      previous = value;
    }
  }
}

/** A function's queued and delayed jobs together, by priority: what the listings call queued. */
function waitingJobs(fn: FunctionRecord): ByPriority {
  const queued = fn.queued;
  const delayed = fn.delayed;
  return {
    high: queued.high + delayed.high,
    normal: queued.normal + delayed.normal,
    low: queued.low + delayed.low,
  };
}
