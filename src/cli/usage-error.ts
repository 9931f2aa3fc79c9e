import { GearboxError } from '../protocol/errors.js';

/** Why a command line cannot be used. */
export type UsageErrorCode =
  'UNKNOWN_FLAG' | 'MISSING_VALUE' | 'BAD_VALUE' | 'REPEATED' | 'UNSUPPORTED';

/**
 * A command line a `gearbox` command cannot run with: an unknown option, a missing or bad
 * value, an option given twice that may be given once. `main` prints it as one line in the
 * shared format ({@link usageLine}) and exits with status 2.
 */
export class UsageError extends GearboxError<UsageErrorCode> {}

/**
 * The one format of a usage error, for every command:
 * `gearbox server: unknown option --bogus (see gearbox server --help)`.
 */
export function usageLine(command: string | undefined, message: string): string {
  const name = command === undefined ? 'gearbox' : `gearbox ${command}`;
  return `${name}: ${message} (see ${name} --help)`;
}
