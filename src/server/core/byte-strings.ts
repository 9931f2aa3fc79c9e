/*
 * Byte strings: the core keeps function names, uniques, client ids and handles as latin1 strings
 * (one character per byte), so any bytes a peer sends survive unchanged and compare as they
 * arrived. These helpers convert between them, bytes and readable text.
 */

/** An empty argument, for packets built by hand with fewer arguments than their type has. */
export const EMPTY = Buffer.alloc(0);

/** The bytes of a byte string. */
export function bytes(text: string): Buffer {
  return Buffer.from(text, 'latin1');
}

/** Argument `i` of a packet; a packet built by hand may carry fewer than its type has. */
export function argAt(args: readonly Buffer[], i: number): Buffer {
  return args[i] ?? EMPTY;
}

/** Whether a byte string is plain ASCII, so that its UTF-8 reading is itself. */
export function isAscii(value: string): boolean {
  // eslint-disable-next-line no-control-regex
  return /^[\x00-\x7f]*$/.test(value);
}

/** A byte string as readable text: UTF-8 names become the characters they spell. */
export function byteStringToText(value: string): string {
  return isAscii(value) ? value : Buffer.from(value, 'latin1').toString('utf8');
}

/** The inverse of {@link byteStringToText}: text as the byte string of its UTF-8 bytes. */
export function textToByteString(value: string): string {
  return isAscii(value) ? value : Buffer.from(value, 'utf8').toString('latin1');
}

/** Byte equality without a call into C++ (names are short). */
export function sameBytes(a: Buffer, b: Buffer): boolean {
  const n = a.length;
  if (n !== b.length) return false;
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Whether a peer may create a function of this name: NUL, CR and LF would end or forge rows of
 * the admin listings (`status`, `workers`). A TAB is allowed: Perl's Gearman::Worker joins its
 * `prefix` to the name with one, and gearmand takes it.
 */
export function acceptableFunctionName(name: string): boolean {
  return !/[\0\r\n]/.test(name);
}

/** C `atoi`: leading digits (optionally signed) or 0. */
export function atoi(text: string): number {
  const match = /^\s*([+-]?\d+)/.exec(text);
  return match?.[1] === undefined ? 0 : Number.parseInt(match[1], 10);
}
