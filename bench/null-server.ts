/**
 * The null server: the platform limit for background submits. It answers every SUBMIT_JOB_BG
 * (and the HIGH/LOW variants) with a JOB_CREATED carrying an incrementing handle and keeps
 * nothing — no job, no queue, no unique index. Whatever rate a load generator reaches against it
 * is what Node's `net` and this machine allow; a real server's rate divided by it says how much
 * of that the server leaves on the table.
 *
 *   node dist/bench/null-server.js [-L 127.0.0.1] [-p 4730]
 *
 * It parses by hand instead of with the project's Decoder: the Decoder makes a packet object
 * and argument views per packet, which is exactly the kind of cost this server must not have.
 * Replies to one incoming chunk leave in one write. ECHO_REQ is answered (a harmless probe);
 * any other packet gets an ERROR; bad magic, an absurd length or a text line gets an ERROR and
 * the connection closed. Nothing a peer sends can stop the server.
 */
import { createServer, type Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { PacketType, response } from '../src/protocol/index.js';

const HEADER = 12;
/** The largest payload accepted, as in the project's decoder. */
const MAX_PAYLOAD = 64 * 1024 * 1024;
const HANDLE_PREFIX = Buffer.from('H:null:', 'latin1');
/** Bytes of a JOB_CREATED with the longest handle this server can make (16 digits). */
const MAX_REPLY = HEADER + HANDLE_PREFIX.length + 16;
/** `\0RES`, JOB_CREATED: the first 8 bytes of every reply. */
const REPLY_START = Buffer.from([0, 0x52, 0x45, 0x53, 0, 0, 0, PacketType.JOB_CREATED]);

function isBackgroundSubmit(type: number): boolean {
  return (
    type === PacketType.SUBMIT_JOB_BG ||
    type === PacketType.SUBMIT_JOB_HIGH_BG ||
    type === PacketType.SUBMIT_JOB_LOW_BG
  );
}

/** The job handle counter, kept as ASCII digits and incremented in place. */
class HandleCounter {
  /** Digits, most significant first, right-aligned in the array. */
  private readonly digits = new Uint8Array(16).fill(0x30);
  private first = 15;

  /** Advances to the next number and returns where its digits start in {@link digits}. */
  next(): number {
    let i = 15;
    while (i >= 0 && this.digits[i] === 0x39) this.digits[i--] = 0x30;
    if (i < 0) throw new RangeError('handle counter overflow');
    this.digits[i] = (this.digits[i] as number) + 1;
    if (i < this.first) this.first = i;
    return this.first;
  }

  /** Writes the JOB_CREATED for the next handle at `pos` of `out`; returns its end. */
  writeReply(out: Buffer, pos: number): number {
    const first = this.next();
    const handleLength = HANDLE_PREFIX.length + 16 - first;
    for (let i = 0; i < REPLY_START.length; i++) out[pos + i] = REPLY_START[i] as number;
    out.writeUInt32BE(handleLength, pos + 8);
    let at = pos + HEADER;
    for (let i = 0; i < HANDLE_PREFIX.length; i++) out[at++] = HANDLE_PREFIX[i] as number;
    for (let i = first; i < 16; i++) out[at++] = this.digits[i] as number;
    return at;
  }
}

/** What is wrong with the packet at `pos`, if anything: bad magic or an absurd length. */
function badPacket(data: Buffer, pos: number): string | undefined {
  if (data[pos] !== 0) return 'the null server speaks the binary protocol only';
  if (data[pos + 1] !== 0x52 || data[pos + 2] !== 0x45 || data[pos + 3] !== 0x51)
    return 'packet magic is not \\0REQ';
  if (data.readUInt32BE(pos + 8) > MAX_PAYLOAD) return 'packet too large';
  return undefined;
}

/** One client connection: gathers split packets and answers each whole one. */
class NullConnection {
  /** Bytes of an unfinished packet, kept until `need` bytes are there. */
  private held: Buffer[] = [];
  private heldBytes = 0;
  private need = 0;

  constructor(
    private readonly socket: Socket,
    private readonly handles: HandleCounter,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', () => socket.destroy());
  }

  private receive(chunk: Buffer): void {
    let data = chunk;
    if (this.heldBytes > 0) {
      this.held.push(chunk);
      this.heldBytes += chunk.length;
      if (this.heldBytes < this.need) return;
      data = Buffer.concat(this.held, this.heldBytes);
      this.held = [];
      this.heldBytes = 0;
    }
    // First pass: how many whole background submits, so the replies fit one exact buffer.
    let submits = 0;
    let pos = 0;
    while (data.length - pos >= HEADER) {
      if (badPacket(data, pos) !== undefined) break;
      const end = pos + HEADER + data.readUInt32BE(pos + 8);
      if (end > data.length) break;
      if (isBackgroundSubmit(data.readUInt32BE(pos + 4))) submits++;
      pos = end;
    }
    const out = Buffer.allocUnsafe(submits * MAX_REPLY);
    const extra: Buffer[] = [];
    let outPos = 0;
    pos = 0;
    while (data.length - pos >= HEADER) {
      const problem = badPacket(data, pos);
      if (problem !== undefined) {
        this.flush(out, outPos, extra);
        this.socket.end(response(PacketType.ERROR, 'INVALID_PACKET', problem));
        return;
      }
      const end = pos + HEADER + data.readUInt32BE(pos + 8);
      if (end > data.length) break;
      const type = data.readUInt32BE(pos + 4);
      if (isBackgroundSubmit(type)) outPos = this.handles.writeReply(out, outPos);
      else {
        // Rare: keep the order of replies by cutting the run of JOB_CREATEDs here.
        extra.push(Buffer.from(out.subarray(0, outPos)));
        outPos = 0;
        extra.push(
          type === PacketType.ECHO_REQ
            ? response(PacketType.ECHO_RES, data.subarray(pos + HEADER, end))
            : response(
                PacketType.ERROR,
                'UNSUPPORTED',
                'the null server only answers background submits',
              ),
        );
      }
      pos = end;
    }
    if (pos < data.length) {
      if (data[pos] !== 0 && data.length - pos < HEADER) {
        this.flush(out, outPos, extra);
        this.socket.end(response(PacketType.ERROR, 'INVALID_PACKET', badPacket(data, pos) ?? ''));
        return;
      }
      const rest = Buffer.from(data.subarray(pos));
      this.held = [rest];
      this.heldBytes = rest.length;
      this.need = rest.length >= HEADER ? HEADER + rest.readUInt32BE(8) : HEADER;
    }
    this.flush(out, outPos, extra);
  }

  private flush(out: Buffer, outPos: number, extra: Buffer[]): void {
    if (extra.length === 0) {
      if (outPos > 0) this.socket.write(out.subarray(0, outPos));
      return;
    }
    if (outPos > 0) extra.push(out.subarray(0, outPos));
    this.socket.write(Buffer.concat(extra));
  }
}

/** Starts a null server; resolves with the port it listens on. */
export function startNullServer(host: string, port: number): Promise<number> {
  const handles = new HandleCounter();
  const server = createServer((socket) => new NullConnection(socket, handles));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, backlog: 4096 }, () => {
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : port);
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      listen: { type: 'string', short: 'L', default: '127.0.0.1' },
      port: { type: 'string', short: 'p', default: '4730' },
    },
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`null-server: bad port '${values.port}'`);
    process.exit(2);
  }
  startNullServer(values.listen, port).catch((err: unknown) => {
    console.error(`null-server: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
  process.once('SIGTERM', () => process.exit(0));
}
