import { ServerConnection } from '../connection/server-connection.js';
import { checkTransport, type Transport } from '../connection/transport.js';
import { ConnectionError, TimeoutError } from '../connection/errors.js';
import { formatAddress, parseServers, type ServerAddress } from '../connection/server-address.js';
import type { TextLine } from '../protocol/decoder.js';
import { GearboxError } from '../protocol/errors.js';
import {
  parseJobs,
  parsePriorityStatus,
  parseStatus,
  parseWorkers,
  type FunctionPriorityStatus,
  type FunctionStatus,
  type JobInfo,
  type WorkerInfo,
} from './admin-replies.js';

/** The server answered an admin command with `ERR CODE text`. */
export class AdminCommandError extends GearboxError<'ADMIN_ERROR'> {
  constructor(
    /** The word after `ERR`, e.g. `UNKNOWN_JOB`. */
    readonly serverCode: string,
    /** The rest of the line, with gearmand's `+` turned back into spaces. */
    readonly serverMessage: string,
    readonly command: string,
    /** Whether the line ended with `\r\n` (gearmand's ERR lines do; gearadmin prints the `\r`). */
    readonly crlf = false,
  ) {
    super(
      'ADMIN_ERROR',
      `'${command}' failed: ${serverCode}${serverMessage ? ` ${serverMessage}` : ''}`,
    );
  }
}

/** Where an {@link AdminClient} connects, and its limits. */
export interface AdminClientOptions {
  /** The server, as `host:port` or an address (default `127.0.0.1:4730`). */
  server?: string | ServerAddress;
  /** How long a command may wait for its reply, in ms (default 10000). */
  timeout?: number;
  /** How the connection is opened (default plain TCP); see {@link Transport}. */
  transport?: Transport;
  /** How long the connect may take, in ms (default 5000). */
  connectTimeout?: number;
}

/** Per-priority queue limits for `maxqueue`. */
export interface QueueLimits {
  high: number;
  normal: number;
  low: number;
}

interface PendingCommand {
  readonly command: string;
  readonly list: boolean;
  readonly lines: string[];
  /** For `shutdown`: the server closing the connection counts as success. */
  readonly closeIsSuccess: boolean;
  resolve(lines: string[]): void;
  reject(error: Error): void;
}

/**
 * Gearman's administrative text protocol (what `gearadmin` speaks), with parsed results.
 * Commands are pipelined on one connection and answered in order.
 *
 * @example
 * const admin = new AdminClient({ server: '127.0.0.1:4730' });
 * for (const f of await admin.status()) console.log(f.name, f.total, f.running, f.workers);
 * await admin.close();
 */
export class AdminClient {
  /** `host:port` of the server. */
  readonly server: string;
  private readonly address: ServerAddress;
  private readonly timeout: number;
  private readonly connectTimeout: number | undefined;
  private readonly transport: Transport | undefined;
  private connection: ServerConnection | undefined;
  private pending: PendingCommand[] = [];
  private closed = false;

  constructor(options: AdminClientOptions = {}) {
    if (options === null || typeof options !== 'object')
      throw new TypeError('options must be an object');
    const [address] = parseServers(options.server ?? '127.0.0.1');
    if (address === undefined) throw new TypeError('a server is needed');
    this.address = address;
    this.timeout = options.timeout ?? 10_000;
    if (!(this.timeout > 0)) throw new TypeError('timeout must be a positive number of ms');
    this.connectTimeout = options.connectTimeout;
    this.transport = options.transport;
    if (this.transport !== undefined) checkTransport(this.transport);
    this.server = formatAddress(address);
  }

  /** `status`: every function with its queued+running total, running count and workers. */
  async status(): Promise<FunctionStatus[]> {
    return parseStatus(await this.list('status'));
  }

  /** `prioritystatus`: queued (not running) jobs per priority for every function. */
  async priorityStatus(): Promise<FunctionPriorityStatus[]> {
    return parsePriorityStatus(await this.list('prioritystatus'));
  }

  /** `workers`: every connection with its client id and abilities. */
  async workers(): Promise<WorkerInfo[]> {
    return parseWorkers(await this.list('workers'));
  }

  /** `show jobs`: every job the server holds. */
  async showJobs(): Promise<JobInfo[]> {
    return parseJobs(await this.list('show jobs'));
  }

  /** `show unique jobs`: the unique id of every job ('' for jobs without one). */
  async showUniqueJobs(): Promise<string[]> {
    return this.list('show unique jobs');
  }

  /** `cancel job HANDLE`; rejects with an {@link AdminCommandError} (`UNKNOWN_JOB`) if absent. */
  async cancelJob(handle: string): Promise<void> {
    await this.single(`cancel job ${checkWord(handle, 'handle')}`);
  }

  /** `create function NAME`. */
  async createFunction(name: string): Promise<void> {
    await this.single(`create function ${checkWord(name, 'function name')}`);
  }

  /** `drop function NAME`; refused while workers or running jobs use it. */
  async dropFunction(name: string): Promise<void> {
    await this.single(`drop function ${checkWord(name, 'function name')}`);
  }

  /**
   * `maxqueue NAME [N | H N L]`: limits the queue (0 or less = unlimited; no size = back to
   * unlimited). gearmand silently ignores functions it does not know yet.
   */
  async maxQueue(name: string, size?: number | QueueLimits): Promise<void> {
    let command = `maxqueue ${checkWord(name, 'function name')}`;
    if (typeof size === 'number') command += ` ${checkInteger(size)}`;
    else if (size !== undefined) {
      if (size === null || typeof size !== 'object')
        throw new TypeError('size must be a number or { high, normal, low }');
      command += ` ${checkInteger(size.high)} ${checkInteger(size.normal)} ${checkInteger(size.low)}`;
    }
    await this.single(command);
  }

  /** `getpid`: the server's process id. */
  async getPid(): Promise<number> {
    return Number(okValue(await this.single('getpid')));
  }

  /** `verbose`: the server's log level, e.g. `INFO`. */
  async verbose(): Promise<string> {
    return okValue(await this.single('verbose'));
  }

  /** `version`: the server's version, e.g. `1.1.20+ds`. */
  async version(): Promise<string> {
    return okValue(await this.single('version'));
  }

  /**
   * `shutdown [graceful]`. gearmand 1.1.15+ no longer has it and answers `ERR UNKNOWN_COMMAND`,
   * which rejects; servers that do have it answer OK or just close the connection.
   */
  async shutdown(graceful = false): Promise<void> {
    await this.send(graceful ? 'shutdown graceful' : 'shutdown', false, true);
  }

  /**
   * Sends any command line. `list` says whether the reply is a list ended by `.`; resolves
   * with the reply lines (without the `.`).
   */
  async command(line: string, list: boolean): Promise<string[]> {
    if (typeof line !== 'string' || /[\r\n]/.test(line))
      throw new TypeError('command must be one line of text');
    return this.send(line, list, false);
  }

  /** Closes the connection; commands still waiting reject with a `ConnectionError`. */
  async close(): Promise<void> {
    this.closed = true;
    await this.connection?.close();
  }

  private list(command: string): Promise<string[]> {
    return this.send(command, true, false);
  }

  private async single(command: string): Promise<string> {
    const [line = ''] = await this.send(command, false, false);
    return line;
  }

  private async send(command: string, list: boolean, closeIsSuccess: boolean): Promise<string[]> {
    if (this.closed)
      throw new ConnectionError('CLOSED', 'the admin client was closed', this.server);
    const connection = this.connectionNow();
    await connection.connect();
    return new Promise<string[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new TimeoutError(
            `'${command}' got no reply from ${this.server} within ${this.timeout} ms`,
          ),
        );
        // Replies on this connection can no longer be matched to commands: start afresh.
        this.reset(connection);
      }, this.timeout);
      this.pending.push({
        command,
        list,
        lines: [],
        closeIsSuccess,
        resolve: (lines) => {
          clearTimeout(timer);
          resolve(lines);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      // \r\n: with a bare \n gearmand drops the last character of `create function` names.
      connection.send(Buffer.from(`${command}\r\n`, 'utf8'));
    });
  }

  private connectionNow(): ServerConnection {
    if (this.connection === undefined || this.connection.isClosed) {
      const connection: ServerConnection = new ServerConnection(
        this.address,
        {
          onPacket: () => undefined,
          onText: (line) => this.receive(line),
          onDisconnect: (error) => this.lost(connection, error),
        },
        { connectTimeout: this.connectTimeout, transport: this.transport },
      );
      this.connection = connection;
    }
    return this.connection;
  }

  private reset(connection: ServerConnection): void {
    if (this.connection === connection) this.connection = undefined;
    void connection.close();
  }

  private receive({ line, crlf }: TextLine): void {
    const head = this.pending[0];
    if (head === undefined) return;
    if (head.list && line !== '.' && !(head.lines.length === 0 && line.startsWith('ERR '))) {
      head.lines.push(line);
      return;
    }
    this.pending.shift();
    if (line.startsWith('ERR ') || line === 'ERR') {
      const [, code = '', ...rest] = line.split(' ');
      head.reject(
        new AdminCommandError(code, rest.join(' ').replace(/\+/g, ' '), head.command, crlf),
      );
    } else if (head.list) {
      head.resolve(head.lines);
    } else {
      head.resolve([line]);
    }
  }

  private lost(connection: ServerConnection, error: ConnectionError): void {
    if (this.connection === connection) this.connection = undefined;
    const pending = this.pending;
    this.pending = [];
    for (const command of pending) {
      if (command.closeIsSuccess) command.resolve([]);
      else command.reject(error);
    }
  }
}

function okValue(line: string): string {
  if (line === 'OK') return '';
  if (line.startsWith('OK ')) return line.slice(3);
  return line;
}

function checkWord(value: unknown, what: string): string {
  if (typeof value !== 'string' || value === '' || /[\s]/.test(value))
    throw new TypeError(`${what} must be a non-empty string without spaces or line breaks`);
  return value;
}

function checkInteger(value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value))
    throw new TypeError(`queue sizes must be integers, got ${String(value)}`);
  return value;
}
