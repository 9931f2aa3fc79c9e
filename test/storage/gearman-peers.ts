/**
 * Talking to a running job server (gearmand or gearbox) from storage tests: background
 * submissions with Debian's `gearman` tool or raw packets, admin commands, and a raw worker that
 * drains a function.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { PacketType } from '../../src/protocol/packet-types.js';
import { request } from '../../src/protocol/encoder.js';
import { tools } from '../helpers/services.js';
import { RawPeer } from '../helpers/raw-peer.js';

/** Which `gearman -b` flag gives which priority. */
export const priorityFlag = { 0: ['-I'], 1: [], 2: ['-L'] } as const;

/** Submits a background job with Debian's `gearman` tool, data on stdin (binary-safe). */
export async function gearmanSubmit(
  port: number,
  fn: string,
  unique: string,
  priority: 0 | 1 | 2,
  data: Buffer,
): Promise<void> {
  const child = spawn(
    tools.gearman,
    [
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      '-b',
      ...priorityFlag[priority],
      '-f',
      fn,
      '-u',
      unique,
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(data);
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearTimeout(timer);
  assert.equal(code, 0, `gearman -b -f ${fn} -u ${unique} failed: ${stderr}`);
}

/** Submits SUBMIT_JOB_EPOCH over a raw connection and waits for JOB_CREATED. */
export async function epochSubmit(
  port: number,
  fn: string,
  unique: string,
  when: number,
  data: Buffer,
): Promise<Buffer> {
  const peer = await RawPeer.connect(port);
  try {
    peer.write(request(PacketType.SUBMIT_JOB_EPOCH, fn, unique, String(when), data));
    const reply = await peer.nextPacket(10_000);
    assert.equal(reply.type, PacketType.JOB_CREATED, `epoch submit answered ${reply.type}`);
    return reply.args[0] ?? Buffer.alloc(0);
  } finally {
    peer.close();
  }
}

/** Sends one admin command and returns its reply up to the closing `.` line. */
export async function adminList(port: number, command: string): Promise<string[]> {
  const peer = await RawPeer.connect(port, 'text');
  try {
    peer.write(`${command}\r\n`);
    const text = await peer.readUntilMatch(/(^|\n)\.\n/, 10_000);
    return text.split('\n').slice(0, -2);
  } finally {
    peer.close();
  }
}

/** A job as a worker received it. */
export interface AssignedJob {
  readonly fn: string;
  readonly unique: string;
  readonly data: Buffer;
}

/**
 * Grabs every job of `fn` that is available now (GRAB_JOB_UNIQ until NO_JOB), completing each,
 * or — with `complete: false` — keeping them (the connection stays open until `close()`).
 */
export async function drain(
  port: number,
  fn: string,
  options: { complete?: boolean; max?: number } = {},
): Promise<{ jobs: AssignedJob[]; close(): void }> {
  const peer = await RawPeer.connect(port);
  peer.write(request(PacketType.CAN_DO, fn));
  const jobs: AssignedJob[] = [];
  const max = options.max ?? 1_000_000;
  for (let i = 0; i < max; i++) {
    peer.write(request(PacketType.GRAB_JOB_UNIQ));
    let reply = await peer.nextPacket(10_000);
    // A NOOP may arrive when a job was queued meanwhile; the GRAB's answer follows.
    for (let n = 0; reply.type === PacketType.NOOP && n < 10; n++)
      reply = await peer.nextPacket(10_000);
    if (reply.type === PacketType.NO_JOB) break;
    assert.equal(reply.type, PacketType.JOB_ASSIGN_UNIQ, `GRAB_JOB_UNIQ answered ${reply.type}`);
    const [handle, name, unique, data] = reply.args;
    assert.ok(handle && name && unique && data);
    jobs.push({ fn: name.toString(), unique: unique.toString(), data });
    if (options.complete !== false) peer.write(request(PacketType.WORK_COMPLETE, handle, ''));
  }
  if (options.complete !== false) {
    // A round trip, so the server has handled every WORK_COMPLETE before we hang up.
    peer.write(request(PacketType.ECHO_REQ, 'sync'));
    let reply = await peer.nextPacket(10_000);
    for (let n = 0; reply.type !== PacketType.ECHO_RES && n < 10; n++)
      reply = await peer.nextPacket(10_000);
  }
  return { jobs, close: () => peer.close() };
}
