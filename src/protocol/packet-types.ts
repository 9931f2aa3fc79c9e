/**
 * The Gearman packet table: numbers, names, the magic each travels with, and how many
 * NUL-terminated fields precede the final opaque field.
 *
 * The argument counts are gearmand's (its server-side argument table), not the PROTOCOL text:
 * `SUBMIT_REDUCE_JOB` carries four NUL-terminated fields before the data (an aggregator that
 * libgearman sends empty), and `SUBMIT_JOB_SCHED` carries seven.
 */

/** Gearman packet type numbers, verbatim from the protocol. */
export const PacketType = {
  CAN_DO: 1,
  CANT_DO: 2,
  RESET_ABILITIES: 3,
  PRE_SLEEP: 4,
  UNUSED_5: 5,
  NOOP: 6,
  SUBMIT_JOB: 7,
  JOB_CREATED: 8,
  GRAB_JOB: 9,
  NO_JOB: 10,
  JOB_ASSIGN: 11,
  WORK_STATUS: 12,
  WORK_COMPLETE: 13,
  WORK_FAIL: 14,
  GET_STATUS: 15,
  ECHO_REQ: 16,
  ECHO_RES: 17,
  SUBMIT_JOB_BG: 18,
  ERROR: 19,
  STATUS_RES: 20,
  SUBMIT_JOB_HIGH: 21,
  SET_CLIENT_ID: 22,
  CAN_DO_TIMEOUT: 23,
  ALL_YOURS: 24,
  WORK_EXCEPTION: 25,
  OPTION_REQ: 26,
  OPTION_RES: 27,
  WORK_DATA: 28,
  WORK_WARNING: 29,
  GRAB_JOB_UNIQ: 30,
  JOB_ASSIGN_UNIQ: 31,
  SUBMIT_JOB_HIGH_BG: 32,
  SUBMIT_JOB_LOW: 33,
  SUBMIT_JOB_LOW_BG: 34,
  SUBMIT_JOB_SCHED: 35,
  SUBMIT_JOB_EPOCH: 36,
  SUBMIT_REDUCE_JOB: 37,
  SUBMIT_REDUCE_JOB_BACKGROUND: 38,
  GRAB_JOB_ALL: 39,
  JOB_ASSIGN_ALL: 40,
  GET_STATUS_UNIQUE: 41,
  STATUS_RES_UNIQUE: 42,
} as const;

/** A Gearman packet type number. */
export type PacketType = (typeof PacketType)[keyof typeof PacketType];

/** The highest packet type number gearmand knows; anything above closes the connection. */
export const MAX_PACKET_TYPE = 42;

/** Which way a packet travels: `\0REQ` towards the server, `\0RES` from it. */
export const Magic = { REQ: 'REQ', RES: 'RES' } as const;
/** `REQ` or `RES`. */
export type Magic = (typeof Magic)[keyof typeof Magic];

/** The 4 magic bytes of a request (`\0REQ`). */
export const REQ_MAGIC = Buffer.from([0, 0x52, 0x45, 0x51]);
/** The 4 magic bytes of a response (`\0RES`). */
export const RES_MAGIC = Buffer.from([0, 0x52, 0x45, 0x53]);

/** The size of a binary packet header: magic, type, length. */
export const HEADER_SIZE = 12;

/**
 * Number of NUL-terminated fields before the final field, indexed by packet type; `-1` for
 * packets with no arguments at all (their payload must be empty), and for unknown numbers.
 * A packet with `n` here carries `n + 1` arguments.
 */
const FIELD_COUNTS: readonly number[] = (() => {
  const counts = new Array<number>(MAX_PACKET_TYPE + 1).fill(-1);
  const set = (n: number, ...types: PacketType[]): void => {
    for (const t of types) counts[t] = n;
  };
  // one argument (the whole payload)
  set(
    0,
    PacketType.CAN_DO,
    PacketType.CANT_DO,
    PacketType.JOB_CREATED,
    PacketType.WORK_FAIL,
    PacketType.GET_STATUS,
    PacketType.ECHO_REQ,
    PacketType.ECHO_RES,
    PacketType.SET_CLIENT_ID,
    PacketType.OPTION_REQ,
    PacketType.OPTION_RES,
    PacketType.GET_STATUS_UNIQUE,
  );
  // two arguments
  set(
    1,
    PacketType.WORK_COMPLETE,
    PacketType.ERROR,
    PacketType.CAN_DO_TIMEOUT,
    PacketType.WORK_EXCEPTION,
    PacketType.WORK_DATA,
    PacketType.WORK_WARNING,
  );
  // three arguments
  set(
    2,
    PacketType.SUBMIT_JOB,
    PacketType.SUBMIT_JOB_BG,
    PacketType.SUBMIT_JOB_HIGH,
    PacketType.SUBMIT_JOB_HIGH_BG,
    PacketType.SUBMIT_JOB_LOW,
    PacketType.SUBMIT_JOB_LOW_BG,
    PacketType.JOB_ASSIGN,
    PacketType.WORK_STATUS,
  );
  set(3, PacketType.SUBMIT_JOB_EPOCH, PacketType.JOB_ASSIGN_UNIQ);
  set(4, PacketType.STATUS_RES, PacketType.SUBMIT_REDUCE_JOB);
  set(4, PacketType.SUBMIT_REDUCE_JOB_BACKGROUND, PacketType.JOB_ASSIGN_ALL);
  set(5, PacketType.STATUS_RES_UNIQUE);
  set(7, PacketType.SUBMIT_JOB_SCHED);
  return counts;
})();

/**
 * How many arguments a packet of this type carries (0 for argument-less packets such as
 * `GRAB_JOB`). Unknown types report 0.
 */
export function argumentCount(type: number): number {
  const n = FIELD_COUNTS[type];
  return n === undefined || n < 0 ? 0 : n + 1;
}

const NAMES: readonly string[] = (() => {
  const names = new Array<string>(MAX_PACKET_TYPE + 1).fill('');
  for (const [name, num] of Object.entries(PacketType)) names[num] = name;
  return names;
})();

/** The protocol name of a packet type (`SUBMIT_JOB`), or `UNKNOWN_<n>`. */
export function packetName(type: number): string {
  const name = NAMES[type];
  return name === undefined || name === '' ? `UNKNOWN_${type}` : name;
}

/** Packets the server sends; receiving one with `\0REQ` is `ERROR INVALID_COMMAND`. */
export const RESPONSE_TYPES: ReadonlySet<number> = new Set<number>([
  PacketType.NOOP,
  PacketType.JOB_CREATED,
  PacketType.NO_JOB,
  PacketType.JOB_ASSIGN,
  PacketType.ECHO_RES,
  PacketType.ERROR,
  PacketType.STATUS_RES,
  PacketType.OPTION_RES,
  PacketType.JOB_ASSIGN_UNIQ,
  PacketType.JOB_ASSIGN_ALL,
  PacketType.STATUS_RES_UNIQUE,
]);

/** Job priorities, with the numbers gearmand stores in its queue tables. */
export const Priority = { HIGH: 0, NORMAL: 1, LOW: 2 } as const;
/** 0 = high, 1 = normal, 2 = low. */
export type Priority = (typeof Priority)[keyof typeof Priority];

/** A priority by name, as people and JSON say it. */
export type PriorityName = 'high' | 'normal' | 'low';

/** The name of each {@link Priority}, by its number. */
export const PRIORITY_NAMES: readonly [PriorityName, PriorityName, PriorityName] = [
  'high',
  'normal',
  'low',
];
