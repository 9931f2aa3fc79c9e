/** Checks of the client's arguments: a bad one is a `TypeError`, thrown at the call. */
import { Priority } from '../protocol/packet-types.js';
import type { Workload } from './client-options.js';

/** Any thrown value as an Error. */
export function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/** A function name, client id or unique: a string without NUL bytes (and not empty unless allowed). */
export function checkName(name: unknown, what: string, allowEmpty = false): asserts name is string {
  if (typeof name !== 'string') throw new TypeError(`${what} must be a string`);
  if (!allowEmpty && name === '') throw new TypeError(`${what} must not be empty`);
  if (name.includes('\0')) throw new TypeError(`${what} must not contain NUL bytes`);
}

/** A workload: a string, Buffer or Uint8Array. */
export function checkWorkload(workload: unknown): asserts workload is Workload {
  if (typeof workload !== 'string' && !(workload instanceof Uint8Array))
    throw new TypeError('workload must be a string, Buffer or Uint8Array');
}

/** A unique id ('' when none), at most 64 bytes. */
export function checkUnique(unique: unknown): string {
  if (unique === undefined) return '';
  checkName(unique, 'unique', true);
  // gearmand refuses longer ones with ERROR ARGUMENT_TOO_LARGE; catching it here is clearer.
  if (Buffer.byteLength(unique) > 64) throw new TypeError('unique must be at most 64 bytes');
  return unique;
}

/** A priority by name or number, as gearmand's number. */
export function checkPriority(priority: unknown): Priority {
  switch (priority) {
    case undefined:
    case 'normal':
    case Priority.NORMAL:
      return Priority.NORMAL;
    case 'high':
    case Priority.HIGH:
      return Priority.HIGH;
    case 'low':
    case Priority.LOW:
      return Priority.LOW;
    default:
      throw new TypeError(`priority must be 'high', 'normal' or 'low', got ${String(priority)}`);
  }
}

/** A timeout: a positive number of ms. */
export function checkTimeout(timeout: unknown): void {
  if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0)
    throw new TypeError(`timeout must be a positive number of ms, got ${String(timeout)}`);
}
