/** One line of `status`: a function and its counts. */
export interface FunctionStatus {
  readonly name: string;
  /** Jobs queued plus running. */
  readonly total: number;
  readonly running: number;
  /** Workers that registered the function. */
  readonly workers: number;
}

/** One line of `prioritystatus`: queued (not running) jobs per priority. */
export interface FunctionPriorityStatus {
  readonly name: string;
  readonly high: number;
  readonly normal: number;
  readonly low: number;
  readonly workers: number;
}

/** One line of `workers`: a connection (worker, client or admin) and its abilities. */
export interface WorkerInfo {
  /** The server's file descriptor (or connection id) for it. */
  readonly fd: string;
  readonly ip: string;
  /** Its SET_CLIENT_ID, or `-`. */
  readonly clientId: string;
  readonly functions: string[];
}

/** One line of `show jobs`. */
export interface JobInfo {
  readonly handle: string;
  readonly retries: number;
  /** Abandoned by its clients or cancelled, waiting to be skipped. */
  readonly ignored: boolean;
  /** A background (persisted) job rather than a foreground one. */
  readonly queued: boolean;
}

function count(text: string | undefined, line: string): number {
  const n = Number(text);
  if (text === undefined || text === '' || !Number.isInteger(n))
    throw new SyntaxError(`unexpected admin reply line: ${JSON.stringify(line)}`);
  return n;
}

/** Splits `NAME\tA\tB…`, keeping tabs inside the name (the counts are the last fields). */
function splitCounts(line: string, counts: number): { name: string; values: number[] } {
  const fields = line.split('\t');
  if (fields.length < counts + 1)
    throw new SyntaxError(`unexpected admin reply line: ${JSON.stringify(line)}`);
  const values = fields.slice(-counts).map((f) => count(f, line));
  return { name: fields.slice(0, -counts).join('\t'), values };
}

/** Parses the body of a `status` reply (without the final `.`). */
export function parseStatus(lines: readonly string[]): FunctionStatus[] {
  return lines.map((line) => {
    const { name, values } = splitCounts(line, 3);
    const [total = 0, running = 0, workers = 0] = values;
    return { name, total, running, workers };
  });
}

/** Parses the body of a `prioritystatus` reply. */
export function parsePriorityStatus(lines: readonly string[]): FunctionPriorityStatus[] {
  return lines.map((line) => {
    const { name, values } = splitCounts(line, 4);
    const [high = 0, normal = 0, low = 0, workers = 0] = values;
    return { name, high, normal, low, workers };
  });
}

/** Parses the body of a `workers` reply: `FD IP ID : F1 F2…`. */
export function parseWorkers(lines: readonly string[]): WorkerInfo[] {
  return lines.map((line) => {
    // The address may be IPv6 (`::1`), so look for ` :` only after the first two fields.
    const fdEnd = line.indexOf(' ');
    const ipEnd = fdEnd === -1 ? -1 : line.indexOf(' ', fdEnd + 1);
    const rest = ipEnd === -1 ? '' : line.slice(ipEnd + 1);
    const colon = rest === ':' || rest.startsWith(': ') ? -1 : rest.indexOf(' :');
    if (ipEnd === -1 || (colon === -1 && !rest.startsWith(':')))
      throw new SyntaxError(`unexpected workers line: ${JSON.stringify(line)}`);
    const clientId = colon === -1 ? '' : rest.slice(0, colon);
    const functions = rest
      .slice(colon === -1 ? 1 : colon + 2)
      .split(' ')
      .filter((f) => f !== '');
    return { fd: line.slice(0, fdEnd), ip: line.slice(fdEnd + 1, ipEnd), clientId, functions };
  });
}

/** Parses the body of a `show jobs` reply. */
export function parseJobs(lines: readonly string[]): JobInfo[] {
  return lines.map((line) => {
    const { name, values } = splitCounts(line, 3);
    const [retries = 0, ignored = 0, queued = 0] = values;
    return { handle: name, retries, ignored: ignored !== 0, queued: queued !== 0 };
  });
}
