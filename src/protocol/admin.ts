/**
 * The bytes of gearmand's administrative text protocol replies (reference §10), built from plain
 * rows so that the server core only decides *what* to answer.
 *
 * Every string here is a byte string: one character per byte (latin1), exactly as the names
 * arrived on the wire. Line endings follow gearmand: list bodies, the closing `.` and
 * `OK <value>` end in `\n`; a bare `OK` and every `ERR` line end in `\r\n`. Error texts use `+`
 * instead of spaces.
 */

/** One line of `status`. */
export interface AdminStatusRow {
  readonly name: string;
  /** Queued plus running jobs, including undue epoch jobs and ignored ones. */
  readonly total: number;
  readonly running: number;
  /** Registered capable workers (ability entries), idle or not. */
  readonly workers: number;
}

/** One line of `prioritystatus`: queued (not running) jobs per priority. */
export interface AdminPriorityStatusRow {
  readonly name: string;
  readonly high: number;
  readonly normal: number;
  readonly low: number;
  readonly workers: number;
}

/** One line of `workers`: every connection, workers or not. */
export interface AdminWorkerRow {
  /** gearmand prints the socket's file descriptor. */
  readonly fd: number;
  readonly address: string;
  /** The SET_CLIENT_ID label, `-` when none was set. */
  readonly clientId: string;
  /** The connection's abilities, in the order it would be served (newest CAN_DO first). */
  readonly functions: readonly string[];
}

/** One line of `show jobs`. */
export interface AdminJobRow {
  readonly handle: string;
  readonly retries: number;
  readonly ignored: boolean;
  /** True for background (queued-to-store) jobs, false for foreground ones. */
  readonly queued: boolean;
}

/**
 * A name as one listing field: NUL, CR and LF become `?`, so no name a peer chose (a client id, a
 * unique, a function replayed from an old store) can end a row early or forge one.
 */
function field(text: string): string {
  return /[\0\r\n]/.test(text) ? text.replace(/[\0\r\n]/g, '?') : text;
}

function bytes(text: string): Buffer {
  return Buffer.from(text, 'latin1');
}

function list(lines: Iterable<string>): Buffer {
  let out = '';
  for (const line of lines) out += `${line}\n`;
  return bytes(`${out}.\n`);
}

function* map<T>(rows: Iterable<T>, line: (row: T) => string): Iterable<string> {
  for (const row of rows) yield line(row);
}

const OK = bytes('OK\r\n');

/**
 * Builders for every admin reply; the returned buffers are fresh, except `ok()` which returns a
 * shared constant that must not be mutated.
 */
export const AdminReply = {
  /** `NAME\tTOTAL\tRUNNING\tWORKERS\n` per function, then `.\n`. */
  status(rows: Iterable<AdminStatusRow>): Buffer {
    return list(map(rows, (r) => `${field(r.name)}\t${r.total}\t${r.running}\t${r.workers}`));
  },

  /** `NAME\tHIGH\tNORMAL\tLOW\tWORKERS\n` per function, then `.\n`. */
  priorityStatus(rows: Iterable<AdminPriorityStatusRow>): Buffer {
    return list(
      map(rows, (r) => `${field(r.name)}\t${r.high}\t${r.normal}\t${r.low}\t${r.workers}`),
    );
  },

  /** `FD IP ID :` plus ` FUNC` per ability, per connection, then `.\n`. */
  workers(rows: Iterable<AdminWorkerRow>): Buffer {
    return list(
      map(rows, (r) => {
        let line = `${r.fd} ${r.address} ${field(r.clientId)} :`;
        for (const name of r.functions) line += ` ${field(name)}`;
        return line;
      }),
    );
  },

  /** `HANDLE\tRETRIES\tIGNORED\tQUEUED\n` per job, then `.\n`. */
  showJobs(rows: Iterable<AdminJobRow>): Buffer {
    return list(
      map(rows, (r) => `${r.handle}\t${r.retries}\t${r.ignored ? 1 : 0}\t${r.queued ? 1 : 0}`),
    );
  },

  /** One unique id per line (an empty line for an empty unique), then `.\n`. */
  showUniqueJobs(uniques: Iterable<string>): Buffer {
    return list(map(uniques, field));
  },

  /** A bare `OK\r\n`. */
  ok(): Buffer {
    return OK;
  },

  /** `OK <value>\n`, as `getpid`, `verbose` and `version` answer. */
  okValue(value: string): Buffer {
    return bytes(`OK ${value}\n`);
  },

  /** `ERR <CODE>[ <text with + for spaces>]\r\n`. */
  error(code: string, text?: string): Buffer {
    return bytes(
      text === undefined ? `ERR ${code}\r\n` : `ERR ${code} ${text.replace(/ /g, '+')}\r\n`,
    );
  },

  /** `ERR <text>\r\n` with the text as it is (`drop function` answers so, spaces and all). */
  plainError(text: string): Buffer {
    return bytes(`ERR ${text}\r\n`);
  },

  /** gearmand's answer to a command it does not know: the word follows with no separator. */
  unknownCommand(word: string): Buffer {
    return AdminReply.error('UNKNOWN_COMMAND', `Unknown server command${word}`);
  },

  /** gearmand's answer to a known command with the wrong number of arguments. */
  incompleteArguments(command: string): Buffer {
    return AdminReply.error(
      'INVALID_ARGUMENTS',
      `An incomplete set of arguments was sent to this command ${command}`,
    );
  },
} as const;
