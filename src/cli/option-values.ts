/**
 * Option values of the `gearbox` commands, read one way everywhere: each reader names the
 * option as it was written (`-p`, `--port`) in its {@link UsageError}.
 */
import { UsageError } from './usage-error.js';

/** A whole number from `min` to `max` (gearmand's numeric flags). */
export function wholeNumber(shown: string, value: string, min: number, max: number): number {
  if (!/^-?\d+$/.test(value.trim()))
    throw new UsageError('BAD_VALUE', `${shown}: '${value}' is not a whole number`);
  const n = Number(value);
  if (n < min || n > max)
    throw new UsageError('BAD_VALUE', `${shown}: ${n} is out of range (${min}…${max})`);
  return n;
}

/** A TCP port, 1…65535. */
export function portNumber(shown: string, value: string): number {
  return wholeNumber(shown, value, 1, 65535);
}

const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** A byte count, optionally with a K/M/G (binary) suffix: `65536`, `64M`, `1g`. */
export function byteSize(shown: string, value: string): number {
  const match = /^(\d+)\s*([kmg]?)(?:i?b)?$/i.exec(value.trim());
  const unit = SIZE_UNITS[(match?.[2] ?? '').toLowerCase()];
  if (!match || unit === undefined)
    throw new UsageError('BAD_VALUE', `${shown}: '${value}' is not a size (e.g. 65536, 64K, 64M)`);
  const n = Number(match[1]) * unit;
  if (n < 1 || n > 2 ** 32 - 1)
    throw new UsageError('BAD_VALUE', `${shown}: ${value} is out of range (1 byte … 4 GiB)`);
  return n;
}

/** A byte count as `--help` shows it: `64M` rather than 67108864. */
export function formatSize(bytes: number): string {
  for (const [unit, size] of [
    ['G', 1024 ** 3],
    ['M', 1024 ** 2],
    ['K', 1024],
  ] as const)
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  return String(bytes);
}

/** A non-negative number of seconds, fractions allowed (`0.5`). */
export function seconds(shown: string, value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0)
    throw new UsageError('BAD_VALUE', `${shown} must be a number of seconds`);
  return n;
}

/** A whole number of at least 1. */
export function positiveInteger(shown: string, value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 1)
    throw new UsageError('BAD_VALUE', `${shown} must be a positive integer`);
  return n;
}
