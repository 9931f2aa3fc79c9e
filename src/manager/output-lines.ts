/** Splitting a child's output into lines (to prefix them) and keeping the tail of its stderr. */

/** Lines longer than this are cut into pieces, so one endless line cannot grow without bound. */
const MAX_LINE = 16 * 1024;

/** Turns chunks into complete lines, keeping a partial last line for the next chunk. */
export class LineSplitter {
  private partial = '';

  /** The complete lines in `chunk` (without their `\n`; a `\r` before it is dropped too). */
  push(chunk: Buffer | string): string[] {
    const text = this.partial + chunk.toString();
    const lines = text.split('\n');
    this.partial = lines.pop() ?? '';
    const out: string[] = [];
    for (const line of lines) out.push(...cut(line.endsWith('\r') ? line.slice(0, -1) : line));
    if (this.partial.length > MAX_LINE) {
      out.push(...cut(this.partial));
      this.partial = '';
    }
    return out;
  }

  /** What is left once the stream has ended (a last line without `\n`), if anything. */
  flush(): string[] {
    const rest = this.partial;
    this.partial = '';
    return rest === '' ? [] : cut(rest);
  }
}

function cut(line: string): string[] {
  if (line.length <= MAX_LINE) return [line];
  const pieces: string[] = [];
  for (let i = 0; i < line.length; i += MAX_LINE) pieces.push(line.slice(i, i + MAX_LINE));
  return pieces;
}

/** The last `size` lines seen (each cut to 300 characters), for the log line of a death. */
export class Tail {
  private readonly lines: string[] = [];

  constructor(private readonly size = 10) {}

  add(line: string): void {
    this.lines.push(line.length > 300 ? `${line.slice(0, 300)}…` : line);
    if (this.lines.length > this.size) this.lines.shift();
  }

  get(): string[] {
    return [...this.lines];
  }
}
