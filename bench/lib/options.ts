/** Parsing of the benchmarks' command-line options. */
import { BenchError } from './bench-error.js';

/** A whole number option (0 or more), or `fallback` when it is not given. */
export function positiveInt(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0)
    throw new BenchError('BAD_OPTION', `${name} wants a whole number, got '${text}'`);
  return n;
}

/** A comma-separated choice from `allowed` (`all` = every one), or `fallback` when not given. */
export function pickList<T extends string>(
  name: string,
  text: string | undefined,
  allowed: readonly T[],
  fallback: readonly T[] = allowed,
): T[] {
  if (text === undefined) return [...fallback];
  if (text === 'all') return [...allowed];
  const chosen = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const item of chosen) {
    if (!(allowed as readonly string[]).includes(item))
      throw new BenchError(
        'BAD_OPTION',
        `${name}: unknown '${item}' (choose from ${allowed.join(', ')})`,
      );
  }
  return chosen as T[];
}

/** A comma-separated list of whole numbers (points of a figure), or `fallback`. */
export function numberList(
  name: string,
  text: string | undefined,
  fallback: readonly number[],
): number[] {
  if (text === undefined) return [...fallback];
  const list = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => positiveInt(name, s, 0));
  if (list.length === 0) throw new BenchError('BAD_OPTION', `${name}: no points`);
  return list;
}
