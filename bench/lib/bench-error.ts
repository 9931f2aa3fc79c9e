import { GearboxError } from '../../src/protocol/errors.js';
import { PacketType, packetName, type Packet } from '../../src/protocol/index.js';

/** What can go wrong while benchmarking. */
export type BenchErrorCode =
  'BAD_OPTION' | 'SERVER_START' | 'SERVER_ERROR' | 'CONNECTION_LOST' | 'AGENT_FAILED' | 'TIMEOUT';

/** A benchmark run that cannot go on: bad options, a server that would not start, a lost peer. */
export class BenchError extends GearboxError<BenchErrorCode> {}

/** The error for a packet a load-generator role did not expect, with an ERROR's code and text. */
export function unexpectedPacket(role: string, packet: Packet): BenchError {
  const detail =
    packet.type === PacketType.ERROR ? `: ${packet.args.map((a) => a.toString()).join(' ')}` : '';
  return new BenchError('SERVER_ERROR', `${role} got ${packetName(packet.type)}${detail}`);
}
