import { encodePacket } from './encoder.js';
import { Magic, PacketType } from './packet-types.js';

/** An `ERROR` packet from the server: a code and a text, as gearmand sends them. */
export function errorFrame(code: string, text: string): Buffer {
  return encodePacket(Magic.RES, PacketType.ERROR, [code, text]);
}

/**
 * The text of the refusal of a function name that would break the admin listings, as an `ERROR`
 * packet and as an admin `ERR` line carry it.
 */
export const BAD_FUNCTION_NAME_TEXT =
  'Function name must not contain NUL, carriage return or newline';

/** gearmand's fixed `ERROR` replies, encoded once; never mutate them. */
export const ErrorFrames = {
  invalidMagic: errorFrame('INVALID_MAGIC', 'Request magic expected'),
  invalidCommand: errorFrame('INVALID_COMMAND', 'Command not expected'),
  uniqueTooLarge: errorFrame('ARGUMENT_TOO_LARGE', 'Unique value too large'),
  queueFull: errorFrame('QUEUE_ERROR', 'Job queue is full'),
  unknownOption: errorFrame('UNKNOWN_OPTION', 'Server does not recognize given option'),
  workResultNotFound: errorFrame('JOB_NOT_FOUND', 'Job given in work result not found'),
  workDataNotFound: errorFrame('JOB_NOT_FOUND', 'Job does not exist on server'),
  exceptionNotFound: errorFrame(
    'JOB_NOT_FOUND',
    'An exception was received for a job that does not exist',
  ),
  /** Ours: a SUBMIT_JOB_SCHED whose fields match no time (gearmand refuses the packet). */
  badSchedule: errorFrame('INVALID_ARGUMENT', 'Schedule matches no time'),
  /** Ours: a name with NUL, CR or LF (gearmand takes it and its listings break). */
  badFunctionName: errorFrame('INVALID_FUNCTION_NAME', BAD_FUNCTION_NAME_TEXT),
} as const;
